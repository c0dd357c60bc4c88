"""Names are data: a script's name never becomes an interpreter's option, and nothing from outside
reaches the terminal raw (issue 21, items 4 and 10; three items of 13)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest

from build_test_channel import PkgFile
from hostile.support import (
    HELLO_SCRIPT,
    assert_no_crash,
    assert_ok,
    assert_one_error,
    ce_command,
    generic,
    make_channel,
    run,
    sh,
    snapshot,
)

#: What must never reach a terminal raw: ESC (with a CSI and an OSC), BEL, CR, a newline, a C1 CSI.
CONTROLS = "\x1b[31m\x1b]0;owned\x07\r\n\x9b"
RAW = ("\x1b", "\x07", "\r", "\x9b")


def assert_no_raw_controls(text: str) -> None:
    """No control character at all in *text*, beyond the line breaks between its lines."""
    for line in text.split("\n"):
        for character in RAW:
            assert character not in line, repr(text[-3000:])


# --------------------------------------------------------------------------
# Item 4: a script name is never an option
# --------------------------------------------------------------------------


def test_a_script_name_that_reads_as_python_code_is_never_run_as_code(tmp_path: Path, env: dict[str, str]) -> None:
    """``ce -- '-cprint(...)#.py'``: with no such file, nothing runs; with one, that file runs as the script.

    (A script is a path or has a script suffix, issue 24: the ``.py`` keeps the name code-like.)"""
    folder = tmp_path / "work"
    folder.mkdir()
    name = '-cprint("INJECTED")#.py'
    result = run("--", name, env=env, cwd=folder)
    assert "INJECTED" not in result.stdout.splitlines()
    assert_one_error(result, 2, "no such script")
    (folder / name).write_text('import sys\nprint("file ran as", sys.argv[0])\n')
    for _ in range(2):  # cold, then through the script index (the warm path)
        result = run("--", name, env=env, cwd=folder)
        assert "INJECTED" not in result.stdout.splitlines()  # the name was not run as code
        assert_ok(result, f"file ran as ./{name}")


@pytest.mark.parametrize("name", ["-m.py", "-.py", "--version.py", "+x.py"])
def test_a_python_script_named_like_an_option_runs_as_a_file(tmp_path: Path, env: dict[str, str], name: str) -> None:
    """A script called ``-m.py`` (or ``-.py``, ``--version.py``) runs, its ``sys.argv[0]`` is ``./NAME``."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / name).write_text('import sys\nprint("argv", sys.argv)\n')
    for _ in range(2):
        assert_ok(run("--", name, "a", env=env, cwd=folder), f"argv ['./{name}', 'a']")


@pytest.mark.parametrize("name", ["-x.sh", "+O.sh", "--rcfile.sh"])
def test_a_bash_script_named_like_an_option_runs_as_a_file(tmp_path: Path, env: dict[str, str], name: str) -> None:
    """``run-with = ["bash"]`` and a script ``-x.sh``: bash ran ``bash -x.sh`` and took the name for options."""
    folder = tmp_path / "work"
    folder.mkdir()
    text = '# /// script\n# [tool.conda]\n# dependencies = ["bash"]\n# run-with = ["bash"]\n# ///\necho "ran $0 $1"\n'
    (folder / name).write_text(text)
    for _ in range(2):
        assert_ok(run("--", name, "arg", env=env, cwd=folder), f"ran ./{name} arg")


