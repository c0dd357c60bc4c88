"""A corpus of bad input: each gets exactly one clear error line, no traceback, and changes nothing.

Every case snapshots the cache home and the script directory before and
after the run; neither may change (beyond files the case itself prepared).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import run_ce

GOOD_SCRIPT = '# /// script\n# [tool.conda]\n# dependencies = ["python-dateutil"]\n# ///\nprint("hi")\n'
DIGEST_LINE = "# conda-exec-lock-input-sha256: "


@dataclass
class Case:
    """One bad input: the command line, how to prepare it, what must come back."""

    name: str
    args: list[str]
    code: int
    needle: str
    env: dict[str, str] = field(default_factory=dict)
    setup: Callable[[Path, Path, str], None] | None = None  # (script dir, ce home, channel url)


def _script(text: str, name: str = "s.py") -> Callable[[Path, Path, str], None]:
    def setup(folder: Path, _home: Path, _channel: str) -> None:
        (folder / name).write_text(text)

    return setup


def _digest_of_good_script() -> str:
    from ce.lockfiles import input_digest

    return input_digest([], [], ["python-dateutil"], [], None, [])


def _lock(
    body: str | bytes, name: str = "s.py.conda-exec.lock", digest: bool = True
) -> Callable[[Path, Path, str], None]:
    def setup(folder: Path, _home: Path, _channel: str) -> None:
        (folder / "s.py").write_text(GOOD_SCRIPT)
        header = (DIGEST_LINE + _digest_of_good_script() + "\n") if digest else ""
        data = body if isinstance(body, bytes) else body.encode()
        (folder / name).write_bytes(header.encode() + data)

    return setup


def _file_instead_of(relative: str) -> Callable[[Path, Path, str], None]:
    def setup(_folder: Path, home: Path, _channel: str) -> None:
        target = home / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("not a directory")

    return setup


def _symlinked_envs(_folder: Path, home: Path, _channel: str) -> None:
    outside = home.parent / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep me")
    home.mkdir()
    (home / "envs").symlink_to(outside)


V6_ONE = "version: 6\nenvironments:\n  default:\n    channels: []\n    packages:\n      linux-64:\n      - conda: {url}\npackages:\n- conda: {url}\n"
HOSTLESS = "https://h.invalid/c/linux-64/x-1-0.conda"

CASES = [
    # the command line
    Case("no tool", [], 2, "missing TOOL"),
    Case("unknown option", ["--frobnicate", "ruff"], 2, "unknown option --frobnicate (see ce --help)"),
    Case("abbreviated option", ["--over", "ruff"], 2, "unknown option --over; did you mean --override-channels?"),
    Case("option without value", ["ruff", "-c"], 127, ""),  # after TOOL: ruff's own -c; see below
    Case("-c without a value", ["-c"], 2, "expected one argument"),
    Case("locked for a tool", ["--locked", "ruff"], 2, "--locked only applies to scripts"),
    Case("list and clean", ["--list", "--clean"], 2, "cannot be combined"),
    Case("platform for a tool", ["--platform", "osx-64", "ruff"], 2, "--platform only applies to scripts"),
    Case("older-than not a number", ["--clean", "--older-than", "soon"], 2, "invalid float value"),
    Case("older-than negative", ["--clean", "--older-than", "-3"], 2, "days >= 0"),
    Case("all with older-than", ["--clean", "--all", "--older-than", "3"], 2, "cannot be combined"),
    Case("embed without lock", ["--embed", "ruff"], 2, "--embed goes with --lock"),
    Case("lock for a tool", ["--lock", "ruff"], 2, "only applies to scripts"),
    Case("unknown solver", ["--solver", "nope", "ruff"], 2, "unknown solver 'nope'"),
    Case("unknown runner", ["--runner", "nope", "ruff"], 2, "unknown runner 'nope'"),
    Case("activate and runner", ["--activate", "--runner", "path", "ruff"], 2, "cannot be combined"),
    # tool names and specs
    Case("relative path tool", ["../x"], 2, "no such script: ../x"),
    Case("absolute path tool", ["/nonexistent/tool"], 2, "no such script"),
    Case("dot tool", [".."], 2, "invalid tool name"),
    Case("very long tool name", ["x" * 300], 2, "longer than 255"),
    Case("tool with empty version", ["ruff@"], 2, "NAME@VERSION"),
    Case("bad --with", ["--with", "bad$name", "ruff"], 2, "invalid package name"),
    Case("empty --from", ["--from", "", "ruff"], 2, "empty package spec"),
    Case("newline in spec", ["--with", "a\nb", "ruff"], 2, "control characters"),
    Case("unknown package", ["no-such-package-anywhere"], 1, "no-such-package-anywhere"),
    Case("unsatisfiable pins", ["--with", "needs-x2", "needs-x1"], 1, "cannot solve"),
    # channels
    Case("ftp channel", ["-c", "ftp://example.invalid/c", "ruff"], 2, "unsupported URL scheme 'ftp'"),
    Case("empty channel", ["-c", "", "ruff"], 2, "empty channel"),
    Case("channel with space", ["-c", "a b", "--override-channels", "ruff"], 2, "invalid channel name"),
    Case("missing local channel", ["-c", "/nonexistent/channel", "--override-channels", "ruff"], 1, "channel"),
    Case("override without channels", ["--override-channels", "ruff"], 2, "needs at least one -c"),
    # script metadata
    Case(
        "two blocks", ["s.py"], 1, "s.py:5: a second", setup=_script("# /// script\n# ///\n\n\n# /// script\n# ///\n")
    ),
    Case("invalid toml", ["s.py"], 1, "s.py:2:7: invalid TOML", setup=_script("# /// script\n# a = = 1\n# ///\n")),
    Case(
        "bad requires-python",
        ["s.py"],
        1,
        "s.py:2: invalid requires-python",
        setup=_script("# /// script\n# requires-python = 'x'\n# ///\n"),
    ),
    Case(
        "binary script",
        ["s.py"],
        1,
        "a binary file",
        setup=lambda f, _h, _c: (f / "s.py").write_bytes(b"\x00\x01\x02" * 10),
    ),
    Case(
        "not utf-8",
        ["s.py"],
        1,
        "not valid UTF-8",
        setup=lambda f, _h, _c: (f / "s.py").write_bytes(b"print('\xff')\n"),
    ),
    Case(
        "add to a legacy block",
        ["--add", "six", "s.py"],
        1,
        "legacy",
        setup=_script("# conda execute\n# env:\n#  - six\n"),
    ),
    # lock files (with --locked, so a bad lock is an error rather than a warning)
    Case("truncated lock", ["--locked", "s.py"], 1, "unreadable lock", setup=_lock(V6_ONE.format(url=HOSTLESS)[:60])),
    Case(
        "wrong digest",
        ["--locked", "s.py"],
        1,
        "stale lock",
        setup=_lock(DIGEST_LINE + "0" * 64 + "\nversion: 6\n", digest=False),
    ),
    Case("no digest line", ["--locked", "s.py"], 1, "stale lock", setup=_lock("version: 6\n", digest=False)),
    Case(
        "wrong version",
        ["--locked", "s.py"],
        1,
        "unsupported rattler lock version 7",
        setup=_lock("version: 7\nenvironments: {}\npackages: []\n"),
    ),
    Case("binary garbage lock", ["--locked", "s.py"], 1, "unreadable lock", setup=_lock(bytes(range(256)) * 4)),
    Case(
        "lock without this platform",
        ["--locked", "s.py"],
        1,
        "no packages for",
        setup=_lock(V6_ONE.format(url=HOSTLESS).replace("linux-64:", "osx-64:", 1)),
    ),
    Case(
        "lock entry without hash",
        ["--locked", "s.py"],
        1,
        "no sha256 or md5",
        setup=_lock(V6_ONE.format(url="file:///nonexistent/linux-64/python-3.11.7-0.conda")),  # python: not stale
    ),
    Case(
        "lock entry without URL",
        ["--locked", "s.py"],
        1,
        "has no 'conda' URL",
        setup=_lock(V6_ONE.format(url=HOSTLESS).replace("packages:\n- conda", "packages:\n- condax")),
    ),
    Case(
        "lock reference missing",
        ["--locked", "s.py"],
        1,
        "missing from 'packages'",
        setup=_lock(
            V6_ONE.format(url=HOSTLESS).replace(
                "- conda: " + HOSTLESS + "\npackages", "- conda: https://h.invalid/c/linux-64/y-1-0.conda\npackages"
            )
        ),
    ),
    Case("huge lock", ["--locked", "s.py"], 1, "unreadable lock", setup=_lock("x" * (65 * 1024 * 1024))),
    Case(
        "explicit lock with a bad hash",
        ["--locked", "--lock-format", "explicit", "s.py"],
        1,
        "malformed hash",
        setup=_lock(f"# platform: linux-64\n@EXPLICIT\n{HOSTLESS}#nothex\n", name="s.py.linux-64.explicit.txt"),
    ),
    # environment variables
    Case("unknown CONDA_SUBDIR", ["ruff"], 1, "unknown platform 'beos-64'", env={"CONDA_SUBDIR": "beos-64"}),
    Case("ftp CONDA_CHANNELS", ["ruff"], 2, "unsupported URL scheme", env={"CONDA_CHANNELS": "ftp://x/y"}),
    # cache state
    Case(
        "cache home is a file",
        ["ruff"],
        1,
        "is not a directory",
        setup=lambda _f, h, _c: (h.parent.mkdir(exist_ok=True), h.write_text("file"))[0],
    ),
    Case("envs is a file", ["ruff"], 1, "exists and is not a directory", setup=_file_instead_of("envs")),
    Case("locks is a file", ["ruff"], 1, "exists and is not a directory", setup=_file_instead_of("envs/.locks")),
    Case("symlinked envs", ["ruff"], 1, "is a symbolic link", setup=_symlinked_envs),
    Case("symlinked envs, clean", ["--clean", "--all", "-y"], 1, "is a symbolic link", setup=_symlinked_envs),
]
CASES = [case for case in CASES if case.name != "option without value"]


def _snapshot(*roots: Path) -> dict[str, str]:
    state: dict[str, str] = {}
    for root in roots:
        if not root.exists() and not root.is_symlink():
            continue
        for path in [root, *sorted(root.rglob("*"))]:
            if path.is_symlink():
                state[str(path)] = "link:" + os.readlink(path)
            elif path.is_file():
                state[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                state[str(path)] = "dir"
    return state


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input(case: Case, tmp_path: Path, ce_home: Path, channel_url: str) -> None:
    folder = tmp_path / "scripts"
    folder.mkdir()
    if case.setup is not None:
        case.setup(folder, ce_home, channel_url)
    env = dict(os.environ, CONDA_CHANNELS=channel_url)
    env.update(case.env)
    outside = tmp_path / "outside"
    before = _snapshot(ce_home, folder, outside)
    result = run_ce(*case.args, env=env, cwd=folder)
    assert result.returncode == case.code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("ce: error: ") and case.needle in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    after = _snapshot(ce_home, folder, outside)
    # Lock directories that a failed build creates are allowed; nothing else.
    created = {path for path in set(after) - set(before) if "/envs/.locks" not in path and not path.endswith("/envs")}
    created -= {str(ce_home)}
    assert created == set()
    assert {path: after[path] for path in before} == before


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40
