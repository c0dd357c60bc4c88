"""ce beside conda-exec: both register conda's ``exec``; conda must keep working (issue 22, item 5).

conda-exec 0.4.0 registers ``conda-exec = conda_exec.plugin`` in the ``conda``
entry-point group (its plugin yields a subcommand named ``exec``) and a ``ce``
console script.  These tests install a fake conda-exec distribution of that
shape on a temporary ``sys.path`` entry, under the fake conda of
tests/fake_conda.py, whose plugin manager raises conda's ``PluginError`` for two
plugins with one subcommand name.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ce import __version__
from fake_conda import environ_with, write_fake_conda

CONDA_EXEC_PLUGIN = """
from conda.plugins import hookimpl


def execute(args):
    print("conda-exec ran", *args)
    return 0


def configure_parser(parser):
    parser.add_argument("rest", nargs="*")


@hookimpl
def conda_subcommands():
    from conda.plugins.types import CondaSubcommand

    yield CondaSubcommand(
        name="exec",
        summary="Run a command from a conda package without installing it.",
        action=execute,
        configure_parser=configure_parser,
    )
"""


def write_conda_exec(site: Path, entry_points: bool = True) -> Path:
    """A fake conda-exec 0.4.0 distribution in *site* (with its ``conda`` entry point when *entry_points*)."""
    package = site / "conda_exec"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "plugin.py").write_text(textwrap.dedent(CONDA_EXEC_PLUGIN))
    (package / "main.py").write_text("def main():\n    return 0\n")
    info = site / "conda_exec-0.4.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.4\nName: conda-exec\nVersion: 0.4.0\n")
    groups = "[console_scripts]\nce = conda_exec.main:main\n"
    if entry_points:
        groups += "\n[conda]\nconda-exec = conda_exec.plugin\n"
    (info / "entry_points.txt").write_text(groups)
    return site


def run(args: list[str], *paths: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    return write_fake_conda(tmp_path / "fake-conda")


def test_fake_conda_refuses_two_plugins_with_one_subcommand_name(fake: Path, tmp_path: Path) -> None:
    """The fake raises as conda does (conda/plugins/manager.py), so a regression shows in CI."""
    other = tmp_path / "other"
    (other / "other_exec.py").parent.mkdir()
    (other / "other_exec.py").write_text(textwrap.dedent(CONDA_EXEC_PLUGIN))
    info = other / "other_exec-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.4\nName: other-exec\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[conda]\nother-exec = other_exec\n")
    result = subprocess.run(
        [sys.executable, "-m", "conda", "--list"],
        capture_output=True,
        text=True,
        env=environ_with(fake, {**os.environ, "PYTHONPATH": f"{other}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}),
        timeout=120,
    )
    assert result.returncode == 1
    assert "PluginError: Conflicting plugins found for `subcommands`:" in result.stderr
    # as conda 26.7.1 and main print it (conda/plugins/manager.py, get_hook_results)
    assert f"  - 'exec' provided by:\n    - ce {__version__}\n    - other-exec 1.0\n" in result.stderr


def test_conda_keeps_working_beside_conda_exec(fake: Path, tmp_path: Path) -> None:
    site = write_conda_exec(tmp_path / "site")
    listed = run(["-m", "conda", "--list"], fake, site)
    assert listed.returncode == 0, listed.stderr
    subcommands = {line.split("|")[0]: line.split("|")[1:] for line in listed.stdout.splitlines()}
    # `exec` stays conda-exec's (it has a configure_parser); ce is `conda exec-ce`
    assert subcommands["exec"][0] == "False"
    assert subcommands["exec-ce"][0] == "True" and "conda-exec's" in subcommands["exec-ce"][1]
    assert run(["-m", "conda", "exec", "ruff"], fake, site).stdout.strip() == "conda-exec ran ruff"
    version = run(["-m", "conda", "exec-ce", "--version"], fake, site)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith(f"conda exec-ce {__version__}\n")
    usage = run(["-m", "conda", "exec-ce", "--help"], fake, site)
    assert usage.stdout.startswith("usage: conda exec-ce ")
    error = run(["-m", "conda", "exec-ce", "--bogus"], fake, site)
    assert (error.returncode, error.stderr.strip()) == (
        2,
        "conda exec-ce: error: unknown option --bogus (see conda exec-ce --help)",
    )
    # a conda-exec without its conda entry point claims nothing: ce keeps `conda exec`
    bare = write_conda_exec(tmp_path / "bare", entry_points=False)
    alone = run(["-m", "conda", "--list"], fake, bare)
    assert [line.split("|")[0] for line in alone.stdout.splitlines()] == ["exec"], alone.stderr
    assert run(["-m", "ce", "--version"], bare).stdout == f"ce {__version__}\n"


def test_version_and_backends_say_who_owns_conda_exec(tmp_path: Path) -> None:
    site = write_conda_exec(tmp_path / "site")
    version = run(["-m", "ce", "--version"], site)
    assert version.returncode == 0, version.stderr
    first, note = version.stdout.splitlines()
    assert first == f"ce {__version__}"
    assert note.startswith("conda exec here is conda-exec 0.4.0's")
    assert "`conda exec-ce`" in note and "uninstall conda-exec" in note
    backends = run(["-m", "ce", "--backends"], site)
    assert backends.returncode == 0, backends.stderr
    assert "conda subcommand:" in backends.stdout.splitlines()
    assert "conda exec here is conda-exec 0.4.0's" in backends.stdout


def test_conda_exec_help_says_where_conda_keeps_packages() -> None:
    """Item 6: under conda, the default solver keeps packages in conda's pkgs_dirs, not RATTLER_CACHE_DIR."""
    from ce.cli import build_parser

    conda_help = build_parser("conda exec").format_help()
    cache = next(line for line in conda_help.splitlines() if line.strip().startswith("cache "))
    assert "conda's package cache (pkgs_dirs, CONDA_PKGS_DIRS)" in cache
    assert "with --solver rattler" in cache
    assert "where the default conda solver keeps packages" in conda_help
    ce_help = build_parser("ce").format_help()
    ce_cache = next(line for line in ce_help.splitlines() if line.strip().startswith("cache "))
    assert "rattler's cache (RATTLER_CACHE_DIR" in ce_cache
