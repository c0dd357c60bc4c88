"""Nothing foreign runs: locks, channel names and script metadata cannot be turned against the user."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hostile.support import (
    HELLO_SCRIPT,
    archive_of,
    assert_ok,
    assert_one_error,
    explicit_lock,
    generic,
    lock_digest,
    make_channel,
    run,
    script_folder,
    sh,
    snapshot,
)

FOO_SCRIPT = '# /// script\n# [tool.conda]\n# dependencies = ["foo"]\n# run-with = ["foo"]\n# ///\n'


def _foo_channel(root: Path, says: str) -> Path:
    return make_channel(root, [generic("foo", [sh("bin/foo", f'echo "foo from {says}"')])])


def test_md5_only_lock_never_links_another_cached_build_of_the_same_name(
    tmp_path: Path, own_rattler_cache: Path
) -> None:
    """Bullet 'foreign code runs from a lock': the package cache holds foo-1.0-0 from channel A;
    a lock with only the md5 of channel B's foo-1.0-0 must run B's (or refuse), never A's."""
    channel_a = _foo_channel(tmp_path / "a", "channel-a")
    channel_b = _foo_channel(tmp_path / "b", "channel-b")
    assert_ok(run("-c", channel_a.as_uri(), "--override-channels", "foo"), "foo from channel-a")
    url, md5, _sha256 = archive_of(channel_b, "foo-1.0-0")
    folder = script_folder(tmp_path, "s.foo", FOO_SCRIPT)
    (folder / "s.foo.linux-64.explicit.txt").write_text(explicit_lock(lock_digest(["foo"]), [f"{url}#{md5}"]))
    result = run("--locked", "--lock-format", "explicit", "./s.foo", cwd=folder)  # a path: .foo is no script suffix
    assert "foo from channel-a" not in result.stdout, "a different cached build was linked"
    assert_ok(result, "foo from channel-b")


def test_md5_only_lock_with_a_tampered_archive_is_refused(tmp_path: Path, own_rattler_cache: Path) -> None:
    """Own case: the md5 in the lock does not match the archive: one error, nothing run, no env."""
    channel_a = _foo_channel(tmp_path / "a", "channel-a")
    url, _md5, _ = archive_of(channel_a, "foo-1.0-0")
    folder = script_folder(tmp_path, "s.foo", FOO_SCRIPT)
    (folder / "s.foo.linux-64.explicit.txt").write_text(explicit_lock(lock_digest(["foo"]), [f"{url}#{'0' * 32}"]))
    result = run("--locked", "--lock-format", "explicit", "./s.foo", cwd=folder)  # a path: .foo is no script suffix
    assert_one_error(result, 1, "mismatch")
    assert "foo from" not in result.stdout


def _hijack_setup(tmp_path: Path, channel: Path) -> tuple[Path, dict[str, str]]:
    """A working folder holding a hostile ``conda-forge/`` channel, and a channel alias serving the real one."""
    work = tmp_path / "clone"
    make_channel(work / "conda-forge", [generic("hello-tool", [sh("bin/hello", "echo HIJACKED")], version="99.0")])
    alias = tmp_path / "alias"
    alias.mkdir()
    (alias / "conda-forge").symlink_to(channel)
    env = dict(os.environ, CONDA_CHANNEL_ALIAS=alias.as_uri())
    return work, env


@pytest.mark.parametrize(
    "options", [[], ["-c", "conda-forge"], ["-c", "conda-forge", "--override-channels"]], ids=["default", "c", "c-only"]
)
def test_a_conda_forge_directory_in_the_cwd_never_replaces_the_channel(
    tmp_path: Path, channel: Path, options: list[str]
) -> None:
    """Bullet 'a channel name is hijacked by a directory' (cold and warm run)."""
    work, env = _hijack_setup(tmp_path, channel)
    for _ in range(2):  # the first run builds, the second is the warm path
        result = run(*options, "--from", "hello-tool", "hello", env=env, cwd=work)
        assert "HIJACKED" not in result.stdout
        assert_ok(result, "hello from hello-tool")


def test_a_path_written_as_a_path_is_still_a_local_channel(tmp_path: Path, channel: Path) -> None:
    """Own case, the other side of the rule: ``./conda-forge`` is the directory."""
    work, env = _hijack_setup(tmp_path, channel)
    result = run("-c", "./conda-forge", "--override-channels", "--from", "hello-tool", "hello", env=env, cwd=work)
    assert_ok(result, "HIJACKED")


