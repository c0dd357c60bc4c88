"""Who holds a lock this process waits for: the words of a wait's message, on the rare path where a wait happens.

Kept out of :mod:`ce.base` (which takes the locks) because a warm hit never waits, and every
line of a module on the warm path is paid for on each hit.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable


def lock_holders(fd: int) -> list[int]:
    """The processes holding a ``flock`` on the file open as *fd*, as Linux lists them (else none).

    Read only when a wait is reported: ``/proc/locks`` names the holder's pid by device and inode.
    """
    info = os.fstat(fd)
    where = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    pids = []
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            for line in handle:
                fields = line.split()
                # "1: FLOCK  ADVISORY  WRITE 11121 fe:00:5468390 0 EOF"; waiters carry "->" after the number
                if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == where and fields[4].isdigit():
                    pids.append(int(fields[4]))
    except OSError:
        pass
    return [pid for pid in dict.fromkeys(pids) if pid != os.getpid()]


def describe_holders(fd: int, path: str) -> str:
    """``lock <path> is held by process 123 (python3)``: for the message of a wait."""
    described = []
    for pid in lock_holders(fd)[:3]:
        try:
            with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as handle:
                described.append(f"{pid} ({handle.read().strip()})")
        except OSError:
            described.append(str(pid))
    if not described:
        return f"lock {path} is held by another process"
    return f"lock {path} is held by process {', '.join(described)}"


def flock_reporting(fd: int, operation: int, path: str, on_wait: Callable[[str], None], notice_seconds: float) -> None:
    """``flock(fd, operation)``; a wait longer than *notice_seconds* calls ``on_wait`` once, with who holds the lock."""
    deadline = time.monotonic() + notice_seconds
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
    on_wait(describe_holders(fd, path))
    fcntl.flock(fd, operation)
