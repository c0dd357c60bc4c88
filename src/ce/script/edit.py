"""``--add``: edit a script's ``[tool.conda] dependencies`` with tomlkit.

Only the lines of the ``# /// script`` block change (or a new block is
inserted after the shebang and encoding lines); every other byte of the file
stays as it was, and inside the block tomlkit keeps comments, spacing,
quoting and key order.  The file is replaced atomically with its mode kept, under the script's lock
(:func:`edit_script`, shared with ``--lock --embed``).
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Callable

import tomlkit
import tomlkit.items
from tomlkit.exceptions import TOMLKitError

from ce.base import lock_descriptor, release
from ce.errors import ScriptError, UsageError
from ce.fileio import TEMPORARY_PREFIX, write_atomically
from ce.interrupts import raise_if_interrupted
from ce.script.blocks import find_blocks
from ce.script.metadata import SCRIPT_BLOCK, _legacy_block, parse_metadata, read_script_text
from ce.specs import matchspec_error, normalize_spec, spec_package_name
from ce.text import BOM, newline_of, split_lines

_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

ENCODING_LINE = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*[-_.a-zA-Z0-9]+")


def _comment_lines(content: str, newline: str) -> list[str]:
    lines = content.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [("# " + line if line else "#") + newline for line in lines]


def _add_to_document(document: tomlkit.TOMLDocument, specs: list[str]) -> list[str]:
    tool = document.get("tool")
    if tool is None:
        tool = tomlkit.table(is_super_table=True)
        document.append("tool", tool)
    conda = tool.get("conda")
    if conda is None:
        conda = tomlkit.table()
        tool.append("conda", conda)
    dependencies = conda.get("dependencies")
    if dependencies is None:
        dependencies = tomlkit.array()
        conda.append("dependencies", dependencies)
    if not isinstance(dependencies, list):
        raise ScriptError("[tool.conda] dependencies is not a list; fix it by hand first")
    changes = []
    for spec in specs:
        name = spec_package_name(spec)
        for index, existing in enumerate(dependencies):
            if isinstance(existing, str) and spec_package_name(normalize_spec(existing)) == name:
                if normalize_spec(existing) == spec:
                    changes.append(f"kept {spec!r}: already in [tool.conda] dependencies")
                else:
                    dependencies[index] = spec
                    changes.append(f"replaced {str(existing)!r} with {spec!r} in [tool.conda] dependencies")
                break
        else:
            dependencies.append(spec)
            changes.append(f"added {spec!r} to [tool.conda] dependencies")
    return changes


def insertion_index(lines: list[str]) -> int:
    """Where a new block goes: after a shebang and an encoding line, if any."""
    index = 0
    if lines and lines[0].startswith("#!"):
        index = 1
    if index < len(lines) and ENCODING_LINE.match(lines[index]):
        index += 1
    return index


def edit_text(text: str, specs: list[str], path: str = "<script>") -> tuple[str, list[str]]:
    """Return *text* with *specs* added to its metadata, and a description of each change."""
    normalized = []
    for spec in specs:
        spec_text = normalize_spec(spec)
        spec_package_name(spec_text)
        reason = matchspec_error(spec_text)
        if reason is not None:
            raise UsageError(f"--add: invalid conda dependency {spec!r}: {reason}; {path} is unchanged")
        normalized.append(spec_text)
    metadata = parse_metadata(text, path)  # refuses malformed blocks before anything is edited
    newline = newline_of(text)
    lines = split_lines(text, keepends=True)
    blocks = [block for block in find_blocks(text)[0] if block.type == SCRIPT_BLOCK]
    if blocks:
        block = blocks[0]
        try:
            document = tomlkit.parse(block.content)
        except (TOMLKitError, RecursionError) as error:  # pragma: no cover - parse_metadata refused it already
            raise ScriptError(f"{path}:{block.start_line}: cannot edit the script block: {error}") from None
        changes = _add_to_document(document, normalized)
        new_lines = _comment_lines(tomlkit.dumps(document), newline)
        lines[block.start_line : block.end_line - 1] = new_lines
    else:
        if metadata.source == "conda-execute":
            legacy = _legacy_block(split_lines(text))
            line = legacy.start_line if legacy else 1
            raise ScriptError(
                f"{path}:{line}: this script uses a legacy '# conda execute' block; "
                "--add edits '# /// script' metadata: convert the block first"
            )
        document = tomlkit.document()
        changes = _add_to_document(document, normalized)
        block_lines = [f"# /// {SCRIPT_BLOCK}{newline}", *_comment_lines(tomlkit.dumps(document), newline)]
        block_lines.append(f"# ///{newline}")
        index = insertion_index(lines)
        if index > 0 and not lines[index - 1].endswith(("\n", "\r")):
            lines[index - 1] += newline  # a shebang with no newline at the end of the file
        if index < len(lines) and lines[index].strip():
            block_lines.append(newline)  # keep the block apart from the code or comments after it
        lines[index:index] = block_lines
    new_text = "".join(lines)
    parse_metadata(new_text, path)  # the result must read back
    return new_text, changes


#: A ``.ce-write-*`` file beside a script older than this was left by a killed edit.
STALE_WRITE_SECONDS = 60.0


def _lock_script(path: str, on_wait: Callable[[str], None] | None = None) -> int:
    """Open the real file *path* and hold its exclusive lock; return the descriptor.

    The lock is a ``flock`` on the script file itself rather than a file in the
    cache: every ce that edits this script (whatever its cache home, the
    standalone command or ``conda exec``) meets the same lock, and nothing is
    created beside the user's file.  An edit replaces the file (a new inode), so
    a waiter that gets the lock on the old inode opens the path again.
    """
    while True:
        try:
            fd = os.open(path, os.O_RDONLY | _O_NONBLOCK | _O_CLOEXEC)
        except OSError as error:
            raise ScriptError(f"cannot read script {path}: {error.strerror}") from error
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ScriptError(f"{path}: not a regular file; ce edits only regular files")
            lock_descriptor(fd, on_wait=on_wait, path=path)
            try:
                now = os.stat(path)
            except OSError as error:
                raise ScriptError(f"cannot read script {path}: {error.strerror}") from error
        except BaseException:
            os.close(fd)
            raise
        if (now.st_dev, now.st_ino) == (info.st_dev, info.st_ino):
            return fd
        os.close(fd)  # replaced while we waited: lock the new file


def _remove_stale_writes(directory: str) -> None:
    """Remove ``.ce-write-*`` files a killed edit left in *directory* (a minute old and unlocked)."""
    try:
        names = [name for name in os.listdir(directory) if name.startswith(TEMPORARY_PREFIX)]
    except OSError:
        return
    deadline = time.time() - STALE_WRITE_SECONDS
    for name in names:
        leftover = os.path.join(directory, name)
        try:
            info = os.lstat(leftover)
            if not stat.S_ISREG(info.st_mode) or info.st_mtime > deadline:
                continue
            fd = os.open(leftover, os.O_RDONLY | _O_NONBLOCK | _O_CLOEXEC | _O_NOFOLLOW)
        except OSError:
            continue
        try:
            if lock_descriptor(fd, wait=False):
                os.unlink(leftover)
        except OSError:
            pass
        finally:
            os.close(fd)


def edit_script(path: str, transform: Callable[[str], str], on_wait: Callable[[str], None] | None = None) -> bool:
    """Replace the script at *path* with ``transform(text)``, under the script's lock.

    *path* may be a symbolic link: the real file is edited and the link kept.
    A file with other hard links is refused: a replacement would give this
    name a new file and leave the other names with the old text.
    The text is read again under the lock (so concurrent edits all land),
    *transform* sees it without a leading BOM, which is written back first.
    Returns whether the file changed.  *on_wait* hears (once) of a wait for
    another edit's lock longer than a second.
    """
    real = os.path.realpath(path)
    fd = _lock_script(real, on_wait)
    try:
        links = os.fstat(fd).st_nlink
        if links > 1:
            raise ScriptError(
                f"{path} has {links} hard links: ce replaces a script it edits, which would leave the other "
                f"names with the old text; edit a copy, or remove the other links first; {path} is unchanged"
            )
        _remove_stale_writes(os.path.dirname(real))
        text = read_script_text(path, fd)
        bom = BOM if text.startswith(BOM) else ""
        new_text = bom + transform(text[len(bom) :])
        if new_text == text:
            return False
        raise_if_interrupted()  # after Ctrl-C the script stays as it was
        try:
            write_atomically(real, new_text)
        except OSError as error:
            raise ScriptError(f"cannot write script {path}: {error.strerror}") from error
        return True
    finally:
        release(fd)


def add_dependencies(path: str, specs: list[str], on_wait: Callable[[str], None] | None = None) -> list[str]:
    """Add *specs* to the script at *path*; return one line per change (*on_wait*: see :func:`edit_script`)."""
    changes: list[str] = []

    def transform(text: str) -> str:
        new_text, found = edit_text(text, specs, path)
        changes[:] = found
        return new_text

    edit_script(path, transform, on_wait)
    return [f"{path}: {change}" for change in changes]
