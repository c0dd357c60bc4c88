"""Parsing script metadata exactly as PEP 723 says, plus the legacy conda-execute block."""

from __future__ import annotations

import re
import textwrap

import pytest

from ce.errors import ScriptError
from ce.script.blocks import find_blocks
from ce.script.metadata import parse_metadata

FULL = textwrap.dedent(
    """\
    #!/usr/bin/env -S ce
    # /// script
    # requires-python = ">=3.11"
    # dependencies = ["requests<3", "rich"]
    #
    # [tool.conda]
    # channels = ["conda-forge"]
    # dependencies = ["python-dateutil", "numpy >=1.26"]
    # ///
    print("hi")
    """
)


def test_full_block() -> None:
    meta = parse_metadata(FULL, "s.py")
    assert meta.source == "pep723"
    assert meta.requires_python == ">=3.11"
    assert meta.pypi_dependencies == ("requests<3", "rich")
    assert meta.conda_channels == ("conda-forge",)
    assert meta.conda_dependencies == ("python-dateutil", "numpy >=1.26")  # as written
    assert meta.run_with is None
    assert not meta.names_python  # python-dateutil is not python


def test_no_metadata() -> None:
    meta = parse_metadata("print('hi')\n", "s.py")
    assert meta.source == "none" and meta.conda_dependencies == ()


def test_other_block_types_are_not_script_metadata() -> None:
    text = "# /// conda-exec-lock\n# not = toml = at all\n# ///\n\n# /// other\n# x\n# ///\nprint()\n"
    assert parse_metadata(text, "s.py").source == "none"


def test_run_with_and_python_named_exactly() -> None:
    text = (
        '# /// script\n# [tool.conda]\n# dependencies = ["python 3.11.*", "bash"]\n# run-with = ["bash", "-e"]\n# ///\n'
    )
    meta = parse_metadata(text, "s.sh")
    assert meta.names_python and meta.run_with == ("bash", "-e")


def test_closing_line_is_the_last_one_of_the_comment_run() -> None:
    # PEP 723: '# ///' inside the content does not end the block when valid content follows.
    text = '# /// script\n# dependencies = [\n# ///\n#   "rich",\n# ]\n# ///\nx = 1\n'
    with pytest.raises(ScriptError, match=r"s.py:3:3: invalid TOML"):
        parse_metadata(text, "s.py")
    blocks, _ = find_blocks(text)
    assert [(b.start_line, b.end_line) for b in blocks] == [(1, 6)]


def test_adjacent_blocks_without_a_separator_read_as_one() -> None:
    text = "# /// script\n# dependencies = []\n# ///\n# /// conda-exec-lock\n# x\n# ///\n"
    blocks, _ = find_blocks(text)
    assert len(blocks) == 1
    separated = "# /// script\n# dependencies = []\n# ///\n\n# /// conda-exec-lock\n# x\n# ///\n"
    assert [b.type for b in find_blocks(separated)[0]] == ["script", "conda-exec-lock"]


def test_crlf_line_endings() -> None:
    text = '# /// script\r\n# dependencies = ["rich"]\r\n# ///\r\n'
    assert parse_metadata(text, "s.py").pypi_dependencies == ("rich",)


def test_legacy_conda_execute_block() -> None:
    text = textwrap.dedent(
        """\
        #!/usr/bin/env python
        # conda execute
        # env:
        #  - python >=3
        #  - numpy
        # channels:
        #  - conda-forge
        # run_with: [/usr/bin/env, python]
        import numpy
        """
    )
    meta = parse_metadata(text, "old.py")
    assert meta.source == "conda-execute"
    assert meta.conda_dependencies == ("python >=3", "numpy")
    assert meta.conda_channels == ("conda-forge",)
    assert meta.run_with == ("/usr/bin/env", "python")


def test_conda_execute_block_without_env_warns() -> None:
    """conda-execute ignores unknown keys and runs without env; ce too, but says so (a typo like `envs:`)."""
    meta = parse_metadata("# conda execute\n# envs:\n#  - numpy\n", "old.py")
    assert meta.source == "conda-execute" and meta.conda_dependencies == ()
    (warning,) = meta.warnings
    assert warning.startswith("old.py:1: ") and "no env:" in warning and "envs" in warning
    assert parse_metadata("# conda execute\n# env: [six]\n# summary: x\n", "old.py").warnings == ()


def test_unknown_keys_warn_with_their_line() -> None:
    text = '# /// script\n# dependencies = []\n# colour = "blue"\n# [tool.conda]\n# flavour = 1\n# ///\n'
    meta = parse_metadata(text, "s.py")
    assert any(w.startswith("s.py:3:") and "colour" in w for w in meta.warnings)
    assert any(w.startswith("s.py:5:") and "flavour" in w for w in meta.warnings)


def test_an_unclosed_block_is_ignored() -> None:
    """PEP 723: an unclosed block MUST be ignored (here a usage example after the real block)."""
    text = '# /// script\n# dependencies = ["six"]\n# ///\n"""Example:\n# /// script\n# dependencies = []\n"""\n'
    assert parse_metadata(text, "s.py").pypi_dependencies == ("six",)
    assert parse_metadata("x = 1\n# /// script\n# dependencies = []\nprint()\n", "s.py").source == "none"


BAD = [
    ("# /// script\n# dependencies = []\n# ///\n\n# /// script\n# dependencies = []\n# ///\n", 5, "second"),
    ("# /// script\n# dependencies = [\n# ///\n", 3, "invalid TOML"),
    ("# /// script\n# requires-python = 3\n# ///\n", 2, "requires-python must be a string"),
    ("# /// script\n# requires-python = 'banana'\n# ///\n", 2, "invalid requires-python"),
    ("# /// script\n# dependencies = 'rich'\n# ///\n", 2, "dependencies must be a list"),
    ("# /// script\n# dependencies = ['rich', '']\n# ///\n", 2, "non-empty strings"),
    ("# /// script\n# dependencies = ['not a requirement!!']\n# ///\n", 2, "invalid PyPI dependency"),
    ("# /// script\n#\n# [tool.conda]\n# channels = 'conda-forge'\n# ///\n", 4, "channels must be a list"),
    ("# /// script\n# [tool.conda]\n# dependencies = ['ok', 'bad$name']\n# ///\n", 3, "invalid conda dependency"),
    ("# /// script\n# [tool.conda]\n# run-with = 'bash'\n# ///\n", 3, "run-with must be a list"),
    ("# /// script\n# tool = 3\n# ///\n", 2, "tool must be a table"),
    ("# /// script\n# [tool]\n# conda = 1\n# ///\n", 3, "[tool.conda] must be a table"),
    ("# /// script\n# a = 1\n# a = 2\n# ///\n", 3, "invalid TOML"),
    ("# conda execute\n# env: [python\n", 2, "invalid conda execute block"),
    ("# conda execute\n# env: numpy\n", 2, "env must be a list"),
]


@pytest.mark.parametrize(("text", "line", "needle"), BAD)
def test_malformed_metadata_names_the_line(text: str, line: int, needle: str) -> None:
    with pytest.raises(ScriptError) as caught:
        parse_metadata(text, "bad.py")
    message = str(caught.value)
    assert re.match(rf"bad\.py:{line}(:\d+)?: ", message), message  # a TOML error adds its column
    assert needle in message
    assert "\n" not in message
