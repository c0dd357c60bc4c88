"""A broken metadata block is never silent (issue 23, item 4).

An unclosed ``# /// script`` block (or one a blank line cuts short) is still ignored, as
PEP 723 requires, but ce warns with the file and line and says what ended it; uv refuses
such a script outright. A TOML error names its line and column in the file; on a terminal
or with ``-v`` the offending line and a caret follow the one-line error, as uv shows them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import peers
from conftest import run_ce

RUNS = 'import sys\nprint("ran", sys.version.split()[0])\n'
#: Never metadata, and PEP 723 ignores it unclosed: no warning of its own.
OTHER_UNCLOSED = "# /// other-tool\n# anything\nx = 1\n"


def _warnings(text: str) -> tuple[str, ...]:
    from ce.script.metadata import parse_metadata

    metadata = parse_metadata(text, "s.py")
    assert metadata.source == "none"  # the broken block is still ignored (PEP 723)
    return metadata.warnings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            '# /// script\n# dependencies = ["rich"]\n#\n',
            r"s\.py:1: no '# ///' line closes the '# /// script' block: it is ignored \(PEP 723\)",
            id="end of file",
        ),
        pytest.param(
            '# /// script\n# dependencies = ["rich"]\n\n# requires-python = ">=3.8"\n# ///\n' + RUNS,
            r"s\.py:3: a blank line ends the '# /// script' block of line 1 before any '# ///' "
            r"\(inside a block, write '#' for an empty line\): it is ignored",
            id="blank line inside",
        ),
        pytest.param(
            '# /// script\n# dependencies = ["rich"]\n' + RUNS,
            r"s\.py:1: the '# /// script' block ends at line 3 \(not a '#' comment\) without a '# ///' line",
            id="code line",
        ),
    ],
)
def test_an_unclosed_script_block_warns_with_its_line(text: str, expected: str) -> None:
    warnings = _warnings(OTHER_UNCLOSED + "\n" + text)
    assert len(warnings) == 1, warnings  # the unclosed '# /// other-tool' block says nothing
    shifted = re.sub(r"(?<=s\\\.py:)\d", lambda m: str(int(m.group()) + 4), expected)  # OTHER_UNCLOSED's 4 lines
    shifted = re.sub(r"(?<=of line )\d|(?<=at line )\d", lambda m: str(int(m.group()) + 4), shifted)
    assert re.match(shifted, warnings[0]), warnings[0]


def test_an_unclosed_example_beside_the_real_block_does_not_warn() -> None:
    from ce.script.metadata import parse_metadata

    example = '"""Usage:\n# /// script\n# dependencies = ["requests"]\n"""\n'
    assert len(parse_metadata(example, "s.py").warnings) == 1  # alone, it is the script's broken metadata
    real = parse_metadata('# /// script\n# dependencies = ["six"]\n# ///\n' + example, "s.py")
    assert (real.pypi_dependencies, real.warnings) == (("six",), ())


def test_a_toml_error_names_the_line_and_column_in_the_file(tmp_path: Path) -> None:
    """uv counts lines and columns in the block's content; ce in the file (the line and its ``# `` added)."""
    from ce.errors import ScriptError
    from ce.script.metadata import parse_metadata

    text = '# /// script\n# dependencies = ["rich"]\n# x = = 3\n# ///\n' + RUNS
    path = tmp_path / "s.py"
    path.write_text(text)
    uv = peers.uv_run_script(path, tmp_path)
    found = re.search(r"TOML parse error at line (\d+), column (\d+)\n.*\n\d+ \| (.*)\n", uv.stderr)
    assert uv.returncode != 0 and found, uv.stderr
    uv_line, uv_column, uv_source = int(found.group(1)), int(found.group(2)), found.group(3)
    with pytest.raises(ScriptError) as caught:
        parse_metadata(text, "s.py")
    assert str(caught.value).startswith(f"s.py:{uv_line + 1}:{uv_column + 2}: invalid TOML in the script metadata")
    assert caught.value.excerpt == (uv_line + 1, "# " + uv_source, uv_column + 2)


def test_the_caret_sits_under_the_column_of_the_escaped_line() -> None:
    from ce.cli import excerpt_lines

    assert excerpt_lines(12, '# x = "a\tb" = = 3', 15) == [
        '12 | # x = "a\\tb" = = 3',
        "   |                ^",
    ]


def test_the_cli_shows_the_line_and_caret_with_verbose_only(tmp_path: Path, channel_url: str) -> None:
    path = tmp_path / "s.py"
    path.write_text("# /// script\n# dependencies = []\n# a = = 1\n# ///\n" + RUNS)
    env = dict(os.environ, CONDA_CHANNELS=channel_url)
    quiet = run_ce(str(path), env=env)
    assert quiet.returncode == 1
    assert quiet.stderr.splitlines() == [
        f"ce: error: {path}:3:7: invalid TOML in the script metadata block: Invalid value"
    ], quiet.stderr
    verbose = run_ce("-v", str(path), env=env)
    assert verbose.returncode == 1
    assert verbose.stderr.splitlines()[-3:] == [
        f"ce: error: {path}:3:7: invalid TOML in the script metadata block: Invalid value",
        "3 | # a = = 1",
        "  |       ^",
    ], verbose.stderr


def test_the_cli_warns_and_runs_where_uv_refuses(tmp_path: Path, channel_url: str) -> None:
    path = tmp_path / "s.py"
    path.write_text('# /// script\n# dependencies = []\n\n# requires-python = ">=3.8"\n# ///\n' + RUNS)
    uv = peers.uv_run_script(path, tmp_path)
    assert uv.returncode != 0 and "without a closing tag" in uv.stderr, uv.stderr
    result = run_ce(str(path), env=dict(os.environ, CONDA_CHANNELS=channel_url))
    assert result.returncode == 0 and result.stdout.startswith("ran "), result.stderr
    assert f"ce: warning: {path}:3: a blank line ends the '# /// script' block of line 1" in result.stderr
