"""The warm path stays cheap: a cache hit imports nothing heavy and prints nothing of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import FAKE_ARGS, make_fake_env

#: Modules a cache hit must never import (each costs milliseconds or more).
FORBIDDEN_ON_WARM_PATH = (
    "rattler",
    "asyncio",
    "pluggy",
    "importlib.metadata",
    "argparse",
    "json",
    "re",
    "typing",
    "dataclasses",
    "filelock",
    "yaml",
    "tomlkit",
    "packaging",
    "hashlib",
    "tempfile",
    "shutil",
    "subprocess",
    "ce.cli",
    "ce.cache",
    "ce.plugins",
)

ENTRY = "import sys; from ce.__main__ import main; sys.exit(main())"


def _imported_modules(stderr: str) -> set[str]:
    modules = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip())
    return modules


def test_warm_run_imports_nothing_heavy(ce_home: Path) -> None:
    make_fake_env(ce_home, "faketool", 'echo "ran $*"')
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", ENTRY, *FAKE_ARGS, "faketool", "a", "b"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ran a b\n"
    imported = _imported_modules(result.stderr)
    assert "ce.fastpath" in imported
    leaked = sorted(
        name for name in imported if name.split(".")[0] in FORBIDDEN_ON_WARM_PATH or name in FORBIDDEN_ON_WARM_PATH
    )
    assert leaked == []


def test_warm_run_prints_nothing_of_its_own(ce_home: Path) -> None:
    make_fake_env(ce_home, "faketool", "echo out; echo err >&2")
    result = subprocess.run(
        [sys.executable, "-c", ENTRY, *FAKE_ARGS, "faketool"], capture_output=True, text=True, env=dict(os.environ)
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "out\n", "err\n")


def test_warm_run_touches_history_at_most_hourly(ce_home: Path) -> None:
    prefix = make_fake_env(ce_home, "faketool", "true")
    history = prefix / "conda-meta" / "history"
    recent = history.stat().st_mtime - 600
    os.utime(history, (recent, recent))
    subprocess.run([sys.executable, "-c", ENTRY, *FAKE_ARGS, "faketool"], check=True, env=dict(os.environ))
    assert history.stat().st_mtime == recent  # touched less than an hour ago: left alone
    old = recent - 7200
    os.utime(history, (old, old))
    subprocess.run([sys.executable, "-c", ENTRY, *FAKE_ARGS, "faketool"], check=True, env=dict(os.environ))
    assert history.stat().st_mtime > recent


def test_warm_run_puts_the_environment_first_on_path(ce_home: Path) -> None:
    prefix = make_fake_env(ce_home, "faketool", 'echo "$PATH"')
    result = subprocess.run(
        [sys.executable, "-c", ENTRY, *FAKE_ARGS, "faketool"], capture_output=True, text=True, env=dict(os.environ)
    )
    assert result.stdout.split(os.pathsep)[0] == str(prefix / "bin")
