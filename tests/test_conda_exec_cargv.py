"""conda-exec's command line, replayed against ce (issue 24, items 1 and 2).

1. A bare name is a tool, never a file in the working directory: TOOL is a script only when
   it holds a path separator or ends in a script suffix (conda-exec: ``/``, ``\\``, ``.py``,
   ``.pyw``; ce also knows the suffixes of the interpreters a script's ``run-with`` names).
2. One leading ``--`` after TOOL or SCRIPT is a separator, as in conda-exec's documentation
   (``conda exec ruff -- --config pyproject.toml check .``, ``ce python -- -c 'print(1)'``);
   ``-- --`` passes a literal ``--``.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

import peers
from conftest import run_ce
from helpers import env_names

#: A file that must never run when its name is typed as a tool.
TRAP = 'import sys\nprint("FILE RAN", sys.argv)\n'
ARGV = "import sys\nprint(sys.argv[1:])\n"


@pytest.fixture
def env(channel_url: str) -> dict[str, str]:
    """A user whose configured channel is the local one."""
    return dict(os.environ, CONDA_CHANNELS=channel_url)


@pytest.fixture(scope="module")
def looks_like_script(test_cache_root: Path) -> Callable[[str], bool]:
    """conda-exec 0.4.0's ``tool_looks_like_script`` (``conda_exec/cli.py``), read from its wheel."""
    wheel = peers.conda_exec_wheel(test_cache_root)
    if wheel is None:
        pytest.skip("conda-exec 0.4.0's wheel cannot be downloaded here")
    with zipfile.ZipFile(wheel) as archive:
        tree = ast.parse(archive.read("conda_exec/cli.py").decode("utf-8"))
    wanted = {"SCRIPT_EXTENSIONS", "tool_looks_like_script"}
    tree.body = [
        node
        for node in tree.body
        if (isinstance(node, ast.FunctionDef) and node.name in wanted)
        or (isinstance(node, ast.Assign) and {getattr(t, "id", None) for t in node.targets} & wanted)
    ]
    namespace: dict[str, object] = {}
    exec(compile(tree, "conda_exec/cli.py", "exec"), namespace)
    function = namespace["tool_looks_like_script"]
    assert callable(function)
    return function  # type: ignore[no-any-return]


# --- item 1: a bare name is a tool ----------------------------------------------------------------

#: Names both tools read the same way.
SAME = ["ruff", "python", "-m", "--version", "+x", "ruff@0.6", "ruff>=0.6", "x.py", "-x.py", "x.pyw", "./ruff"]
SAME += ["dir/x", "/dev/stdin", "a\\b", "x.py.txt", "x.txt", "Makefile", "x.", ".py"]
#: Names ce reads as scripts and conda-exec as packages: the other suffixes ce knows.
CE_ONLY = ["build.sh", "-x.sh", "run.bash", "analysis.R", "a.r", "model.jl", "report.pl", "x.rb", "x.js", "x.lua"]


@pytest.mark.parametrize("name", SAME)
def test_a_name_is_a_script_exactly_as_conda_exec_says(looks_like_script: Callable[[str], bool], name: str) -> None:
    from ce.fastpath import is_script_name

    assert is_script_name(name) == looks_like_script(name)


@pytest.mark.parametrize("name", CE_ONLY)
def test_the_suffixes_of_run_with_interpreters_are_scripts_too(
    looks_like_script: Callable[[str], bool], name: str
) -> None:
    """A deliberate difference: ``ce build.sh`` means the script beside you, in ce alone."""
    from ce.fastpath import SCRIPT_SUFFIXES, is_script_name

    assert is_script_name(name) and not looks_like_script(name)
    assert name.endswith(SCRIPT_SUFFIXES)


def test_a_bare_name_runs_the_package_never_the_file_of_that_name(
    tmp_path: Path, local: tuple[str, ...], ce_home: Path
) -> None:
    """``ce ruff --version`` in a checkout holding a file ``ruff``: ruff runs, cold and warm; ``./ruff`` is the file."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "ruff").write_text(TRAP)
    for _ in range(2):  # cold (the full command line), then the warm path
        result = run_ce(*local, "ruff", "--version", cwd=checkout)
        assert "FILE RAN" not in result.stdout
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("ruff 0.17.6")
    assert [name.split("--")[0] for name in env_names(ce_home)] == ["ruff"]
    script = run_ce(*local, "./ruff", "a", cwd=checkout)
    assert script.returncode == 0, script.stderr
    assert script.stdout.splitlines() == ["FILE RAN ['./ruff', 'a']"]


def test_a_bare_name_beside_a_file_lists_the_tool(tmp_path: Path, local: tuple[str, ...]) -> None:
    """``ce --list ruff`` (and ``--clean ruff``) mean the tool's environments, whatever the folder holds."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    assert run_ce(*local, "ruff", "--version", cwd=checkout).returncode == 0
    (checkout / "ruff").write_text(TRAP)
    listed = run_ce("--list", "ruff", cwd=checkout)
    assert listed.returncode == 0, listed.stderr
    assert any(line.split()[:2] == ["tool", "ruff"] for line in listed.stdout.splitlines()), listed.stdout


