"""How ce reads, replaces and locks files: each mechanism has its one helper here.

**Replacing a file.**  Every file ce writes whole (a user's script after ``--add`` or ``--embed``,
lock sidecars, the script index, the condarc settings cache,
the activation cache, relocated files, downloaded archives) goes through
:class:`AtomicFile`: a temporary file beside it, then a rename over the target.  A
reader sees the old content or the new, never a mix, and a killed writer leaves only
a temporary file that :func:`is_temporary` recognises (cleanup sweeps them).

**Reading a file ce did not necessarily write** (an index entry, an environment's record):
:func:`read_regular`, bounded, never blocked by a FIFO, optionally never through a link.

**Counting** (the run counter): :func:`tally` appends one byte, so concurrent processes
lose no count and need no temporary file or rename.

**Locks**: the build lock (one builder per key) and the in-use lock.  The runner opens
the environment's lock file, takes a shared ``flock`` and lets the descriptor survive
``exec``; the lock then lives exactly as long as the tool (and any child that inherits
it).  Removing an environment takes the exclusive lock without waiting and skips the
environment when it cannot.  Hand-written on ``fcntl`` rather than a locking library
(see CONTRIBUTING.md): the in-use lock must survive ``exec``, and the usual library costs
~10 ms of imports (it pulls in asyncio) on every cold run.  On Windows, where ce waits
for the tool as a child process, exclusive locks use ``msvcrt`` and no shared lock is taken.

This module is on the warm path: it imports only ``os``, ``stat``, ``sys`` and ``fcntl``
(``errno`` only on error paths), and no ``__future__`` (see CONTRIBUTING.md).
"""

import os
import stat
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

if sys.platform != "win32":
    import fcntl

#: Temporary files are named ``.ce-write-<random>.tmp``.
TEMPORARY_PREFIX = ".ce-write-"
TEMPORARY_SUFFIX = ".tmp"
#: A temporary file older than this was left by a process that died mid-write.
STALE_TEMPORARY_SECONDS = 3600.0
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
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


