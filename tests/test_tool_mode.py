"""`ce TOOL` end to end against the local channel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_ce
from helpers import env_names


def test_ruff_cold_then_warm(local: tuple[str, ...], ce_home: Path) -> None:
    cold = run_ce(*local, "ruff", "--version")
    assert cold.returncode == 0, cold.stderr
    assert cold.stdout.startswith("ruff 0.17.6")
    assert "created ruff--" in cold.stderr
    (name,) = env_names(ce_home)
    # The warm run solves nothing: it imports no rattler and prints nothing of its own.
    warm = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ce", *local, "ruff", "--version"],
        capture_output=True,
        text=True,
    )
    assert warm.stdout == cold.stdout
    assert " rattler" not in warm.stderr and "asyncio" not in warm.stderr
    assert not [line for line in warm.stderr.splitlines() if not line.startswith("import time:")]
    assert env_names(ce_home) == [name]


def test_arguments_after_the_tool_belong_to_the_tool(local: tuple[str, ...]) -> None:
    result = run_ce(*local, "ruff", "--help")
    assert result.returncode == 0
    assert "Ruff: An extremely fast Python linter" in result.stdout


def test_from_names_the_package_that_provides_the_command(local: tuple[str, ...], ce_home: Path) -> None:
    result = run_ce(*local, "--from", "pyflakes", "pyflakes", "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("3.4.0")
    # noarch python packages are byte-compiled once, at build time
    (prefix,) = (ce_home / "envs").glob("pyflakes--*")
    (api,) = prefix.glob("lib/python3*/site-packages/pyflakes/api.py")
    assert list((api.parent / "__pycache__").glob("api.cpython-*.pyc"))
    hello = run_ce(*local, "--from", "hello-tool", "hello", "world")
    assert (hello.returncode, hello.stdout.strip()) == (0, "hello from hello-tool world")
    assert any(name.startswith("hello-tool--") for name in env_names(ce_home))


def test_with_adds_packages(local: tuple[str, ...]) -> None:
    code = "import six, dateutil; print(six.__version__, dateutil.__version__)"
    result = run_ce(*local, "--with", "python-dateutil", "python", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1.17.0", "2.9.0.post0"]


def test_python_tool_runs_the_relocated_copy(local: tuple[str, ...], ce_home: Path) -> None:
    result = run_ce(*local, "python", "-c", "import sys; print(sys.prefix)")
    assert result.returncode == 0, result.stderr
    (name,) = env_names(ce_home)
    assert result.stdout.strip() == str(ce_home / "envs" / name)


def test_exit_codes_pass_through(local: tuple[str, ...]) -> None:
    assert run_ce(*local, "--from", "exit-with", "exit-with", "3").returncode == 3
    assert run_ce(*local, "--from", "exit-with", "exit-with", "0").returncode == 0
    killed = run_ce(*local, "--from", "exit-with", "exit-with", "signal", "TERM")
    # exec: ce's process is the tool, so the parent sees the signal itself
    assert killed.returncode in (-signal.SIGTERM, 128 + signal.SIGTERM)


def test_arguments_environment_cwd_and_stdin_are_untouched(local: tuple[str, ...], tmp_path: Path) -> None:
    args = ["a b", "", "--help", "-c", "x", "ü"]
    result = run_ce(*local, "--from", "exit-with", "exit-with", "argv", *args)
    assert result.stdout.splitlines() == args
    env = dict(os.environ, CE_TEST_VALUE="kept")
    result = run_ce(*local, "--from", "exit-with", "exit-with", "env", "CE_TEST_VALUE", env=env)
    assert result.stdout.strip() == "kept"
    result = run_ce(*local, "--from", "exit-with", "exit-with", "cwd", cwd=tmp_path)
    assert result.stdout.strip() == str(tmp_path)
    result = run_ce(*local, "--from", "exit-with", "exit-with", "stdin", input="piped\n")
    assert result.stdout == "piped\n"


def test_missing_command_gives_127_and_lists_what_exists(local: tuple[str, ...]) -> None:
    result = run_ce(*local, "--from", "hello-tool", "nope")
    assert result.returncode == 127
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert "'nope' not found" in line and "hello" in line
    warm = run_ce(*local, "--from", "hello-tool", "nope")  # the environment exists now
    assert warm.returncode == 127 and "provides one command: hello; run: ce " in warm.stderr


def test_not_executable_gives_126(local: tuple[str, ...]) -> None:
    result = run_ce(*local, "not-executable")
    assert result.returncode == 126, result.stderr
    assert "not executable" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (("no-such-package",), 1, "no-such-package"),
        (("--with", "needs-x2", "needs-x1"), 1, "cannot solve"),
        (("--from", "hello-tool", "--with", "bad$spec", "hello"), 2, "bad$spec"),
        (("--solver", "nope", "ruff"), 2, "unknown solver 'nope'; valid solver names: conda, rattler"),
        (("--runner", "nope", "ruff"), 2, "unknown runner 'nope'; valid runner names: activate, path"),
        (("../x",), 2, "../x"),
        ((), 2, "missing TOOL"),
        (("--lock", "ruff"), 2, "only applies to scripts"),
    ],
)
def test_bad_input_gets_one_line_and_no_traceback(
    local: tuple[str, ...], ce_home: Path, args: tuple[str, ...], code: int, needle: str
) -> None:
    result = run_ce(*local, *args)
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert needle in lines[0] and lines[0].startswith("ce: error: ")
    assert "Traceback" not in result.stderr
    assert env_names(ce_home) == []


def test_unknown_channel_is_one_line(ce_home: Path, tmp_path: Path) -> None:
    result = run_ce("-c", str(tmp_path / "missing-channel"), "--override-channels", "ruff")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("ce: error: ") and "channel" in line
    assert env_names(ce_home) == []


def test_verbose_shows_a_traceback(local: tuple[str, ...]) -> None:
    result = run_ce("-v", *local, "no-such-package")
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_refresh_rebuilds_in_place(local: tuple[str, ...], ce_home: Path) -> None:
    assert run_ce(*local, "--from", "hello-tool", "hello").returncode == 0
    (name,) = env_names(ce_home)
    marker = ce_home / "envs" / name / "marker"
    marker.write_text("old")
    result = run_ce("--refresh", *local, "--from", "hello-tool", "hello")
    assert result.returncode == 0, result.stderr
    assert env_names(ce_home) == [name] and not marker.exists()
    assert [p.name for p in (ce_home / "envs").iterdir() if p.name.startswith((".build", ".trash"))] == []


def test_list_json_and_clean(local: tuple[str, ...], ce_home: Path) -> None:
    empty = run_ce("--list", "--json")
    assert empty.returncode == 0 and json.loads(empty.stdout) == []
    run_ce(*local, "--from", "hello-tool", "hello")
    run_ce(*local, "ruff", "--version")
    rows = json.loads(run_ce("--list", "--json").stdout)
    assert sorted(row["name"].split("--")[0] for row in rows) == ["hello-tool", "ruff"]
    assert all(row["size_bytes"] > 0 and row["platform"] for row in rows)
    text = run_ce("--list").stdout
    assert "hello-tool--" in text and "ruff--" in text
    dry = run_ce("--clean", "--all", "--dry-run")
    assert "would remove" in dry.stdout and len(env_names(ce_home)) == 2
    only_ruff = run_ce("--clean", "--all", "-y", "ruff")
    assert only_ruff.returncode == 0 and "removed 1" in only_ruff.stdout
    assert [n.split("--")[0] for n in env_names(ce_home)] == ["hello-tool"]
    recent = run_ce("--clean", "-y")  # default age: 30 days; nothing is that old
    assert recent.returncode == 0 and len(env_names(ce_home)) == 1
    assert run_ce("--clean", "--all", "-y").returncode == 0
    assert env_names(ce_home) == []


def test_platform_is_part_of_the_key(local: tuple[str, ...], ce_home: Path) -> None:
    env = dict(os.environ, CONDA_SUBDIR="osx-arm64")
    result = run_ce(*local, "--from", "hello-tool", "hello", env=env)
    assert result.returncode == 0  # noarch: generic runs anywhere
    run_ce(*local, "--from", "hello-tool", "hello")
    assert len(env_names(ce_home)) == 2


def test_concurrent_first_runs_build_once(local: tuple[str, ...], ce_home: Path) -> None:
    command = [sys.executable, "-m", "ce", *local, "--from", "hello-tool", "hello", "hi"]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(8)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    assert [code for code, _out, _err in results] == [0] * 8, results
    assert all(out == "hello from hello-tool hi\n" for _code, out, _err in results)
    assert sum("created hello-tool--" in err for _code, _out, err in results) == 1
    leftovers = [p.name for p in (ce_home / "envs").iterdir() if p.name.startswith((".build", ".trash"))]
    assert leftovers == [] and len(env_names(ce_home)) == 1


def test_offline_uses_only_cached_repodata(local: tuple[str, ...], tmp_path: Path, ce_home: Path) -> None:
    env = dict(os.environ, RATTLER_CACHE_DIR=str(tmp_path / "empty-cache"))
    http_like = run_ce("--offline", *local, "--from", "hello-tool", "hello", env=env)
    # file:// channels are read directly; offline must still work for them
    assert http_like.returncode == 0, http_like.stderr


def test_http_channel_downloads_then_offline_reuses_the_caches(channel: Path, tmp_path: Path) -> None:
    import build_test_channel

    env = dict(os.environ, RATTLER_CACHE_DIR=str(tmp_path / "fresh-rattler-cache"), NO_PROXY="127.0.0.1")
    with build_test_channel.serve_channel(channel) as url:
        result = run_ce("-c", url, "--override-channels", "ruff", "--version", env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("ruff 0.17.6")
    # The server is gone: --offline builds a new environment from cached repodata and packages.
    offline_env = dict(env, CONDA_EXEC_HOME=str(tmp_path / "second-home"))
    result = run_ce("--offline", "-c", url, "--override-channels", "ruff", "--version", env=offline_env)
    assert result.returncode == 0, result.stderr
    # Without the caches, --offline fails with one line instead of reaching out.
    empty_env = dict(offline_env, RATTLER_CACHE_DIR=str(tmp_path / "empty"), CONDA_EXEC_HOME=str(tmp_path / "third"))
    result = run_ce("--offline", "-c", url, "--override-channels", "ruff", "--version", env=empty_env)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("ce: error: ") and "offline" in line
