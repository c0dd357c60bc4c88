"""Relocation: rewrite an environment built in one directory for the directory it will live in.

ce builds every environment beside its final place and renames it in when
complete.  rattler writes files for the final prefix directly
(``alternative_target_prefix``); conda's transaction and uv's launchers do
not, so after them :func:`relocate` rewrites the build path to the final path
in every file that contains it: text files by plain replacement, binary files
with conda's NUL-padded replacement (possible because the final path is
shorter), symbolic links by re-pointing them.  ``.pyc`` files are left alone
(Python fixes their paths on load), and so are files with other hard links:
they are linked from a package cache, so nobody wrote the prefix into them,
and rewriting them in place would change the cache.  Nothing is read or
written through a link: links are only re-pointed, and a file is opened
without following one.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys

from ce.errors import InstallError
from ce.fileio import write_atomically

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)

_MACHO_MAGICS = (
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
)


def binary_replace(data: bytes, old: bytes, new: bytes) -> bytes:
    """conda's binary prefix replacement: each C string keeps its length, padded with NULs."""
    pattern = re.compile(re.escape(old) + rb"([^\0]*?)\0")

    def replace(match: re.Match[bytes]) -> bytes:
        occurrences = match.group().count(old)
        return match.group().replace(old, new) + b"\0" * ((len(old) - len(new)) * occurrences)

    return pattern.sub(replace, data)


def _relocate_link(path: str, prefix: str, final_prefix: str) -> bool:
    target = os.readlink(path)
    if not os.fsencode(target).startswith(os.fsencode(prefix)):
        return False
    os.unlink(path)
    os.symlink(final_prefix + target[len(prefix) :], path)
    return True


def _read_regular(path: str, info: os.stat_result) -> bytes | None:
    """The content of *path* if it is still the regular file *info* describes; ``None`` otherwise.

    Opened without following a link: a package's file swapped for a link (to
    another user's file, say) after the walk saw it is never read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
            return None
        return handle.read()


def _relocate_file(path: str, info: os.stat_result, old: bytes, new: bytes) -> bool:
    data = _read_regular(path, info)
    if data is None or old not in data:
        return False
    binary = b"\0" in data
    if binary and len(new) > len(old):
        raise InstallError(f"cannot relocate {path}: the final path is longer than the build path")
    # A new inode: a hard link into a package cache is never modified.
    write_atomically(path, binary_replace(data, old, new) if binary else data.replace(old, new), info.st_mode & 0o7777)
    if binary and sys.platform == "darwin" and data[:4] in _MACHO_MAGICS:  # pragma: no cover - macOS
        subprocess.run(["/usr/bin/codesign", "-s", "-", "-f", path], capture_output=True, check=False)
    return True


def relocate(prefix: str, final_prefix: str) -> list[str]:
    """Rewrite *prefix* to *final_prefix* in every file under *prefix* that contains it.

    Returns the relative paths rewritten.  ``conda-meta`` is skipped.
    """
    old, new = os.fsencode(prefix), os.fsencode(final_prefix)
    if old == new:
        return []
    rewritten: list[str] = []
    for root, dirs, files in os.walk(prefix):
        if root == prefix and "conda-meta" in dirs:
            dirs.remove("conda-meta")
        for name in files + [name for name in dirs if os.path.islink(os.path.join(root, name))]:
            path = os.path.join(root, name)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                changed = _relocate_link(path, prefix, final_prefix)
            elif not stat.S_ISREG(info.st_mode) or name.endswith(".pyc") or info.st_nlink > 1:
                continue
            else:
                changed = _relocate_file(path, info, old, new)
            if changed:
                rewritten.append(os.path.relpath(path, prefix))
    return rewritten


def links_leaving(prefix: str, *also_inside: str) -> list[str]:
    """The symbolic links under *prefix* that resolve outside it (and outside *also_inside*), as relative paths.

    A package may ship a link anywhere (conda-build keeps links to system
    paths); what ce installs later (uv, byte-compilation) must not follow one.
    """
    inside = [os.path.realpath(path) for path in (prefix, *also_inside)]
    found: list[str] = []
    pending = [prefix]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as entries:
                listed = list(entries)
        except OSError:
            continue
        for entry in listed:
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if not any(os.path.commonpath([target, root]) == root for root in inside):
                    found.append(os.path.relpath(entry.path, prefix))
            elif entry.is_dir(follow_symlinks=False):
                pending.append(entry.path)
    return sorted(found)