def read_regular(path: str, limit: int, follow_symlinks: bool = True) -> bytes | None:
    """Up to *limit* + 1 bytes of the regular file *path*; ``None`` for anything else.

    A FIFO or device never blocks and is never read; a caller that gets more than *limit* bytes knows the
    file is too large.  Without *follow_symlinks*, a symbolic link at *path* is not read either.
    """
    flags = os.O_RDONLY | _O_NONBLOCK | _O_CLOEXEC | _O_BINARY | (0 if follow_symlinks else _O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    return b"".join(chunks)


def tally(path: str, period: int, limit: int) -> bool | None:
    """Add one mark to the tally file *path*; whether this mark completes a multiple of *period*.

    The tally is the file's length: each call appends one byte, an atomic write, so
    concurrent callers never lose a mark and exactly one of them ends at each multiple.
    The tally restarts (the file is emptied) at such a multiple, and beyond *limit*
    bytes whatever put them there.  Anything but a regular file at *path* (a link, a
    FIFO) is removed and replaced by one, never written through.  ``None`` when the
    file cannot be written (a cache this user may only read).
    """
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC | _O_BINARY
    for _attempt in range(2):
        try:
            fd = os.open(path, flags, 0o600)
        except OSError:
            fd = -1
        if fd >= 0:
            try:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    os.write(fd, b".")
                    count = os.lseek(fd, 0, os.SEEK_CUR)  # where this call's byte ended: unique to this call
                    complete = count % period == 0
                    if complete or count > limit:
                        os.ftruncate(fd, 0)
                    return complete
            except OSError:
                return None
            finally:
                os.close(fd)
        try:  # a link, FIFO or other file at that name: remove it and start afresh
            os.unlink(path)
        except OSError:
            return None
    return None


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
    system) with *mode*; on an exception it is removed and *path* is left as
    it was.
    """

    __slots__ = ("_fd", "mode", "path", "temporary")

    def __init__(self, path: str, mode: int = 0o644, temporary_dir: str | None = None) -> None:
        self.path = path
        self.mode = mode
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
            if hasattr(os, "fchmod"):
                os.fchmod(self._fd, self.mode)
        finally:
            os.close(self._fd)
        if not hasattr(os, "fchmod"):  # pragma: no cover - Windows
            os.chmod(self.temporary, self.mode)
        os.replace(self.temporary, self.path)

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

    def __enter__(self) -> "AtomicFile":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: "TracebackType | None"
    ) -> None:
        if kind is not None:
            self.discard()
            return
        try:
            self.commit()
        except BaseException:
            self.discard()
            raise


def write_atomically(path: str, data: bytes | str, mode: int | None = None, temporary_dir: str | None = None) -> None:
    """Replace (or create) *path* with *data* (``str`` is written as UTF-8, line endings as they are).

    An existing file keeps its permission bits unless *mode* is given; a new one gets *mode* or 0o644.
    """
    if mode is None:
        mode = existing_mode(path, 0o644)
    with AtomicFile(path, mode, temporary_dir) as handle:
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


# --- locks ---------------------------------------------------------------------------------------


def _open(path: str) -> int:
    """Open (creating) the lock file *path*, never through a symbolic link.

    Neither the lock directory nor the file may be a link: a link in the
    lock directory (which only ce writes) is removed and a real file created,
    a linked directory is refused (``OSError``), so a planted link never makes
    ce create or open a file elsewhere.  ``O_NONBLOCK``: a FIFO planted there
    never blocks the open (``flock`` itself ignores the flag).
    """
    if sys.platform == "win32":  # pragma: no cover - Windows
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    directory, name = os.path.split(path)
    directory_fd = os.open(directory or ".", os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW)
    try:
        for _attempt in range(3):
            try:
                return os.open(name, os.O_RDWR | os.O_CREAT | _O_NOFOLLOW | _O_NONBLOCK, 0o600, dir_fd=directory_fd)
            except OSError as error:
                import errno  # only on this rare path: a warm hit does not pay for the import

                if error.errno in (errno.EACCES, errno.EROFS):  # flock works on a read-only descriptor too
                    try:
                        return os.open(name, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK, dir_fd=directory_fd)
                    except OSError:
                        raise error from None
                if error.errno != errno.ELOOP:
                    raise
            os.unlink(name, dir_fd=directory_fd)  # a planted link: remove the link itself
        import errno

        raise OSError(errno.ELOOP, "a symbolic link keeps reappearing", path)
    finally:
        os.close(directory_fd)


def _is_current(fd: int, path: str) -> bool:
    """Whether *fd* is still the file at *path* (cleanup may unlink a free lock file)."""
    try:
        here = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    there = os.fstat(fd)
    return here.st_ino == there.st_ino and here.st_dev == there.st_dev


def _locked(path: str, take: "Callable[[int], bool]") -> int | None:
    """Open *path* and ``take(fd)``; retry while the locked file is no longer the one at *path*."""
    while True:
        fd = _open(path)
        try:
            if not take(fd):
                os.close(fd)
                return None
            if sys.platform == "win32" or _is_current(fd, path):  # pragma: no branch
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _could_create(directory: str) -> bool:
    """Whether this user could create a file in *directory* (or create *directory* itself)."""
    if os.path.isdir(directory):
        return os.access(directory, os.W_OK | os.X_OK)
    return os.access(os.path.dirname(directory), os.W_OK | os.X_OK)


def hold_shared(path: str, inheritable: bool = True) -> int | None:
    """Take a shared lock on *path* (waiting for an exclusive holder); return the fd.

    With *inheritable*, the descriptor survives ``exec`` so the tool keeps it.
    ``None`` when there is nothing to lock: on Windows, and in a lock directory
    this user cannot write (a read-only cache, which this user cannot clean either).
    """
    if sys.platform == "win32":  # pragma: no cover - Windows
        return None

    def take(fd: int) -> bool:
        fcntl.flock(fd, fcntl.LOCK_SH)
        return True

    try:
        fd = _locked(path, take)
    except OSError as error:
        import errno

        # A cache this user may only read: nobody here can remove the environment either.
        directory = os.path.dirname(path)
        if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT) and not _could_create(directory):
            return None
        raise
    assert fd is not None
    if inheritable:
        try:
            os.set_inheritable(fd, True)
        except BaseException:
            os.close(fd)
            raise
    return fd


def wait_for_gate(path: str, max_seconds: float) -> None:
    """Wait (at most *max_seconds*) while someone holds the gate lock *path* exclusively.

    A process about to replace an environment holds its gate while it waits for the
    running tools to exit; new runs pause here so a busy tool cannot starve it.
    Nothing is created: without a gate file this is one failed ``open``.
    """
    if sys.platform == "win32":  # pragma: no cover - Windows
        return
    try:
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK)  # a FIFO there never blocks
    except OSError:
        return
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return  # not a gate ce made
        import time

        deadline = time.monotonic() + max_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return
                time.sleep(0.05)
    finally:
        os.close(fd)


def _lock_exclusive(fd: int, wait: bool) -> bool:
    if sys.platform != "win32":
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        return True
    import msvcrt  # pragma: no cover - Windows
    import time

    while True:  # pragma: no cover - Windows
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            if not wait:
                return False
            time.sleep(0.05)


def try_exclusive(path: str) -> int | None:
    """Take the exclusive lock on *path* if nobody holds it; return the fd or ``None``."""
    return _locked(path, lambda fd: _lock_exclusive(fd, wait=False))


def hold_exclusive(path: str) -> int:
    """Take the exclusive lock on *path*, waiting for every holder to let go."""
    fd = _locked(path, lambda fd: _lock_exclusive(fd, wait=True))
    assert fd is not None
    return fd


def remove_if_free(path: str) -> bool:
    """Delete the lock file *path* if nobody holds or waits on it; return whether it was removed.

    Holders that opened the file before it was unlinked notice (see :func:`_is_current`) and retry.
    """
    fd = try_exclusive(path)
    if fd is None:
        return False
    try:
        os.unlink(path)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def release(fd: int | None) -> None:
    """Release a lock taken by this module (closing the descriptor releases it)."""
    if fd is not None:
        os.close(fd)


def lock_descriptor(fd: int, wait: bool = True) -> bool:
    """Take the exclusive lock on the open file *fd* (a file the caller opened itself).

    Returns whether it was taken (always ``True`` with *wait*); closing *fd* releases it.
    """
    return _lock_exclusive(fd, wait)
