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

import os
import sys

if sys.platform != "win32":
    import fcntl


def _open(path: str) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def hold_shared(path: str, inheritable: bool = True) -> int | None:
    """Take a shared lock on *path* (waiting for an exclusive holder); return the fd.

    With *inheritable*, the descriptor survives ``exec`` so the tool keeps it.
    """
    if sys.platform == "win32":  # pragma: no cover - Windows
        return None
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        if inheritable:
            os.set_inheritable(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


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
    fd = _open(path)
    try:
        if _lock_exclusive(fd, wait=False):
            return fd
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


def hold_exclusive(path: str) -> int:
    """Take the exclusive lock on *path*, waiting for every holder to let go."""
    fd = _open(path)
    try:
        _lock_exclusive(fd, wait=True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def release(fd: int | None) -> None:
    """Release a lock taken by this module (closing the descriptor releases it)."""
    if fd is not None:
        os.close(fd)


def lock_descriptor(fd: int, wait: bool = True) -> bool:
    """Take the exclusive lock on the open file *fd* (a file the caller opened itself).

    Returns whether it was taken (always ``True`` with *wait*); closing *fd* releases it.
    """
    return _lock_exclusive(fd, wait)
