"""The long mixed-load test: runs, ``--refresh``, ``--clean --all`` and auto-clean at once.

Skipped unless selected: ``pytest -m stress tests/hostile -n0`` (``CE_STRESS_SECONDS`` sets the length, default 60).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from hostile.support import HELLO_SCRIPT, assert_ok, leftovers, run, script_folder

pytestmark = [pytest.mark.slow, pytest.mark.stress]


def test_mixed_load_has_no_failed_run_and_no_traceback(tmp_path: Path, channel_url: str, ce_home: Path) -> None:
    """>= 60 s of concurrent tool runs (auto-clean every run), script runs, refreshes and full cleanups."""
    seconds = float(os.environ.get("CE_STRESS_SECONDS", "60"))
    base = dict(os.environ, CONDA_CHANNELS=channel_url)
    auto = dict(base, CONDA_EXEC_AUTO_CLEAN="1", CONDA_EXEC_CLEAN_INTERVAL="1", CONDA_EXEC_CLEAN_AGE="0.00001")
    tool = ["-c", channel_url, "--override-channels", "--from", "exit-with", "exit-with", "env", "CE_STRESS"]
    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    counts: Counter[str] = Counter()
    failures: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop(kind: str, args: list[str], env: dict[str, str], expect: str | None, pause: float = 0.0) -> None:
        while time.monotonic() < deadline:
            result = run(*args, env=env, cwd=folder, timeout=300)
            problem = None
            if result.returncode != 0:
                problem = f"{kind}: exit {result.returncode}: {result.stderr[-1500:]}"
            elif "Traceback" in result.stderr or "panicked" in result.stderr:
                problem = f"{kind}: {result.stderr[-1500:]}"
            elif expect is not None and expect not in result.stdout:
                problem = f"{kind}: missing {expect!r} in {result.stdout[-500:]!r}"
            with lock:
                counts[kind] += 1
                if problem:
                    failures.append(problem)
            time.sleep(pause)

    tool_env = dict(auto, CE_STRESS="stress-ok")
    workers = [
        threading.Thread(target=loop, args=("run", tool, tool_env, "stress-ok")),
        threading.Thread(target=loop, args=("run", tool, dict(base, CE_STRESS="stress-ok"), "stress-ok")),
        threading.Thread(target=loop, args=("script", ["s.sh"], auto, "hello from hello-tool")),
        threading.Thread(target=loop, args=("refresh", ["--refresh", *tool], tool_env, "stress-ok", 0.5)),
        threading.Thread(target=loop, args=("clean", ["--clean", "--all", "-y"], base, None, 1.0)),
    ]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=seconds + 600)
    assert time.monotonic() - started >= seconds
    assert failures == [], "\n".join(failures[:5])
    assert counts["run"] >= 10 and counts["refresh"] >= 2 and counts["clean"] >= 5 and counts["script"] >= 5, counts
    assert_ok(run("--clean", "--all", "-y", env=base))
    assert leftovers(ce_home) == []
