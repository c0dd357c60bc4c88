"""File locks: the build lock (one builder per key) and the in-use lock.

In-use protection: the runner opens the environment's lock file, takes a
shared ``flock`` and lets the descriptor survive ``exec``; the lock then lives
exactly as long as the tool (and any child that inherits it).  Removing an
environment takes the exclusive lock without waiting and skips the
environment when it cannot.

Hand-written on ``fcntl`` rather than a locking library (see CONTRIBUTING.md):
the in-use lock must survive ``exec``, and the usual library costs ~10 ms of
imports (it pulls in asyncio) on every cold run.  On Windows, where ce waits
for the tool as a child process, exclusive locks use ``msvcrt`` and no shared
lock is taken.
"""

from __future__ import annotations

import errno
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

if sys.platform != "win32":
    import fcntl


_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


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
                if error.errno in (errno.EACCES, errno.EROFS):  # flock works on a read-only descriptor too
                    try:
                        return os.open(name, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK, dir_fd=directory_fd)
                    except OSError:
                        raise error from None
                if error.errno != errno.ELOOP:
                    raise
            os.unlink(name, dir_fd=directory_fd)  # a planted link: remove the link itself
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


def _locked(path: str, take: Callable[[int], bool]) -> int | None:
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
        import stat

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