def test_a_legacy_run_with_script_named_like_an_option_runs_as_a_file(tmp_path: Path, env: dict[str, str]) -> None:
    """The conda-execute block's ``run_with: bash`` takes the same path."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "-e.sh").write_text('# conda execute\n# env:\n#  - bash\n# run_with: bash\necho "legacy $0"\n')
    assert_ok(run("--", "-e.sh", env=env, cwd=folder), "legacy ./-e.sh")


# --------------------------------------------------------------------------
# Item 10: nothing from outside reaches the terminal raw
# --------------------------------------------------------------------------


def test_a_script_path_with_control_characters_is_printed_escaped(tmp_path: Path, env: dict[str, str]) -> None:
    """A missing script whose name carries ESC, BEL, CR and a newline: one escaped error line."""
    result = run(f"./evil{CONTROLS}.py", env=env, cwd=tmp_path)
    assert_no_raw_controls(result.stderr)
    line = assert_one_error(result, 2, "no such script")
    assert "\\x1b[31m" in line and "\\r\\n" in line, line


def test_a_tool_name_with_control_characters_is_printed_escaped(tmp_path: Path, env: dict[str, str]) -> None:
    """A tool name (refused), a ``--from`` package, ``--list`` and ``--clean`` of a name: no raw control character."""
    cases = (
        [f"tool{CONTROLS}"],
        ["--from", f"pkg{CONTROLS}", "tool"],
        ["--list", f"tool{CONTROLS}.py"],
        ["--clean", "--dry-run", f"tool{CONTROLS}.sh"],
    )
    for args in cases:
        result = run(*args, env=env, cwd=tmp_path)
        assert_no_crash(result)
        assert result.returncode != 0
        assert_no_raw_controls(result.stderr)
        assert "\\x1b[31m" in result.stderr, result.stderr


def test_a_channel_with_control_characters_is_printed_escaped(tmp_path: Path) -> None:
    """A channel that does not exist, named with ESC and BEL (a path, a ``file://`` URL): its error is escaped."""
    path = f"{tmp_path}/chan\x1b[31m\x07"
    for channel in (path, f"file://{path}"):
        result = run("-c", channel, "--override-channels", "hello-tool", cwd=tmp_path, timeout=60)
        assert_no_raw_controls(result.stderr)
        assert_one_error(result, 1, "channel")


def _hostile_names_channel(root: Path) -> Path:
    """A package that provides a command named with control characters, and one depending on such a name."""
    return make_channel(
        root,
        [
            # rattler links no file whose name holds a line break: ESC, BEL and a C1 CSI it does
            generic("evil-commands", [sh("bin/evil\x1b[31m\x07\x9bcmd", "echo evil")]),
            generic("evil-depends", [sh("bin/evil-depends", "echo x")], depends=[f"missing{CONTROLS.strip()}dep"]),
        ],
    )


def test_an_executable_name_with_control_characters_is_listed_escaped(tmp_path: Path) -> None:
    """The 127 message lists the commands a package provides: a hostile file name there is escaped."""
    channel = _hostile_names_channel(tmp_path / "channel")
    for _ in range(2):  # the full path's hint, then the environment exists (its own listing)
        result = run("-c", channel.as_uri(), "--override-channels", "--from", "evil-commands", "nothere")
        assert_no_raw_controls(result.stderr)
        line = assert_one_error(result, 127, "not found")
        assert "evil\\x1b[31m" in line, line


def test_a_package_name_from_repodata_with_control_characters_is_printed_escaped(tmp_path: Path) -> None:
    """A dependency named with control characters in a channel's repodata: the solver's message is escaped."""
    channel = _hostile_names_channel(tmp_path / "channel")
    result = run("-c", channel.as_uri(), "--override-channels", "evil-depends")
    assert_no_crash(result)
    assert result.returncode != 0
    assert_no_raw_controls(result.stderr)


def test_list_escapes_a_script_path_and_json_keeps_it_exact(tmp_path: Path, env: dict[str, str]) -> None:
    """``--list``: a script's path with control characters is escaped in the table, exact in the JSON."""
    folder = tmp_path / "work"
    folder.mkdir()
    name = f"s{CONTROLS}.sh"
    (folder / name).write_text(HELLO_SCRIPT)
    assert_ok(run(name, env=env, cwd=folder), "hello from hello-tool")
    table = run("--list", env=env, cwd=folder)
    assert_ok(table)
    assert_no_raw_controls(table.stdout)
    assert "\\x1b[31m" in table.stdout, table.stdout
    listed = run("--list", "--json", env=env, cwd=folder)
    assert_ok(listed)
    assert_no_raw_controls(listed.stdout)
    assert [row["script"] for row in json.loads(listed.stdout)] == [str(folder / name)]


def test_a_warning_about_a_script_escapes_its_path(tmp_path: Path, env: dict[str, str]) -> None:
    """A warning naming the script (an unclosed lock block): its path is escaped."""
    folder = tmp_path / "work"
    folder.mkdir()
    name = f"w{CONTROLS}.sh"
    (folder / name).write_text(HELLO_SCRIPT + "# /// conda-exec-lock\n# nothing closes this\n")
    result = run(name, env=env, cwd=folder)
    assert_ok(result, "hello from hello-tool")
    assert "warning" in result.stderr
    assert_no_raw_controls(result.stderr)


def test_the_status_line_escapes_what_it_shows() -> None:
    """The status line names channels, specs and packages: drawn escaped (in-process: it needs a terminal)."""
    from ce.status import Status

    status = Status(True, StringIO())
    status._phase, status._detail = f"fetching repodata from chan{CONTROLS}", f"linking pkg{CONTROLS}"
    line = status._line(0)
    assert_no_raw_controls(line)
    assert "\n" not in line and "\\x1b[31m" in line


def test_shown_escapes_every_control_and_is_idempotent() -> None:
    """The one helper: every control escaped, printable text (Windows paths, accents) unchanged."""
    from ce.text import one_line, shown

    assert shown("C:\\Users\\é日本 ok") == "C:\\Users\\é日本 ok"
    assert shown("a\x1b[1mb\x07\r\n\t\x7f\x9b\u202e\udcff") == "a\\x1b[1mb\\x07\\r\\n\\t\\x7f\\x9b\\u202e\\udcff"
    assert shown(shown(CONTROLS)) == shown(CONTROLS)
    value = shown("x\ny")
    assert one_line(f"line one\n  two {value}\x1b") == "line one two x\\ny\\x1b"


# --------------------------------------------------------------------------
# Items of 13: activation scripts, /dev/stdin, a long name
# --------------------------------------------------------------------------

HOSTILE_ACTIVATE = b"""\
IFS=_
printf() { builtin echo BROKEN; }
builtin() { command echo BROKEN; }
compgen() { return 0; }
export -f printf
shopt -s expand_aliases
alias printf=false env=false
export CE_HOSTILE_ACTIVATE="set by_activate"
"""


def test_activate_survives_a_script_that_sets_ifs_and_redefines_printf(tmp_path: Path) -> None:
    """An activate.d script sets ``IFS=_``, redefines ``printf``, ``builtin`` and ``compgen``, adds aliases."""
    channel = make_channel(
        tmp_path / "channel",
        [
            generic(
                "hostile-activate",
                [
                    PkgFile("etc/conda/activate.d/hostile.sh", HOSTILE_ACTIVATE),
                    sh("bin/show-hostile", 'echo "got=$CE_HOSTILE_ACTIVATE prefix=$CONDA_PREFIX"'),
                ],
            )
        ],
    )
    args = ("-c", channel.as_uri(), "--override-channels", "--activate", "--from", "hostile-activate", "show-hostile")
    for _ in range(2):  # the first run sources the scripts, the second uses the cached activation
        result = run(*args)
        assert_ok(result, "got=set by_activate prefix=")
        assert "BROKEN" not in result.stdout + result.stderr


SCRIPT = 'import sys\nprint("piped script", sys.argv[0], repr(sys.stdin.read()))\n'


def test_a_script_piped_to_dev_stdin_runs_like_python_runs_it(tmp_path: Path, env: dict[str, str]) -> None:
    """``cat s.py | ce /dev/stdin``: run once, as ``python /dev/stdin`` would (the script's stdin is consumed)."""
    for _ in range(2):
        assert_ok(run("/dev/stdin", env=env, cwd=tmp_path, input=SCRIPT), "piped script /dev/stdin ''")


def test_a_process_substitution_runs_as_a_script(tmp_path: Path, env: dict[str, str]) -> None:
    """``ce <(cat s.py)``: the shell hands ce ``/dev/fd/N``, a pipe it holds open."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, SCRIPT.encode())
        os.close(write_end)
        write_end = -1
        result = subprocess.run(
            ce_command(f"/dev/fd/{read_end}"),
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            pass_fds=(read_end,),
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
    assert_ok(result, f"piped script /dev/fd/{read_end} ''")


def test_a_piped_script_is_bounded_and_never_written_beside(tmp_path: Path, env: dict[str, str]) -> None:
    """Binary data on the pipe is one error; ``--lock`` and ``--add`` refuse a pipe (they would write in /dev)."""
    assert_one_error(run("/dev/stdin", env=env, cwd=tmp_path, input="\0" * 100), 1, "binary")
    for option in (["--lock"], ["--add", "six"]):
        assert_one_error(run(*option, "/dev/stdin", env=env, cwd=tmp_path, input=SCRIPT), 2, "pipe")


def test_a_fifo_or_a_terminal_as_a_script_says_what_it_is(tmp_path: Path, env: dict[str, str]) -> None:
    """A named FIFO is still refused (nobody may write it), and ``/dev/stdin`` that is not a pipe: one right line."""
    os.mkfifo(tmp_path / "fifo")
    line = assert_one_error(run("./fifo", env=env, cwd=tmp_path, timeout=30), 2, "not a regular file")
    assert "symbolic link" not in line
    line = assert_one_error(run("/dev/stdin", env=env, cwd=tmp_path, timeout=30), 2, "not a regular file")
    assert "symbolic link" not in line


def test_a_script_name_too_long_for_its_lock_is_one_clear_line(tmp_path: Path, env: dict[str, str]) -> None:
    """A 250-character script name runs; ``--lock`` cannot add a suffix to it: one line, nothing written."""
    folder = tmp_path / "work"
    folder.mkdir()
    name = "a" * 247 + ".sh"
    (folder / name).write_text(HELLO_SCRIPT)
    assert_ok(run(name, env=env, cwd=folder), "hello from hello-tool")
    before = snapshot(folder)
    for options in ([], ["--lock-format", "explicit"]):
        result = run("--lock", *options, name, env=env, cwd=folder)
        line = assert_one_error(result, 1, "file name too long")
        assert "shorten the script's name" in line and ".ce-write-" not in line
        assert snapshot(folder) == before
    assert_ok(run("--lock", "--embed", name, env=env, cwd=folder), "hello from hello-tool")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names")
def test_the_verbose_traceback_is_escaped_too(tmp_path: Path, env: dict[str, str]) -> None:
    """``-v`` prints a traceback: the names in it are escaped as well."""
    result = run("-v", f"./evil{CONTROLS}.py", env=env, cwd=tmp_path)
    assert "Traceback" in result.stderr
    assert_no_raw_controls(result.stderr)
