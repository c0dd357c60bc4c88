"""Helpers of the hostile-input suite: running ce, judging its answer, building hostile channels.

Everything lives under pytest's tmp dirs (or a temporary directory under /tmp that a
fixture removes, for runs as an unprivileged user).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest
import tomllib

import build_test_channel as btc
from build_test_channel import Package, PkgFile

#: How a crashed interpreter or a Rust panic shows on stderr.
CRASH_MARKERS = ("Traceback", "panicked at", "RUST_BACKTRACE", "Segmentation fault", "Fatal Python error")
UNPRIVILEGED = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


_CAN_IMPORT_CE: dict[tuple[str, ...], str | None] = {}


def skip_unless_ce_runs_behind(prefix: Sequence[str]) -> None:
    """Skip the test, with the reason, when ce cannot even be imported behind *prefix* (another user).

    A clone inside a private directory (a 0700 home, ``mktemp -d``) is out of that user's reach: such a
    run would fail for where the repository lies, not for anything ce does.
    """
    key = tuple(prefix)
    if key not in _CAN_IMPORT_CE:
        done = subprocess.run(
            [*prefix, sys.executable, "-c", "import ce"], capture_output=True, text=True, timeout=60, check=False
        )
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        _CAN_IMPORT_CE[key] = None if done.returncode == 0 else reason
    if _CAN_IMPORT_CE[key] is not None:
        pytest.skip(f"ce cannot run as another user from this clone ({' '.join(prefix)}): {_CAN_IMPORT_CE[key]}")


def ce_command(*args: str) -> list[str]:
    """The argv of ``python -m ce ARGS``."""
    return [sys.executable, "-m", "ce", *args]


def run(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    prefix: Sequence[str] = (),
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ce (optionally behind a *prefix* such as :data:`UNPRIVILEGED`) and capture its output."""
    if prefix:
        skip_unless_ce_runs_behind(prefix)
    return subprocess.run(
        [*prefix, *ce_command(*args)],
        capture_output=True,
        text=True,
        errors="replace",
        env=env if env is not None else dict(os.environ),
        cwd=cwd,
        timeout=timeout,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )


def assert_no_crash(result: subprocess.CompletedProcess[str]) -> None:
    """No traceback, no panic, no death by signal."""
    assert result.returncode >= 0, f"killed by signal {-result.returncode}: {result.stderr[-2000:]}"
    assert result.returncode not in (134, 139), result.stderr[-2000:]
    for marker in CRASH_MARKERS:
        assert marker not in result.stderr, result.stderr[-3000:]


def assert_ok(result: subprocess.CompletedProcess[str], stdout: str | None = None) -> None:
    """Exit 0, no crash, and *stdout* (if given) in the output."""
    assert_no_crash(result)
    assert result.returncode == 0, result.stderr[-3000:]
    if stdout is not None:
        assert stdout in result.stdout, (result.stdout, result.stderr)


def error_lines(stderr: str) -> list[str]:
    """The ``ce: error:`` lines of *stderr*."""
    return [line for line in stderr.splitlines() if line.startswith("ce: error:")]


def assert_one_error(
    result: subprocess.CompletedProcess[str], code: int | Iterable[int] = 1, needle: str | Iterable[str] = ""
) -> str:
    """Exit *code*, exactly one ``ce: error:`` line (containing one of *needle*), nothing crashed."""
    assert_no_crash(result)
    codes = {code} if isinstance(code, int) else set(code)
    assert result.returncode in codes, (result.returncode, result.stderr[-3000:])
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr[-3000:]
    needles = [needle] if isinstance(needle, str) else list(needle)
    assert any(n.lower() in lines[0].lower() for n in needles), lines[0]
    return lines[0]


def snapshot(*roots: Path) -> dict[str, str]:
    """Every path under *roots* with its content hash (files), link target (links) and mtime."""
    state: dict[str, str] = {}
    for root in roots:
        if not root.exists() and not root.is_symlink():
            continue
        for path in [root, *sorted(root.rglob("*"))]:
            info = path.lstat()
            if path.is_symlink():
                state[str(path)] = f"link:{os.readlink(path)}"
            elif path.is_file():
                state[str(path)] = f"{hashlib.sha256(path.read_bytes()).hexdigest()}:{info.st_mtime_ns}"
            else:
                state[str(path)] = f"dir:{info.st_mtime_ns}" if path != root else "dir"
    return state