@pytest.mark.parametrize("name", ["-m", "--version", "-cprint(1)"])
def test_a_file_named_like_an_option_is_not_a_script_without_a_path(
    tmp_path: Path, env: dict[str, str], name: str
) -> None:
    """``ce -- -m`` with a file ``-m`` here: an invalid tool name that points at ``./-m``; the file never runs."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / name).write_text(TRAP)
    result = run_ce("--", name, env=env, cwd=folder)
    assert "FILE RAN" not in result.stdout
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert "invalid tool name" in line and "./x" in line, line
    as_path = run_ce(f"./{name}", env=env, cwd=folder)
    assert as_path.stdout.startswith("FILE RAN"), as_path.stderr


def test_a_missing_script_keeps_its_did_you_mean_and_names_a_bare_file_by_its_path(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """``ce biuld.sh``: did you mean build.sh?  ``ce ruff.py`` beside a file ``ruff``: ``./ruff``
    (``ruff`` would be the tool)."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "build.sh").write_text("echo hi\n")
    (folder / "ruff").write_text(TRAP)
    for typed, meant in (("biuld.sh", "build.sh"), ("ruff.py", "./ruff"), ("sub/ruff.py", "sub/ruff")):
        (folder / "sub").mkdir(exist_ok=True)
        (folder / "sub" / "ruff").write_text(TRAP)
        result = run_ce(typed, env=env, cwd=folder)
        assert result.returncode == 2
        assert result.stderr.strip() == f"ce: error: no such script: {typed}; did you mean {meant}?"


# --- item 2: one leading -- after TOOL or SCRIPT is a separator -----------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["ruff", "--", "--config", "pyproject.toml", "check", "."],
            ([], "ruff", ["--config", "pyproject.toml", "check", "."]),
        ),
        (["python", "--", "-c", "print(1)"], ([], "python", ["-c", "print(1)"])),
        (["python", "--", "--", "x"], ([], "python", ["--", "x"])),
        (["-q", "--", "ruff", "--", "x"], (["-q"], "ruff", ["x"])),
        (["--", "-x.sh", "--", "-a"], ([], "-x.sh", ["-a"])),
        (["-c", "x", "ruff", "--"], (["-c", "x"], "ruff", [])),
    ],
)
def test_split_argv_drops_one_leading_separator(argv: list[str], expected: tuple[list[str], str, list[str]]) -> None:
    from ce.fastpath import split_argv

    assert split_argv(argv) == expected


def test_the_documented_command_lines_of_conda_exec_run(local: tuple[str, ...], tmp_path: Path) -> None:
    """``ce python -- -c 'print(1)'`` and ``ce ruff -- --version``, cold and warm; ``-- --`` passes a literal ``--``."""
    for _ in range(2):
        python = run_ce(*local, "python", "--", "-c", "import sys; print(1, sys.argv[1:])", "a", cwd=tmp_path)
        assert (python.returncode, python.stdout) == (0, "1 ['a']\n"), python.stderr
        ruff = run_ce(*local, "ruff", "--", "--version", cwd=tmp_path)
        assert ruff.returncode == 0, ruff.stderr
        assert ruff.stdout.startswith("ruff 0.17.6")
    literal = run_ce(*local, "python", "--", "--", "-c", "x", cwd=tmp_path)
    assert literal.returncode == 2  # python itself: "can't open file '-c'"
    assert "-c" in literal.stderr


def test_a_script_gets_its_arguments_without_the_separator(tmp_path: Path, env: dict[str, str]) -> None:
    script = tmp_path / "s.py"
    script.write_text(ARGV)
    for _ in range(2):  # cold, then the script index
        result = run_ce(str(script), "--", "-a", "--", cwd=tmp_path, env=env)
        assert (result.returncode, result.stdout) == (0, "['-a', '--']\n"), result.stderr
    literal = run_ce(str(script), "--", "--", "x", cwd=tmp_path, env=env)
    assert literal.stdout == "['--', 'x']\n", literal.stderr
    later = run_ce(str(script), "a", "--", "b", cwd=tmp_path, env=env)  # only a leading one is a separator
    assert later.stdout == "['a', '--', 'b']\n", later.stderr


def test_a_shebang_script_without_a_suffix_runs_from_path(tmp_path: Path, env: dict[str, str]) -> None:
    """Found through ``PATH``, the kernel passes ``/dir/mytool``: a path, so a script.

    ``mytool -- x`` gives it ``x``, as ``ce /dir/mytool -- x`` would (``mytool -- -- x`` passes ``--``)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "mytool"
    tool.write_text("#!/usr/bin/env -S ce -q\nimport sys\nprint(sys.argv)\n")
    tool.chmod(0o755)
    (tmp_path / "mytool").write_text(TRAP)  # in the working directory too: never this one
    env = dict(env, PATH=os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), env["PATH"]]))
    result = subprocess.run(["mytool", "--", "x"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{[str(tool), 'x']}\n"


def test_the_help_states_both_rules() -> None:
    result = run_ce("--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "except one leading --, a separator" in text
    assert "-- -- passes a literal --" in text
    assert "SCRIPT is a path (./x, dir/x) or a name with a script suffix" in text
    assert ".py .pyw .sh" in text and "any other name is a package's command" in text
