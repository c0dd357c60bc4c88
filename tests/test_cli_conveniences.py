"""Daily-use conveniences of the command line (issue 16, items 4 and 5), through the ``ce`` command."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from ce.envs.store import tree_sizes
from conftest import run_ce
from helpers import env_names, make_fake_env

# --- sizes: what removal frees, and what stays in the package cache -------------------------------


def test_tree_sizes_count_hard_links_from_outside_as_shared_and_each_inode_once(tmp_path: Path) -> None:
    cache, env = tmp_path / "pkgs", tmp_path / "env"
    cache.mkdir()
    env.mkdir()
    (cache / "big").write_bytes(b"x" * 1000)
    os.link(cache / "big", env / "big")  # installed from the package cache: shared
    (env / "own").write_bytes(b"y" * 10)
    os.link(env / "own", env / "own-again")  # two links, both inside: own, counted once
    (env / "link").symlink_to(cache / "big")  # not followed
    own, shared = tree_sizes(str(env))
    assert shared == 1000
    assert own == 10 + len(str(cache / "big"))  # the symlink's own size


def _write_meta(prefix: Path, **fields: object) -> None:
    meta = prefix / ".ce-env.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), **fields}))


def test_list_and_clean_report_freed_and_shared_bytes(ce_home: Path) -> None:
    new = make_fake_env(ce_home, "newtool", "true")
    _write_meta(new, own_bytes=1_700_000, shared_bytes=62_300_000, command="newtool", package="newtool")
    old = make_fake_env(ce_home, "oldtool", "true")  # recorded by an older ce: size_bytes only (100)
    rows = {row["package"]: row for row in json.loads(run_ce("--list", "--json").stdout)}
    assert (rows["newtool"]["own_bytes"], rows["newtool"]["shared_bytes"]) == (1_700_000, 62_300_000)
    measured = tree_sizes(str(old))
    assert (rows["oldtool"]["own_bytes"], rows["oldtool"]["shared_bytes"]) == measured  # measured, not 100
    assert measured[0] != 100
    listing = run_ce("--list").stdout
    assert "1.6 MB" in listing and "59.4 MB" in listing
    dry = run_ce("--clean", "--all", "--dry-run", "newtool")
    assert dry.stdout.splitlines() == [
        f"would remove {new.name} (1.6 MB, 59.4 MB shared)",
        # the shared total is measured, each shared file once across environments: this fake one links none
        "would free 1.6 MB in 1 environment(s)",
    ]
    done = run_ce("--clean", "--all", "-y")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "removed 2 environment(s), freed 1.6 MB"


def test_built_environments_record_own_and_shared_bytes(local: tuple[str, ...], ce_home: Path) -> None:
    assert run_ce(*local, "ruff", "--version").returncode == 0
    (name,) = env_names(ce_home)
    record = json.loads((ce_home / "envs" / name / ".ce-env.json").read_text())
    # ruff's binary is hard-linked from the package cache (same file system under pytest's tmp)
    assert record["shared_bytes"] > 1_000_000 > record["own_bytes"] > 0
    assert record["size_bytes"] == record["own_bytes"] + record["shared_bytes"]


# --- --list: headers, scripts, TOOL filter, JSON ------------------------------------------------------


def test_list_has_headers_identifies_scripts_and_filters_by_tool(ce_home: Path, tmp_path: Path) -> None:
    make_fake_env(ce_home, "ruff", "true")
    make_fake_env(ce_home, "black", "true")
    script = tmp_path / "job.py"
    script.write_text("print(1)\n")
    for locked, suffix in ((True, "a"), (False, "b")):
        prefix = ce_home / "envs" / f"script--{suffix * 16}"
        (prefix / "conda-meta").mkdir(parents=True)
        (prefix / "conda-meta" / "history").write_text("")
        meta = {"kind": "script", "script": str(script), "locked": locked, "specs": ["python"], "pypi": []}
        (prefix / ".ce-env.json").write_text(json.dumps(meta))
    text = run_ce("--list").stdout.splitlines()
    assert text[0].split() == ["KIND", "TOOL", "OR", "SCRIPT", "SPECS", "SIZE", "SHARED", "LAST", "USED", "ENVIRONMENT"]
    assert len(text) == 5
    assert any(line.startswith("script, locked") and str(script) in line for line in text)
    assert any(line.startswith("script ") and str(script) in line for line in text)
    only = run_ce("--list", "RUFF").stdout.splitlines()
    assert len(only) == 2 and "ruff--" in only[1]
    rows = json.loads(run_ce("--list", "--json", str(script)).stdout)
    assert sorted(row["locked"] for row in rows) == [False, True]
    assert {row["script"] for row in rows} == {str(script)}
    fields = {"name", "path", "kind", "command", "package", "script", "locked", "specs", "size_bytes", "shared_bytes"}
    assert fields <= set(rows[0])
    none = run_ce("--list", "nothing-here")
    assert (none.returncode, none.stdout, none.stderr) == (0, "", "ce: no cached environments of nothing-here\n")


# --- --help, --backends, completion ---------------------------------------------------------------------


def test_help_has_examples_defaults_environment_variables_and_exit_codes() -> None:
    text = run_ce("--help").stdout
    for needle in ("examples:", "ce --from hello-tool hello", "conda-forge", "~/.conda/exec", "exit codes:", "127"):
        assert needle in text
    for variable in ("CONDA_EXEC_HOME", "CONDA_EXEC_CLEAN_INTERVAL", "CONDA_EXEC_CLEAN_AGE", "CONDA_EXEC_AUTO_CLEAN"):
        assert variable in text
    for variable in ("RATTLER_CACHE_DIR", "CONDA_CHANNELS", "CONDA_SUBDIR", "CONDA_OVERRIDE_*"):
        assert variable in text


def test_backends_marks_what_cannot_work_here() -> None:
    lines = run_ce("--backends").stdout.splitlines()
    (conda_line,) = [line for line in lines if line.split()[0] == "conda"]
    if importlib.util.find_spec("conda") is None:
        assert conda_line.endswith("[unavailable here: conda is not importable]")
    else:
        assert "unavailable" not in conda_line
    assert not [line for line in lines if "unavailable" in line and line.split()[0] != "conda"]


@pytest.mark.parametrize(("shell", "check"), [("bash", "-n"), ("zsh", "-n"), ("fish", "--no-execute")])
def test_completion_scripts_are_valid(shell: str, check: str, tmp_path: Path) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed here")
    result = run_ce("--completion", shell)
    assert result.returncode == 0 and result.stdout, result.stderr
    assert "rattler-lock-v6" in result.stdout and "override-channels" in result.stdout
    path = tmp_path / f"ce.{shell}"
    path.write_text(result.stdout)
    checked = subprocess.run([shell, check, str(path)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr


def test_bash_completion_completes_options_backends_and_files(tmp_path: Path) -> None:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed here")
    script = tmp_path / "ce.bash"
    script.write_text(run_ce("--completion", "bash").stdout)
    (tmp_path / "job.py").write_text("")

    def complete(*words: str) -> list[str]:
        line = " ".join(shlex.quote(word) for word in words)
        program = f"source {shlex.quote(str(script))}; COMP_WORDS=(ce {line}); COMP_CWORD={len(words)}; "
        program += '_ce_complete; printf "%s\\n" "${COMPREPLY[@]}"'
        result = subprocess.run(["bash", "-c", program], capture_output=True, text=True, cwd=tmp_path, timeout=30)
        return result.stdout.split()

    assert complete("--sol") == ["--solver"]
    assert complete("--solver", "") == ["rattler", "conda"]
    assert complete("--lock-format", "c") == ["conda-lock"]
    assert complete("jo") == ["job.py"]
    assert complete("ruff", "--sol") == []  # the tool's own arguments: files only


# --- did-you-mean, mistyped scripts, usage errors --------------------------------------------------------


def test_unknown_option_suggests_the_nearest_one() -> None:
    result = run_ce("--lsit")
    assert result.returncode == 2
    assert result.stderr == "ce: error: unknown option --lsit; did you mean --list? (see ce --help)\n"
    assert "did you mean --override-channels?" in run_ce("--overide-channels", "ruff").stderr
    assert "did you mean --older-than?" in run_ce("--clean", "--older", "3").stderr  # an abbreviation
    assert run_ce("--bogus").stderr == "ce: error: unknown option --bogus (see ce --help)\n"  # nothing close


@pytest.mark.parametrize("tool", ["missing.py", "analysis.R", "run.sh", "sub/dir/tool", "./x"])
def test_a_tool_that_looks_like_a_missing_file_is_an_error(tool: str, tmp_path: Path, ce_home: Path) -> None:
    result = run_ce(tool, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"ce: error: no such script: {tool}")
    assert not (ce_home / "envs").exists()  # never treated as a package


def test_a_mistyped_script_name_suggests_the_file(tmp_path: Path) -> None:
    (tmp_path / "analysis.py").write_text("")
    result = run_ce("analyss.py", cwd=tmp_path)
    assert result.returncode == 2
    assert "no such script: analyss.py; did you mean analysis.py?" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--add", "six", "a.py", "b.py"), "--add takes one TOOL or SCRIPT (got also 'b.py')"),
        (("--from", "six", "a.py"), "--from names the package of a TOOL"),
        (("--add", "six", "-c", "x", "a.py"), "--channel does not go with --add"),
        (("--add", "six", "--with", "x", "a.py"), "--with does not go with --add"),
        (("--add", "six", "--override-channels", "a.py"), "--override-channels does not go with --add"),
        (("--add", "six", "--refresh", "a.py"), "--refresh does not go with --add"),
        (("--list", "-c", "x"), "--channel does not go with --list"),
        (("--list", "--offline"), "--offline does not go with --list"),
        (("--clean", "--with", "x"), "--with does not go with --clean"),
        (("--clean", "--solver", "conda"), "--solver does not go with --clean"),
        (("--backends", "ruff"), "--backends takes no TOOL or SCRIPT"),
        (("--backends", "--refresh"), "--refresh does not go with --backends"),
        (("--completion", "bash", "ruff"), "--completion takes no TOOL or SCRIPT"),
        (("--list", "ruff", "extra"), "--list takes one TOOL or SCRIPT"),
        (("--completion", "tcsh"), "invalid choice: 'tcsh'"),
    ],
)
def test_ignored_option_combinations_are_usage_errors(args: tuple[str, ...], message: str, tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("print(1)\n")
    (tmp_path / "b.py").write_text("print(2)\n")
    result = run_ce(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert (tmp_path / "a.py").read_text() == "print(1)\n"  # --add wrote nothing


# --- names: @latest, case, the 127 hint ------------------------------------------------------------------


def test_latest_and_uppercase_use_the_same_environment(local: tuple[str, ...], ce_home: Path) -> None:
    first = run_ce(*local, "ruff", "--version")
    assert first.returncode == 0, first.stderr
    for tool in ("ruff@latest", "RUFF", "Ruff@latest"):
        again = run_ce(*local, tool, "--version")
        assert (again.returncode, again.stdout, again.stderr) == (0, first.stdout, ""), tool
    assert len(env_names(ce_home)) == 1
    assert run_ce("--list").stdout.splitlines()[1].split()[1] == "ruff"


def test_command_not_found_names_the_exact_command_to_run(local: tuple[str, ...]) -> None:
    result = run_ce(*local, "hello-tool", "world")
    assert result.returncode == 127
    line = result.stderr.strip().splitlines()[-1]
    assert "package hello-tool provides one command: hello; run: " in line
    suggested = shlex.split(line.split("; run: ", 1)[1])
    assert suggested == ["ce", *local, "--from", "hello-tool", "hello"]
    ran = run_ce(*suggested[1:], "world")
    assert (ran.returncode, ran.stdout) == (0, "hello from hello-tool world\n")
