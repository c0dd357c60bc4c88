"""`conda exec`: the plugin, against a small fake of conda's plugin surface (tests/fake_conda.py)."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ce import __version__
from ce.errors import BackendNotFoundError, ToolNotFoundError, UsageError
from fake_conda import environ_with, forget_conda_modules, write_fake_conda
from helpers import env_names


def conda(root: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m conda ARGS`` with the fake conda that *root* holds."""
    return subprocess.run(
        [sys.executable, "-m", "conda", *args],
        capture_output=True,
        text=True,
        env=environ_with(root),
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    """A fake conda without ``conda.base``: conda's solver API is not importable."""
    return write_fake_conda(tmp_path / "fake-conda")


@pytest.fixture
def fake_with_base(tmp_path: Path) -> Path:
    """A fake conda whose context gives no solver backend."""
    return write_fake_conda(tmp_path / "fake-conda-base", base=True)


@pytest.fixture
def in_process(fake: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The fake conda importable in this process (forgotten again afterwards)."""
    forget_conda_modules()
    monkeypatch.syspath_prepend(str(fake))
    yield fake
    forget_conda_modules()


def test_exec_subcommand_is_registered_through_the_conda_entry_point(fake: Path) -> None:
    result = conda(fake, "--list")
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("exec|")]
    name, greedy, summary = line.split("|")
    # no configure_parser: conda hands every argument after `exec` to ce's own parser
    assert (name, greedy) == ("exec", "True")
    assert "cached, isolated environment" in summary


def test_action_runs_ce_command_line_with_prog_conda_exec(fake: Path) -> None:
    version = conda(fake, "exec", "--version")
    assert (version.returncode, version.stdout.strip()) == (0, f"conda exec {__version__}")
    usage = conda(fake, "exec", "--help")
    assert usage.returncode == 0
    assert usage.stdout.startswith("usage: conda exec ")
    assert "--override-channels" in usage.stdout and "--activate" in usage.stdout


@pytest.mark.parametrize(
    ("args", "code", "line"),
    [
        (("--solver", "nope", "ruff"), 2, "conda exec: error: unknown solver 'nope'; valid solver names: conda"),
        (("--bogus",), 2, "conda exec: error: unknown option --bogus (see conda exec --help)"),
        (("--with", "bad$spec", "ruff"), 2, "conda exec: error: invalid package name in 'bad$spec'"),
    ],
)
def test_ce_errors_are_one_line_with_the_prefix_and_exit_code(
    fake: Path, args: tuple[str, ...], code: int, line: str
) -> None:
    result = conda(fake, "exec", *args)
    assert result.returncode == code, result.stderr
    lines = [text for text in result.stderr.splitlines() if text.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(line)
    assert "Traceback" not in result.stderr


def test_conda_exec_runs_tools_and_shares_environments_with_ce(fake: Path, channel_url: str, ce_home: Path) -> None:
    local = ("-c", channel_url, "--override-channels")
    cold = conda(fake, "exec", *local, "--from", "hello-tool", "hello", "a b")
    assert (cold.returncode, cold.stdout) == (0, "hello from hello-tool a b\n"), cold.stderr
    assert "conda exec: created hello-tool--" in cold.stderr
    warm = conda(fake, "exec", *local, "--from", "hello-tool", "hello", "again")
    assert (warm.returncode, warm.stdout, warm.stderr) == (0, "hello from hello-tool again\n", "")
    # the same command line under `ce` finds the same environment
    from conftest import run_ce

    same = run_ce(*local, "--from", "hello-tool", "hello")
    assert same.returncode == 0 and same.stderr == ""
    assert [name.split("--")[0] for name in env_names(ce_home)] == ["hello-tool"]
    # exit codes: the tool's own, and ce's 127 as a conda error
    assert conda(fake, "exec", *local, "--from", "exit-with", "exit-with", "7").returncode == 7
    missing = conda(fake, "exec", *local, "--from", "hello-tool", "nope")
    assert missing.returncode == 127
    assert [text for text in missing.stderr.splitlines() if text.strip()][-1].startswith(
        "conda exec: error: command 'nope' not found"
    )


def test_conda_solver_is_the_default_and_reports_a_setup_error_first(
    fake_with_base: Path, channel_url: str, ce_home: Path
) -> None:
    local = ("-c", channel_url, "--override-channels", "--from", "hello-tool", "hello")
    result = conda(fake_with_base, "exec", *local)
    assert result.returncode == 1
    lines = [text for text in result.stderr.splitlines() if text.strip()]
    assert lines == [
        "conda exec: error: conda cannot provide a solver backend: You have chosen a non-default solver "
        "backend (libmamba) but it was not recognized. Choose one of:"
    ]
    envs = ce_home / "envs"
    assert not envs.exists() or [p.name for p in envs.iterdir() if p.name != ".locks"] == []
    chosen = conda(fake_with_base, "exec", "--solver", "rattler", *local)
    assert (chosen.returncode, chosen.stdout) == (0, "hello from hello-tool\n"), chosen.stderr


@pytest.mark.skipif(importlib.util.find_spec("conda") is not None, reason="conda is importable here")
def test_ce_solver_conda_without_conda_is_a_clear_setup_error(channel_url: str, ce_home: Path) -> None:
    from conftest import run_ce

    result = run_ce("--solver", "conda", "-c", channel_url, "--override-channels", "--from", "hello-tool", "hello")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("ce: error: the conda solver needs conda, which cannot be imported here")
    assert "--solver rattler" in line
    assert env_names(ce_home) == []


def _imported(code: str, root: Path) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, env=environ_with(root)
    )
    assert result.returncode == 0, result.stderr
    return {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}


def test_importing_the_plugin_imports_nothing_heavy(fake: Path) -> None:
    # the plugin needs conda's plugin types module; beyond it, only ce's small modules
    conda_alone = _imported("import conda.plugins, conda.plugins.types", fake)
    with_plugin = _imported("import conda.plugins, conda.plugins.types; import ce.conda_plugin", fake)
    added = with_plugin - conda_alone
    assert added <= {"ce", "ce.errors", "ce.conda_plugin"}, sorted(added)
    assert "ce.conda_plugin" in added


def test_ce_errors_become_conda_errors_with_ce_exit_codes(in_process: Path) -> None:
    from conda import CondaError  # type: ignore[import-not-found,unused-ignore]

    from ce.conda_plugin import conda_error

    converted = conda_error(UsageError("100% wrong\n  second line, %(not)s a %s placeholder"))
    assert isinstance(converted, CondaError)
    assert converted.return_code == 2  # type: ignore[attr-defined]
    assert repr(converted) == "UsageError: 100% wrong second line, %(not)s a %s placeholder"
    assert conda_error(ToolNotFoundError("x")).return_code == 127  # type: ignore[attr-defined]
    assert type(conda_error(BackendNotFoundError("y"))).__name__ == "BackendNotFoundError"


def test_default_solver_follows_what_conda_can_provide(in_process: Path) -> None:
    from ce.conda_plugin import default_solver

    assert default_solver() == "rattler"
    forget_conda_modules()
    write_fake_conda(in_process, base=True)
    importlib.invalidate_caches()
    assert default_solver() == "conda"


def test_cache_modes_work_under_conda_exec(fake_with_base: Path) -> None:
    # conda exec picks its default solver itself: that is not a --solver the modes would refuse
    for args in (("--list",), ("--clean", "--dry-run"), ("--backends",), ("--completion", "bash")):
        result = conda(fake_with_base, "exec", *args)
        assert result.returncode == 0, (args, result.stderr)
    refused = conda(fake_with_base, "exec", "--list", "--solver", "rattler")
    assert refused.returncode == 2 and "--solver does not go with --list" in refused.stderr
