"""Concurrency and interruption: builds, refreshes and cleanups never break one another."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_ce

pytestmark = pytest.mark.slow


def _ce_command(channel_url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "ce", "-c", channel_url, "--override-channels", *args]


def _leftovers(home: Path) -> list[str]:
    envs = home / "envs"
    if not envs.exists():
        return []
    names = [p.name for p in envs.iterdir() if p.name.startswith((".build-", ".trash-"))]
    names += [p.name for p in (envs / ".locks").glob("*.tmp")] if (envs / ".locks").exists() else []
    return names


def test_concurrent_first_runs_refreshes_and_cleanups(channel_url: str, ce_home: Path) -> None:
    """16 first runs at once, with --refresh and --clean loops alongside: every run succeeds,
    and every run executes from the complete environment (never a .build- or .trash- directory)."""
    tool = ["--from", "exit-with", "exit-with", "env", "PATH"]
    started = time.monotonic()
    runs = [
        subprocess.Popen(_ce_command(channel_url, *tool), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(16)
    ]
    loops = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import subprocess, sys\n"
                f"for _ in range(6): subprocess.run({[*_ce_command(channel_url, '--refresh', *tool)]!r}, "
                "stdout=sys.stdout, stderr=sys.stderr, check=True)",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import subprocess, sys, time\n"
                "for _ in range(12):\n"
                f"    subprocess.run({[sys.executable, '-m', 'ce', '--clean', '--all', '-y']!r}, "
                "stdout=subprocess.DEVNULL, stderr=sys.stderr, check=True)\n"
                "    time.sleep(0.05)",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ),
    ]
    outputs = []
    for process in runs + loops:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        outputs.append(out)
    first_path_entries = [line.split(os.pathsep)[0] for out in outputs for line in out.splitlines() if line]
    assert len(first_path_entries) == 16 + 6
    for entry in first_path_entries:
        parent = Path(entry).parent
        assert parent.parent == ce_home / "envs", entry
        assert parent.name.startswith("exit-with--"), entry  # never .build-… or .trash-…
    assert time.monotonic() - started < 300
    assert run_ce("--clean", "--all", "-y").returncode == 0
    assert _leftovers(ce_home) == []


def test_builds_killed_at_random_moments_leave_nothing_usable_behind(channel_url: str, ce_home: Path) -> None:
    """20 builds killed with SIGKILL; then one run succeeds and a cleanup leaves no leftovers."""
    randomizer = random.Random(20261122)
    tool = ["--from", "python-dateutil", "python", "-c", "import dateutil; print(dateutil.__version__)"]
    for _ in range(20):
        process = subprocess.Popen(
            _ce_command(channel_url, "--refresh", *tool),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(randomizer.uniform(0.0, 0.6))
        with contextlib.suppress(ProcessLookupError):  # it may have finished already
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    result = subprocess.run(_ce_command(channel_url, *tool), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2.9.0.post0"
    # Leftovers of killed builds are never listed as environments ...
    listed = run_ce("--list", "--json").stdout
    assert ".build-" not in listed and ".trash-" not in listed
    # ... and the next cleanup sweeps them (stale temporary files of killed writes included).
    for leftover in (ce_home / "envs" / ".locks").glob("*.tmp"):
        os.utime(leftover, (time.time() - 7200, time.time() - 7200))
    assert run_ce("--clean", "--older-than", "365", "-y").returncode == 0
    assert _leftovers(ce_home) == []
