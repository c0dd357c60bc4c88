"""Issue 23 items 7 and 8: deletion without a terminal needs -y, and messages that are right."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import run_ce
from helpers import make_fake_env


@pytest.mark.parametrize("extra", [("--all",), (), ("--older-than", "0")])
def test_clean_without_a_terminal_or_y_removes_nothing_and_says_to_add_y(ce_home: Path, extra: tuple[str, ...]) -> None:
    prefix = make_fake_env(ce_home, "one", "true")
    os.utime(prefix / "conda-meta" / "history", (1, 1))  # unused for ever: plain --clean selects it too
    result = run_ce("--clean", *extra, input="")  # stdin is a pipe: some_cmd | ce --clean, cron
    assert result.returncode == 1
    assert prefix.is_dir()
    assert "add -y" in result.stderr and "not removing 1 environment(s)" in result.stderr
    done = run_ce("--clean", *extra, "-y", input="")
    assert done.returncode == 0 and not prefix.exists()


@pytest.fixture
def channel_env(channel_url: str) -> dict[str, str]:
    """The environment of a user whose configured channel is the local one."""
    return dict(os.environ, CONDA_CHANNELS=channel_url)


def test_a_scripts_missing_run_with_interpreter_suggests_its_dependencies_not_from(
    tmp_path: Path, channel_env: dict[str, str]
) -> None:
    script = tmp_path / "r.R"
    script.write_text(
        '# /// script\n# [tool.conda]\n# dependencies = ["hello-tool"]\n# run-with = ["Rscript"]\n# ///\n'
    )
    result = run_ce(str(script), env=channel_env, input="")
    assert result.returncode == 127
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert "'Rscript' not found" in line
    assert "--from" not in line  # scripts refuse --from
    assert "[tool.conda] dependencies" in line


def test_offline_says_its_parenthesis_once(tmp_path: Path) -> None:
    result = run_ce("--offline", "-c", "http://127.0.0.1:9/nochannel", "--override-channels", "hello-tool", input="")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.count("(offline: only cached repodata is used)") == 1, line
    assert "no usable repodata cache" in line


def test_locked_does_not_call_the_stale_lock_it_fails_on_ignored(tmp_path: Path, channel_env: dict[str, str]) -> None:
    script = tmp_path / "s.py"
    script.write_text('# /// script\n# [tool.conda]\n# dependencies = ["hello-tool"]\n# ///\nprint(1)\n')
    assert run_ce("--lock", str(script), env=channel_env, input="").returncode == 0
    script.write_text(script.read_text().replace('["hello-tool"]', '["hello-tool", "six"]'))
    result = run_ce("--locked", str(script), env=channel_env, input="")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("ce: error: --locked: stale lock "), line
    assert "ignoring" not in line


def test_clean_reports_the_files_shared_with_the_package_cache_once(tmp_path: Path, ce_home: Path) -> None:
    package_file = tmp_path / "pkgs" / "libbig.so"
    package_file.parent.mkdir()
    package_file.write_bytes(b"x" * 300_000)  # 293.0 KB, once on disk
    for tool in ("one", "two", "three"):
        prefix = make_fake_env(ce_home, tool, "true")  # records size_bytes only: its sizes are measured
        (prefix / "lib").mkdir()
        os.link(package_file, prefix / "lib" / "libbig.so")  # as an install links the package cache
    dry = run_ce("--clean", "--all", "--dry-run", input="")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("293.0 KB shared)") == 3  # each environment shares it
    assert "(293.0 KB shared with the package cache stays) in 3 environment(s)" in dry.stdout
    done = run_ce("--clean", "--all", "-y", input="")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].endswith("(293.0 KB shared with the package cache stays)")
    assert package_file.stat().st_nlink == 1


def test_a_package_name_the_channel_lacks_gets_a_did_you_mean(local: tuple[str, ...]) -> None:
    result = run_ce(*local, "ruf", "--version", input="")
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert "No candidates were found for ruf" in line
    assert line.endswith("; did you mean ruff?"), line
    unlike = run_ce(*local, "zzzz-nothing-like-it", input="")
    assert unlike.returncode == result.returncode and "did you mean" not in unlike.stderr
