"""Interrupted work leaves nothing that grows; edits and waits say what they do (issue 21, items 11 and 12)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import signal
import subprocess
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hostile.support import (
    CRASH_MARKERS,
    HELLO_SCRIPT,
    assert_no_crash,
    assert_ok,
    assert_one_error,
    ce_command,
    leftovers,
    run,
    script_folder,
)

TWO_HOURS_AGO = time.time() - 7200


def _extractions(pkgs: Path) -> list[Path]:
    """rattler's temporary extraction directories in the package cache *pkgs*."""
    if not pkgs.is_dir():
        return []
    return [p for p in pkgs.iterdir() if p.name.startswith(".") and p.is_dir() and p.name != ".trash"]


def _age(paths: list[Path]) -> None:
    for path in paths:
        os.utime(path, (TWO_HOURS_AGO, TWO_HOURS_AGO))


def _kill_during_extraction(env: dict[str, str], pkgs: Path, sig: int, extra_delay: float) -> None:
    """Start a cold install of python and send *sig* to its process group once rattler is extracting."""
    for entry in pkgs.glob("python-*"):  # the extracted entry: the next install extracts again
        if entry.is_dir():
            subprocess.run(["rm", "-rf", str(entry)], check=True, timeout=60)
    before = set(_extractions(pkgs))
    process = subprocess.Popen(
        ce_command("--from", "python", "python", "-c", "pass"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if set(_extractions(pkgs)) - before:
                break
            time.sleep(0.005)
        time.sleep(extra_delay)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(timeout=60)


@pytest.mark.slow
def test_killed_installs_leave_nothing_after_the_next_install_or_clean(
    channel_url: str, ce_home: Path, own_rattler_cache: Path
) -> None:
    """SIGTERM and SIGKILL mid-extraction leave rattler's ``.<entry><random>`` directories (and ce's
    ``.build-`` ones); once they are stale, the next install and ``--clean`` remove them all."""
    env = dict(os.environ, CONDA_CHANNELS=channel_url)
    pkgs = own_rattler_cache / "pkgs"
    kills = [
        (signal.SIGTERM, 0.0),
        (signal.SIGKILL, 0.05),
        (signal.SIGTERM, 0.1),
        (signal.SIGKILL, 0.0),
        (signal.SIGTERM, 0.03),
        (signal.SIGKILL, 0.08),
    ]
    for sig, delay in kills[:4]:
        _kill_during_extraction(env, pkgs, sig, delay)
    left = _extractions(pkgs)
    assert left, "no kill landed during an extraction"
    assert leftovers(ce_home), "no kill landed during a build"
    _age(left)
    # the next install sweeps them
    assert_ok(run("--from", "python", "python", "-c", "print('ran')", env=env), "ran")
    assert _extractions(pkgs) == []
    assert leftovers(ce_home) == []

    assert_ok(run("--clean", "--all", "-y", env=env))
    for sig, delay in kills[4:]:
        _kill_during_extraction(env, pkgs, sig, delay)
    left = _extractions(pkgs)
    assert left, "no kill landed during an extraction"
    _age(left)
    assert_ok(run("--clean", "--all", "-y", env=env))
    assert _extractions(pkgs) == []
    assert leftovers(ce_home) == []


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on *path* (created if missing), as another process's rattler or ce would."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def test_an_extraction_that_a_live_process_may_be_filling_is_never_swept(own_rattler_cache: Path) -> None:
    """Age alone is not enough: while rattler's cache lock or the entry's lock is held, the directory stays."""
    pkgs = own_rattler_cache / "pkgs"
    pkgs.mkdir()
    (pkgs / "foo-1.0-0.lock").write_bytes(b"\0" * 40)
    stale = pkgs / ".foo-1.0-0aB3xYz"
    (stale / "bin").mkdir(parents=True)
    (stale / "bin" / "foo").write_text("#!/bin/sh\n")
    young = pkgs / ".foo-1.0-0Qw12er"  # a new extraction, locks free: another rattler may not lock at all
    young.mkdir()
    not_rattlers = pkgs / ".trash"  # conda's, in a shared package cache
    not_rattlers.mkdir()
    no_entry_lock = pkgs / ".bar-2.0-1aaaaaa"
    no_entry_lock.mkdir()
    _age([stale, stale / "bin", not_rattlers, no_entry_lock])

    with _flock(pkgs / ".cache.lock"):
        assert_ok(run("--clean", "--all", "-y"))
        assert stale.is_dir(), "swept while the package cache was locked"
    with _flock(pkgs / "foo-1.0-0.lock"):
        assert_ok(run("--clean", "--all", "-y"))
        assert stale.is_dir(), "swept while its entry was locked"
    assert_ok(run("--clean", "--all", "-y"))
    assert not stale.exists(), "an abandoned extraction was not swept"
    assert young.is_dir() and not_rattlers.is_dir() and no_entry_lock.is_dir()


RACY_PLUGIN = """
import asyncio, os, signal
from ce.plugins import CeSolver, hookimpl
from ce.backends.rattler_solver import RattlerSolver

try:
    from ce.interrupts import run_async
except ImportError:
    run_async = asyncio.run


def _racy(run):
    class Racy(RattlerSolver):
        def solve(self, request):
            packages = super().solve(request)

            async def arrive():
                loop = asyncio.get_running_loop()
                future = loop.create_future()

                def finish():  # the result and Ctrl-C in the same step of the loop, as rattler's can
                    future.set_result(packages)
                    os.kill(os.getpid(), signal.SIGINT)

                loop.call_soon(finish)
                return await asyncio.wait_for(future, 30)

            return run(arrive())

    return Racy


@hookimpl
def ce_solvers():
    yield CeSolver(name="racy-asyncio", backend=_racy(asyncio.run), summary="Ctrl-C as the solve ends")
    yield CeSolver(name="racy-ce", backend=_racy(run_async), summary="Ctrl-C as the solve ends")
"""

SLEEPY_SCRIPT = textwrap.dedent(
    """\
    # /// script
    # [tool.conda]
    # dependencies = ["python"]
    # ///
    import pathlib, sys, time
    pathlib.Path(sys.argv[1]).write_text("started")
    time.sleep(30)
    """
)


def _racy_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    info = site / "racy_ce_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (site / "racy_ce_plugin.py").write_text(RACY_PLUGIN)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: racy-ce-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[ce]\nracy_ce_plugin = racy_ce_plugin\n")
    return site


def _locks(folder: Path) -> list[Path]:
    return [path for path in folder.iterdir() if path.name not in {"s.py", "started"}]


@pytest.mark.slow
def test_ctrl_c_during_a_lock_run_ends_with_130_and_writes_no_lock(tmp_path: Path, channel_url: str) -> None:
    """Ctrl-C as a solve's result arrives (asyncio turned it into a cancellation that ``wait_for``
    swallowed: the run went on and wrote its lock), then at varied points of a real ``--lock`` run."""
    folder = script_folder(tmp_path, "s.py", SLEEPY_SCRIPT)
    env = dict(os.environ, CONDA_CHANNELS=channel_url, PYTHONPATH=str(_racy_site(tmp_path)))
    for solver in ("racy-asyncio", "racy-ce"):
        result = run("--solver", solver, "--lock", "s.py", str(folder / "started"), cwd=folder, env=env, timeout=60)
        assert_no_crash(result)
        assert result.returncode == 130, (solver, result.returncode, result.stderr[-2000:])
        assert result.stderr.strip().splitlines()[-1:] == ["ce: interrupted"], result.stderr[-2000:]
        assert _locks(folder) == [], f"{solver}: a lock was written after Ctrl-C"

    for delay in (0.05, 0.1, 0.15, 0.2, 0.3, 0.6):
        for path in folder.iterdir():
            if path.name != "s.py":
                path.unlink()
        process = subprocess.Popen(
            ce_command("--lock", "s.py", str(folder / "started")),
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        time.sleep(delay)
        sent = time.time_ns()
        process.send_signal(signal.SIGINT)
        try:
            _out, err = process.communicate(timeout=25)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate(timeout=30)
            pytest.fail(f"Ctrl-C at {delay}s was swallowed: the run went on")
        # 130 from ce; death by SIGINT only once the script's python had replaced ce (exec)
        assert process.returncode in (130, -signal.SIGINT), (delay, process.returncode, err[-2000:])
        if process.returncode == 130:
            assert not any(marker in err for marker in CRASH_MARKERS), err[-3000:]
        for lock in _locks(folder):  # written before Ctrl-C is fine; after it, not
            assert lock.stat().st_mtime_ns <= sent, f"{lock.name} written after Ctrl-C at {delay}s"


def test_add_refuses_a_hard_linked_script_and_changes_neither_name(tmp_path: Path, channel_url: str) -> None:
    """``--add`` (and ``--lock --embed``) replace the file: on a hard-linked script the other name would
    keep the old text.  One line, and both names stay the same file with the same text."""
    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    script, other = folder / "s.sh", folder / "other.sh"
    os.link(script, other)
    env = dict(os.environ, CONDA_CHANNELS=channel_url)
    for args in (("--add", "six", "s.sh"), ("--lock", "--embed", "s.sh")):
        result = run(*args, cwd=folder, env=env)
        assert_one_error(result, 1, "hard link")
        assert script.read_text() == other.read_text() == HELLO_SCRIPT
        assert script.stat().st_ino == other.stat().st_ino
        assert sorted(p.name for p in folder.iterdir()) == ["other.sh", "s.sh"]
    os.unlink(other)
    assert_ok(run("--add", "six", "s.sh", cwd=folder, env=env))  # one name again: edited as before
    assert "six" in script.read_text()


def _stderr_lines(process: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for_line(lines: queue.Queue[str], needle: str, seconds: float) -> str | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            continue
        if needle in line:
            return line
    return None


@contextlib.contextmanager
def _run_under_held_lock(
    held: Path,
    args: tuple[str, ...],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    while_held: Callable[[], None] = lambda: None,
) -> Iterator[tuple[subprocess.Popen[str], str | None]]:
    """Start ce with *args* while this process holds *held*: its first "waiting" line (within 10 s), then
    *while_held* still under the lock; yield the run and that line once the lock is let go (the run can go on).

    The run is killed if it outlives the test.
    """
    with _flock(held):
        process = subprocess.Popen(
            ce_command(*args),
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        try:
            line = _wait_for_line(_stderr_lines(process), "waiting", 10)
            while_held()
        except BaseException:
            process.kill()
            process.wait(timeout=30)
            raise
    try:
        yield process, line
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def test_a_run_blocked_on_a_build_lock_says_which_file_and_process(
    tmp_path: Path, channel_url: str, ce_home: Path
) -> None:
    """Another process holds the environment's build lock for 10 s: within them the run says so in one
    line naming the lock file and the holder's pid, then builds once it is free."""
    env = dict(os.environ, CONDA_CHANNELS=channel_url)
    assert_ok(run("--from", "hello-tool", "hello", env=env), "hello from hello-tool")
    (build_lock,) = (ce_home / "envs" / ".locks").glob("hello-tool--*.build.lock")
    assert_ok(run("--clean", "--all", "-y", env=env))
    with _run_under_held_lock(build_lock, ("--from", "hello-tool", "hello"), env=env) as (process, line):
        assert line is not None, "no word of the wait while the lock was held"
        assert str(build_lock) in line and str(os.getpid()) in line, line
        assert process.wait(timeout=60) == 0
        assert process.stdout is not None and "hello from hello-tool" in process.stdout.read()


def test_an_edit_waiting_for_another_edit_says_so(tmp_path: Path, channel_url: str) -> None:
    """``--add`` while another process holds the script's edit lock: one line naming the script and pid."""
    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    script = folder / "s.sh"

    def not_edited_yet() -> None:
        assert "six" not in script.read_text()

    with _run_under_held_lock(script, ("--add", "six", "s.sh"), cwd=folder, while_held=not_edited_yet) as (
        process,
        line,
    ):
        assert line is not None, "no word of the wait while the lock was held"
        assert os.path.realpath(script) in line and str(os.getpid()) in line, line
        assert process.wait(timeout=60) == 0
        assert "six" in script.read_text()
