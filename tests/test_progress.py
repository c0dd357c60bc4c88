"""Progress on the cold path: shown on a terminal, absent in a pipe, silenced by -q."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import run_ce
from helpers import run_on_terminal


def test_progress_is_shown_on_a_terminal(channel_url: str, tmp_path: Path) -> None:
    env = dict(os.environ, RATTLER_CACHE_DIR=str(tmp_path / "empty-cache"))
    code, stdout, stderr = run_on_terminal(
        ["-c", channel_url, "--override-channels", "--from", "pyflakes", "pyflakes", "--version"], env
    )
    assert code == 0 and stdout.startswith("3.4.0")
    assert "fetching repodata from channel" in stderr  # ce's status line (rattler's gateway draws nothing)
    assert "\r\x1b[K" in stderr  # the status line is cleared before the summary
    assert "ce: created pyflakes--" in stderr and "(2 packages)" in stderr  # the one-line summary


def test_no_progress_in_a_pipe(channel_url: str, tmp_path: Path) -> None:
    env = dict(os.environ, RATTLER_CACHE_DIR=str(tmp_path / "empty-cache"))
    result = run_ce("-c", channel_url, "--override-channels", "--from", "hello-tool", "hello", env=env)
    assert result.returncode == 0
    assert result.stderr.splitlines() == [line for line in result.stderr.splitlines() if line.startswith("ce: created")]
    assert "\x1b[" not in result.stderr and "installing packages" not in result.stderr


def test_quiet_silences_progress_and_summary(channel_url: str, tmp_path: Path) -> None:
    env = dict(os.environ, RATTLER_CACHE_DIR=str(tmp_path / "empty-cache"))
    code, stdout, stderr = run_on_terminal(
        ["-q", "-c", channel_url, "--override-channels", "--from", "pyflakes", "pyflakes", "--version"], env
    )
    assert code == 0 and stdout.startswith("3.4.0")
    assert stderr == ""
