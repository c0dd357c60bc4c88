"""Replacing a file: the one atomic writer.

Every file ce writes whole (a user's script after ``--add`` or ``--embed``,
lock sidecars, the index entries, the condarc settings cache,
the activation cache, relocated files, downloaded archives) goes through
:class:`AtomicFile`: a temporary file beside it, then a rename over the target.  A
reader sees the old content or the new, never a mix, and a killed writer leaves only
a temporary file that :func:`is_temporary` recognises (cleanup sweeps them).

:func:`restrict_modes` takes group and other write permission off what ce
installs (an environment, a package cache entry it extracted), whatever
modes the archives carried.

Reading, counting and locking files are in :mod:`ce.base` (a cache hit needs them; it never
writes a file whole).
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType

#: Temporary files are named ``.ce-write-<random>.tmp``.
TEMPORARY_PREFIX = ".ce-write-"
TEMPORARY_SUFFIX = ".tmp"
#: A temporary file older than this was left by a process that died mid-write.
STALE_TEMPORARY_SECONDS = 3600.0
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


def is_temporary(name: str) -> bool:
    """Whether the file name *name* is a temporary file of :class:`AtomicFile`."""
    return name.startswith(TEMPORARY_PREFIX) and name.endswith(TEMPORARY_SUFFIX)


def remove_stale_temporaries(directory: str, max_age: float = STALE_TEMPORARY_SECONDS) -> int:
    """Delete the temporary files in *directory* older than *max_age* seconds (a killed writer's); count them.

    Nothing is done in a *directory* that is a symbolic link.
    """
    import time

    if os.path.islink(directory):
        return 0
    try:
        with os.scandir(directory) as scan:
            entries = list(scan)
    except OSError:
        return 0
    cutoff = time.time() - max_age
    removed = 0
    for entry in entries:
        if not is_temporary(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if info.st_mtime < cutoff and not entry.is_dir(follow_symlinks=False):
                os.unlink(entry.path)
                removed += 1
        except OSError:
            pass
    return removed


def existing_mode(path: str, default: int) -> int:
    """The permission bits of *path*, or *default* when it does not exist."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return default


class AtomicFile:
    """A binary file that replaces *path* when closed without an error.

    ``with AtomicFile(path) as handle: handle.write(data)``.  The temporary
    file is created exclusively (never through a symbolic link) in
    *temporary_dir* (default: beside *path*, which must be on the same file
    system) with *mode* (and *owner*, ``(uid, gid)``, where this process may
    give it away); on an exception it is removed and *path* is left as it was.
    """

    __slots__ = ("_fd", "mode", "owner", "path", "temporary")

    def __init__(
        self, path: str, mode: int = 0o644, temporary_dir: str | None = None, owner: tuple[int, int] | None = None
    ) -> None:
        self.path = path
        self.mode = mode
        self.owner = owner
        directory = temporary_dir if temporary_dir is not None else os.path.dirname(os.path.abspath(path))
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_BINARY
        for _attempt in range(100):
            temporary = os.path.join(directory, TEMPORARY_PREFIX + os.urandom(6).hex() + TEMPORARY_SUFFIX)
            try:
                self._fd = os.open(temporary, flags, 0o600)
            except FileExistsError:
                continue
            self.temporary = temporary
            return
        raise FileExistsError(f"cannot create a temporary file in {directory}")  # pragma: no cover

    def write(self, data: bytes) -> None:
        """Append *data* to the new content."""
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def commit(self) -> None:
        """Close the temporary file and rename it over the target."""
        try:
            if self.owner is not None and hasattr(os, "fchown"):
                self._give_to_owner(self.owner)
            if hasattr(os, "fchmod"):  # after fchown, which clears set-id bits
                os.fchmod(self._fd, self.mode)
        finally:
            os.close(self._fd)
        if not hasattr(os, "fchmod"):  # pragma: no cover - Windows
            os.chmod(self.temporary, self.mode)
        os.replace(self.temporary, self.path)

    def _give_to_owner(self, owner: tuple[int, int]) -> None:
        """Make the new file *owner*'s: root editing a user's script must not take it from them."""
        info = os.fstat(self._fd)
        if (info.st_uid, info.st_gid) == owner:
            return
        try:
            os.fchown(self._fd, *owner)
        except OSError:  # not root: keep at least the group where this user belongs to it
            try:  # noqa: SIM105 - contextlib costs milliseconds on the warm path
                os.fchown(self._fd, -1, owner[1])
            except OSError:
                pass

    def discard(self) -> None:
        """Close and remove the temporary file; the target is untouched."""
        try:  # noqa: SIM105 - contextlib costs milliseconds on the warm path
            os.close(self._fd)
        except OSError:
            pass
        try:  # noqa: SIM105 - as above
            os.unlink(self.temporary)
        except OSError:
            pass

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if kind is not None:
            self.discard()
            return
        try:
            self.commit()
        except BaseException:
            self.discard()
            raise


def _stat_or_none(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def write_atomically(path: str, data: bytes | str, mode: int | None = None, temporary_dir: str | None = None) -> None:
    """Replace (or create) *path* with *data* (``str`` is written as UTF-8, line endings as they are).

    An existing file keeps its permission bits unless *mode* is given (a new one gets *mode* or
    0o644), and its owner and group as far as this process may set them.
    """
    try:
        info: os.stat_result | None = os.lstat(path)
    except OSError:
        info = None
    owner = None
    if info is not None and stat.S_ISLNK(info.st_mode):
        info = _stat_or_none(path)  # the mode behind a link, as before; never its owner, whoever planted it
    elif info is not None:
        owner = (info.st_uid, info.st_gid)
    if mode is None:
        mode = 0o644 if info is None else info.st_mode & 0o7777
    with AtomicFile(path, mode, temporary_dir, owner) as handle:
        handle.write(data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data)


def try_write_atomically(path: str, data: bytes | str, temporary_dir: str | None = None) -> bool:
    """:func:`write_atomically` for caches: create the directory if needed; ``False`` if it cannot be written.

    Nothing is written when the file's directory is a symbolic link: ce writes no cache file through one.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.islink(directory) or (temporary_dir is not None and os.path.islink(temporary_dir)):
        return False
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        write_atomically(path, data, 0o600, temporary_dir)
    except OSError:
        return False
    return True


#: Group and other write permission: nothing ce installs keeps them.
SHARED_WRITE_BITS = 0o022


def restrict_modes(root: str) -> int:
    """Remove group and other write permission from directory *root* and everything under it; count the changes.

    Package archives carry modes as their builder set them (``0o777``, ``0o666``),
    and extractors keep them: another local user could then change a tool that
    this user runs.  Only entries with such a bit are changed; symbolic links
    are neither changed nor followed (each directory is opened without
    following one, and entries are changed relative to it).  Entries that
    cannot be changed (another user's) are left as they are.
    """
    if os.name == "nt":  # pragma: no cover - no group or other write bits to remove
        return 0
    try:
        info = os.lstat(root)
    except OSError:
        return 0
    if not stat.S_ISDIR(info.st_mode):
        return 0
    changed = _restrict(root, info.st_mode, None)
    pending = [root]
    while pending:
        directory = pending.pop()
        try:
            fd = os.open(directory, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW)
        except OSError:
            continue
        try:
            with os.scandir(fd) as entries:
                found = list(entries)
            for entry in found:
                if entry.is_symlink():
                    continue
                try:
                    mode = entry.stat(follow_symlinks=False).st_mode
                except OSError:
                    continue
                changed += _restrict(entry.name, mode, fd)
                if stat.S_ISDIR(mode):
                    pending.append(os.path.join(directory, entry.name))
        except OSError:
            continue
        finally:
            os.close(fd)
    return changed


def _restrict(path: str, mode: int, dir_fd: int | None) -> int:
    if not mode & SHARED_WRITE_BITS:
        return 0
    try:
        os.chmod(path, stat.S_IMODE(mode) & ~SHARED_WRITE_BITS, dir_fd=dir_fd)
    except OSError:
        return 0
    return 1
