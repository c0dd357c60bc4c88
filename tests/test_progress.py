"""Progress on the cold path: shown on a terminal, absent in a pipe, silenced by -q."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from conftest import run_ce


def _stderr_on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "ce", *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower, env=env
    )
    os.close(follower)
    captured = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            captured += chunk
        elif process.poll() is not None:
            break
    os.close(leader)
    stdout = process.stdout.read().decode() if process.stdout else ""
    return process.wait(), stdout, captured.decode(errors="replace")


def test_progress_is_shown_on_a_terminal(channel_url: str, tmp_path: Path) -> None:
    env = dict(os.environ, RATTLER_CACHE_DIR=str(tmp_path / "empty-cache"))
    code, stdout, stderr = _stderr_on_a_terminal(
        ["-c", channel_url, "--override-channels", "--from", "pyflakes", "pyflakes", "--version"], env
    )
    assert code == 0 and stdout.startswith("3.4.0")
    assert "installing packages" in stderr  # rattler's progress display
    assert "ce: created pyflakes--" in stderr and "(2 packages)" in stderr  # the one-line summary


def test_no_progress_in_a_pipe(channel_url: str, tmp_path: Path) -> None:
    env = dict(os.environ, RATTLER_CACHE_DIR=str(tmp_path / "empty-cache"))
    result = run_ce("-c", channel_url, "--override-channels", "--from", "hello-tool", "hello", env=env)
    assert result.returncode == 0
    assert result.stderr.splitlines() == [line for line in result.stderr.splitlines() if line.startswith("ce: created")]
    assert "\x1b[" not in result.stderr and "installing packages" not in result.stderr


def test_quiet_silences_progress_and_summary(channel_url: str, tmp_path: Path) -> None:
    env = dict(os.environ, RATTLER_CACHE_DIR=str(tmp_path / "empty-cache"))
    code, stdout, stderr = _stderr_on_a_terminal(
        ["-q", "-c", channel_url, "--override-channels", "--from", "pyflakes", "pyflakes", "--version"], env
    )
    assert code == 0 and stdout.startswith("3.4.0")
    assert stderr == ""