def script_metadata(text: str) -> dict[str, object]:
    """The ``# /// script`` block of *text*, parsed the way PEP 723's reference code does."""
    regex = r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$"
    matches = [m for m in re.finditer(regex, text) if m.group("type") == "script"]
    assert len(matches) == 1, text[:2000]
    content = "".join(
        line[2:] if line.startswith("# ") else line[1:]
        for line in matches[0].group("content").splitlines(keepends=True)
    )
    return tomllib.loads(content)


def conda_dependencies(text: str) -> list[str]:
    """``[tool.conda] dependencies`` of a script's text."""
    tool = script_metadata(text).get("tool", {})
    assert isinstance(tool, dict)
    return list(tool.get("conda", {}).get("dependencies", []))


# --------------------------------------------------------------------------
# Hostile channels
# --------------------------------------------------------------------------


def sh(path: str, body: str) -> PkgFile:
    """An executable ``#!/bin/sh`` file of a package."""
    return PkgFile(path, ("#!/bin/sh\n" + body.strip("\n") + "\n").encode(), 0o755)


def generic(name: str, files: list[PkgFile], version: str = "1.0", build: str = "0", **kwargs: object) -> Package:
    """A ``noarch: generic`` package."""
    return Package(name=name, version=version, build=build, subdir="noarch", files=files, noarch="generic", **kwargs)  # type: ignore[arg-type]


def make_channel(root: Path, packages: Sequence[Package], *, rename: dict[str, str] | None = None) -> Path:
    """A local channel at *root* holding *packages* (repodata for every subdir).

    *rename* maps an archive stem to the stem its file and repodata entry get instead
    (so the repodata's name differs from the archive's own ``info/index.json``).
    """
    records: dict[str, dict[str, dict[str, object]]] = {}
    for subdir in btc.SUBDIRS:
        (root / subdir).mkdir(parents=True, exist_ok=True)
    for package in packages:
        archive = btc.write_conda(package, root / package.subdir)
        record = btc.repodata_record(package, archive)
        new_stem = (rename or {}).get(package.stem)
        if new_stem is not None:
            archive = archive.rename(archive.with_name(new_stem + ".conda"))
            record["name"], record["version"], record["build"] = new_stem.rsplit("-", 2)
        records.setdefault(package.subdir, {})[archive.name] = record  # type: ignore[assignment]
    btc.write_repodata(root, records)  # type: ignore[arg-type]
    return root


def archive_of(channel: Path, stem: str) -> tuple[str, str, str]:
    """(``file://`` URL, md5, sha256) of a package archive in *channel*."""
    for subdir in btc.SUBDIRS:
        path = channel / subdir / f"{stem}.conda"
        if path.exists():
            data = path.read_bytes()
            return path.as_uri(), hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()
    raise FileNotFoundError(stem)


def script_folder(tmp_path: Path, name: str, text: str) -> Path:
    """A new working folder, ``tmp_path/work``, holding the script *name* with *text*."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / name).write_text(text)
    return folder


def explicit_lock(digest: str, lines: Sequence[str], platform: str = "linux-64") -> str:
    """An explicit lock's text (with ce's digest line) for *lines* of ``URL#hash``."""
    return f"# conda-exec-lock-input-sha256: {digest}\n# platform: {platform}\n@EXPLICIT\n" + "".join(
        line + "\n" for line in lines
    )


def lock_digest(conda_dependencies: Sequence[str], cli_channels: Sequence[str] = ()) -> str:
    """The input digest ce and conda-exec compute for a script with these dependencies."""
    payload = {
        "channels": list(cli_channels),
        "metadata": {
            "conda_channels": [],
            "conda_dependencies": sorted(conda_dependencies),
            "pypi_dependencies": [],
            "requires_python": None,
        },
        "with_specs": [],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


HELLO_SCRIPT = (
    '# /// script\n# [tool.conda]\n# dependencies = ["hello-tool"]\n# run-with = ["hello"]\n# ///\necho body\n'
)


def leftovers(home: Path) -> list[str]:
    """Build, trash and temporary leftovers in a cache home."""
    envs = home / "envs"
    if not envs.is_dir():
        return []
    found = [p.name for p in envs.iterdir() if p.name.startswith((".build-", ".trash-"))]
    for directory in (envs / ".locks", envs / ".index"):
        if directory.is_dir() and not directory.is_symlink():
            found += [p.name for p in directory.glob("*.tmp")]
    return found


def remove_tree(path: Path) -> None:
    """Remove *path* even where tests made directories unreadable."""
    if not path.exists():
        return
    for root, dirs, _files in os.walk(path):
        for name in dirs:
            full = os.path.join(root, name)
            if not os.path.islink(full):
                os.chmod(full, 0o755)
    shutil.rmtree(path, ignore_errors=True)
