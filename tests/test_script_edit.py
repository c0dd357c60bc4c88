"""``--add`` edits the metadata with tomlkit and leaves every other byte alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ce.errors import CeError, ScriptError
from ce.script.edit import add_dependencies, edit_text
from conftest import run_ce


def test_adds_to_an_existing_table_keeping_comments_spacing_and_quotes() -> None:
    before = (
        "#!/usr/bin/env -S ce\n"
        "# /// script\n"
        "# requires-python = '>=3.11'   # single quotes, odd spacing\n"
        "# dependencies = [ 'requests<3' ]\n"
        "#\n"
        "# [tool.conda]\n"
        "# channels   =   ['conda-forge']  # where from\n"
        "# dependencies = [\n"
        "#     'numpy',  # arrays\n"
        "# ]\n"
        "# ///\n"
        "\n"
        "import numpy  # code after the block\n"
    )
    after, changes = edit_text(before, ["python-dateutil"], "s.py")
    expected = before.replace(
        "#     'numpy',  # arrays\n# ]\n", "#     'numpy',  # arrays\n#     \"python-dateutil\",\n# ]\n"
    )
    assert after == expected
    assert changes == ["added 'python-dateutil' to [tool.conda] dependencies"]


def test_replaces_a_dependency_with_the_same_name_in_place() -> None:
    before = "# /// script\n# [tool.conda]\n# dependencies = [\"numpy\", 'six']  # keep me\n# ///\nx = 1\n"
    after, changes = edit_text(before, ["numpy >=2"], "s.py")
    assert after == "# /// script\n# [tool.conda]\n# dependencies = [\"numpy>=2\", 'six']  # keep me\n# ///\nx = 1\n"
    assert changes == ["replaced 'numpy' with 'numpy>=2' in [tool.conda] dependencies"]
    again, changes = edit_text(after, ["numpy>=2"], "s.py")
    assert again == after and "kept" in changes[0]


def test_creates_the_conda_table_in_an_existing_block() -> None:
    before = '# /// script\n# requires-python = ">=3.11"\n# dependencies = ["rich"]\n# ///\nprint()\n'
    after, _ = edit_text(before, ["six"], "s.py")
    assert after == (
        '# /// script\n# requires-python = ">=3.11"\n# dependencies = ["rich"]\n#\n'
        '# [tool.conda]\n# dependencies = ["six"]\n# ///\nprint()\n'
    )


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            "print('hi')\n",
            "# /// script\n# [tool.conda]\n# dependencies = [\"six\"]\n# ///\n\nprint('hi')\n",
        ),
        (
            "#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n# a comment\nprint()\n",
            "#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n"
            '# /// script\n# [tool.conda]\n# dependencies = ["six"]\n# ///\n\n# a comment\nprint()\n',
        ),
        (
            "#!/bin/sh\n\necho hi\n",
            '#!/bin/sh\n# /// script\n# [tool.conda]\n# dependencies = ["six"]\n# ///\n\necho hi\n',
        ),
        ("", '# /// script\n# [tool.conda]\n# dependencies = ["six"]\n# ///\n'),
        (
            "#!/usr/bin/env python",
            '#!/usr/bin/env python\n# /// script\n# [tool.conda]\n# dependencies = ["six"]\n# ///\n',
        ),
        (
            "#!/usr/bin/env python\r\nprint()\r\n",
            '#!/usr/bin/env python\r\n# /// script\r\n# [tool.conda]\r\n# dependencies = ["six"]\r\n# ///\r\n'
            "\r\nprint()\r\n",
        ),
    ],
)
def test_creates_a_block_after_shebang_and_encoding(before: str, after: str) -> None:
    assert edit_text(before, ["six"], "s.py")[0] == after


def test_crlf_block_is_edited_with_crlf() -> None:
    before = '# /// script\r\n# [tool.conda]\r\n# dependencies = ["a"]\r\n# ///\r\nx = 1\r\n'
    after, _ = edit_text(before, ["b"], "s.py")
    assert after == '# /// script\r\n# [tool.conda]\r\n# dependencies = ["a", "b"]\r\n# ///\r\nx = 1\r\n'


def test_other_blocks_and_code_are_untouched() -> None:
    before = (
        "# /// script\n# [tool.conda]\n# dependencies = []\n# ///\n\n"
        "# /// conda-exec-lock\n# # conda-exec-lock-input-sha256: abc\n# ///\n"
        'DATA = """\n# /// not a block\n"""\n'
    )
    after, _ = edit_text(before, ["six"], "s.py")
    assert after == before.replace("# dependencies = []", '# dependencies = ["six"]')


def test_refuses_malformed_metadata_and_legacy_blocks() -> None:
    with pytest.raises(ScriptError, match=r"s.py:2:7: invalid TOML"):
        edit_text("# /// script\n# x = = 1\n# ///\n", ["six"], "s.py")
    with pytest.raises(ScriptError, match="legacy"):
        edit_text("# conda execute\n# env:\n#  - numpy\n", ["six"], "s.py")
    with pytest.raises(ScriptError, match=r"s.py:3: dependencies must be a list"):
        edit_text("# /// script\n# [tool.conda]\n# dependencies = 'x'\n# ///\n", ["six"], "s.py")


def test_add_writes_atomically_keeps_the_mode_and_does_not_run(tmp_path: Path, ce_home: Path) -> None:
    script = tmp_path / "tool.py"
    script.write_bytes(b"#!/usr/bin/env -S ce\nraise SystemExit('must not run')\n")
    script.chmod(0o754)
    result = run_ce("--add", "six", "--add", "python-dateutil>=2", str(script))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{script}: added 'six' to [tool.conda] dependencies",
        f"{script}: added 'python-dateutil>=2' to [tool.conda] dependencies",
    ]
    assert stat.S_IMODE(script.stat().st_mode) == 0o754
    assert script.read_bytes() == (
        b"#!/usr/bin/env -S ce\n# /// script\n# [tool.conda]\n"
        b'# dependencies = ["six", "python-dateutil>=2"]\n# ///\n\n'
        b"raise SystemExit('must not run')\n"
    )
    assert not (ce_home / "envs").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".ce-")] == []


def test_add_leaves_the_file_alone_on_error(tmp_path: Path) -> None:
    script = tmp_path / "bad.py"
    original = b"# /// script\n# dependencies = [\n# ///\n"
    script.write_bytes(original)
    result = run_ce("--add", "six", str(script))
    assert result.returncode == 1
    assert f"{script}:3:" in result.stderr
    assert script.read_bytes() == original


def test_add_rejects_a_bad_spec(tmp_path: Path) -> None:
    folder = tmp_path / "scripts"
    folder.mkdir()
    script = folder / "s.py"
    script.write_text("print()\n")
    with pytest.raises(CeError, match="invalid package name"):
        add_dependencies(str(script), ["bad$name"])
    assert script.read_text() == "print()\n"
    assert os.listdir(folder) == ["s.py"]
    result = run_ce("--add", "bad$name", str(script))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