def test_a_bare_name_that_is_a_directory_in_the_cwd_is_a_name_in_script_metadata(tmp_path: Path, channel: Path) -> None:
    """Own case: ``channels = ["conda-forge"]`` in a script's metadata is a name too."""
    work, env = _hijack_setup(tmp_path, channel)
    (work / "s.sh").write_text(HELLO_SCRIPT.replace("# run-with", '# channels = ["conda-forge"]\n# run-with'))
    result = run("s.sh", env=env, cwd=work)
    assert "HIJACKED" not in result.stdout
    assert_ok(result, "hello from hello-tool")


#: Characters str.splitlines() breaks on that are not line breaks for PEP 723, Python or editors.
TOML_LEGAL = {"U+0085": "\x85", "U+2028": "\u2028", "U+2029": "\u2029"}
TOML_ILLEGAL = {"U+001C": "\x1c", "U+001D": "\x1d", "U+001E": "\x1e", "U+000B": "\x0b", "U+000C": "\x0c"}


def _hidden_channel_script(evil: Path, separator: str) -> str:
    return (
        "# /// script\n# [tool.conda]\n"
        f'# dependencies = ["hello-tool"]  # pinned{separator}# channels = ["{evil.as_uri()}"]\n'
        '# run-with = ["hello"]\n# ///\n'
    )


@pytest.mark.parametrize("separator", list({**TOML_LEGAL, **TOML_ILLEGAL}.values()), ids=[*TOML_LEGAL, *TOML_ILLEGAL])
def test_unicode_line_separators_in_a_comment_do_not_add_metadata(
    tmp_path: Path, env: dict[str, str], separator: str
) -> None:
    """Bullet 'hidden dependencies': a separator inside a metadata comment line starts no new line.

    Legal in a TOML comment (U+0085, U+2028, U+2029): the script runs with the visible
    metadata only. Illegal there (C0 controls): one error naming the file, nothing run.
    """
    evil = make_channel(tmp_path / "evil", [generic("hello-tool", [sh("bin/hello", "echo HIJACKED")], version="99.0")])
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "s.sh").write_text(_hidden_channel_script(evil, separator), encoding="utf-8", newline="")
    for _ in range(2):  # cold, then through the script index
        result = run("s.sh", env=env, cwd=folder)
        assert "HIJACKED" not in result.stdout
        if separator in TOML_LEGAL.values():
            assert_ok(result, "hello from hello-tool")
        else:
            assert_one_error(result, 1, "s.sh:3")


@pytest.mark.parametrize("separator", ["\x85", "\u2028", "\x1c"], ids=["U+0085", "U+2028", "U+001C"])
def test_add_keeps_a_line_with_a_unicode_separator_intact(tmp_path: Path, separator: str) -> None:
    """Own case: ``--add`` treats the separator as part of its line and changes no other byte."""
    folder = tmp_path / "work"
    folder.mkdir()
    text = f'# /// script\n# [tool.conda]\n# dependencies = ["hello-tool"]\n# ///\n# note{separator}# x\nprint(1)\n'
    (folder / "s.py").write_text(text, encoding="utf-8", newline="")
    result = run("--add", "six", "s.py", cwd=folder)
    assert_ok(result)
    new = (folder / "s.py").read_bytes().decode("utf-8")
    assert f"# note{separator}# x\nprint(1)\n" in new
    assert new.count("\n") == text.count("\n") + 1 or new.count("\n") == text.count("\n")


def test_a_hidden_separator_in_a_lock_block_does_not_add_packages(tmp_path: Path, env: dict[str, str]) -> None:
    """Own case: the embedded ``conda-exec-lock`` block is read with the same line rule."""
    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    assert_ok(run("--lock", "--embed", "s.sh", env=env, cwd=folder))
    text = (folder / "s.sh").read_text()
    evil = make_channel(tmp_path / "evil", [generic("evil-pkg", [sh("bin/evil", "echo HIJACKED")])])
    url, md5, _ = archive_of(evil, "evil-pkg-1.0-0")
    lines = text.split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("# @EXPLICIT") or "conda:" in line)
    lines[at] += f"\x85# - conda: {url}#{md5}"
    (folder / "s.sh").write_text("\n".join(lines), encoding="utf-8", newline="")
    before = snapshot(folder)
    result = run("--locked", "s.sh", env=env, cwd=folder)
    assert "HIJACKED" not in result.stdout
    if result.returncode == 0:
        assert_ok(result, "hello from hello-tool")
    else:
        assert_one_error(result, 1)
    assert snapshot(folder) == before
