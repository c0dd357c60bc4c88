"""File locks (ce.base): never through a link, prunable while free, a bounded gate."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ce.base import hold_exclusive, hold_shared, release, remove_if_free, try_exclusive, wait_for_gate

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX locks")


def test_a_planted_link_is_replaced_by_a_real_lock_file(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    locks = tmp_path / "locks"
    locks.mkdir()
    (locks / "x.lock").symlink_to(outside / "created")
    fd = try_exclusive(str(locks / "x.lock"))
    assert fd is not None
    release(fd)
    assert not (locks / "x.lock").is_symlink() and (locks / "x.lock").is_file()
    assert list(outside.iterdir()) == []


def test_a_linked_lock_directory_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "locks").symlink_to(outside)
    with pytest.raises(OSError):
        hold_shared(str(tmp_path / "locks" / "x.lock"), inheritable=False)
    assert list(outside.iterdir()) == []


def test_a_free_lock_file_is_removed_and_a_held_one_kept(tmp_path: Path) -> None:
    path = str(tmp_path / "x.lock")
    held = hold_shared(path, inheritable=False)
    assert not remove_if_free(path)
    release(held)
    assert remove_if_free(path)
    assert not os.path.exists(path)


def test_a_holder_of_a_pruned_file_takes_the_new_one(tmp_path: Path) -> None:
    """A waiter that opened the file before cleanup unlinked it ends up holding the file at the path."""
    path = str(tmp_path / "x.lock")
    fd = hold_exclusive(path)
    os.unlink(path)  # as remove_if_free does while holding it
    other = hold_exclusive(path)  # the old inode is no longer the lock: a new file is created and locked
    assert os.fstat(other).st_ino == os.stat(path).st_ino
    release(fd)
    release(other)


def test_the_gate_costs_nothing_without_a_file_and_waits_boundedly_when_held(tmp_path: Path) -> None:
    gate = tmp_path / "x.refresh.lock"
    started = time.monotonic()
    wait_for_gate(str(gate), 5)
    assert time.monotonic() - started < 0.5 and not gate.exists()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import fcntl,os,time; fd=os.open({str(gate)!r}, os.O_RDWR|os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        wait_for_gate(str(gate), 0.5)
        assert 0.4 < time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()
    started = time.monotonic()
    wait_for_gate(str(gate), 5)
    assert time.monotonic() - started < 0.5
