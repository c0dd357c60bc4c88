"""In-use protection: a shared lock held for as long as a tool runs.

The runner opens the environment's lock file, takes a shared ``flock`` and
lets the descriptor survive ``exec``: the lock then lives exactly as long as
the tool (and any child that inherits it).  Removing an environment takes the
exclusive lock without waiting and skips the environment when it cannot.

This is hand-written on ``fcntl`` rather than a locking library because the
lock must survive ``exec`` (see CONTRIBUTING.md).  On Windows, where ce waits
for the tool as a child process, no lock is taken.
"""

from __future__ import annotations

import os

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def _open(path: str) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def hold_shared(path: str, inheritable: bool = True) -> int | None:
    """Take a shared lock on *path* (waiting for an exclusive holder); return the fd.

    With *inheritable*, the descriptor survives ``exec`` so the tool keeps it.
    """
    if fcntl is None:  # pragma: no cover - Windows
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


def try_exclusive(path: str) -> int | None:
    """Take the exclusive lock on *path* if nobody holds it; return the fd or ``None``."""
    if fcntl is None:  # pragma: no cover - Windows
        return _open(path)
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def hold_exclusive(path: str) -> int:
    """Take the exclusive lock on *path*, waiting for every holder to let go."""
    fd = _open(path)
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
    return fd


def release(fd: int | None) -> None:
    """Release a lock taken by this module (closing the descriptor releases it)."""
    if fd is not None:
        os.close(fd)
