"""Faults and litter: special files, closed streams, unreadable and read-only caches, broken packages,
killed downloads, busy tools. The tool still runs or ce says why in one line; the cache stays clean."""

from __future__ import annotations

import contextlib
import http.server
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from build_test_channel import PkgFile, serve_handler
from helpers import FAKE_ARGS, make_fake_env
from hostile.support import (
    HELLO_SCRIPT,
    UNPRIVILEGED,
    archive_of,
    assert_no_crash,
    assert_ok,
    assert_one_error,
    ce_command,
    explicit_lock,
    generic,
    leftovers,
    lock_digest,
    make_channel,
    run,
    script_folder,
    sh,
    snapshot,
)


def test_a_fifo_at_run_count_does_not_hang(ce_home: Path) -> None:
    """Bullet: a FIFO at ``run-count`` hangs every run."""
    make_fake_env(ce_home, "faketool", "echo tool-ran")
    os.mkfifo(ce_home / "run-count")
    env = dict(os.environ, CONDA_EXEC_AUTO_CLEAN="1", CONDA_EXEC_CLEAN_INTERVAL="1")
    assert_ok(run(*FAKE_ARGS, "faketool", env=env, timeout=20), "tool-ran")
    assert_ok(run("--clean", "--all", "-y", timeout=20))


def _closed(stream: str, argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run *argv* with fd 1 or 2 closed (``>&-`` / ``2>&-``), capturing the other stream."""
    shell = " ".join(f"'{arg}'" for arg in argv) + (" >&-" if stream == "stdout" else " 2>&-")
    return subprocess.run(
        ["/bin/sh", "-c", shell], capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL
    )


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_closed_stdout_or_stderr_still_runs_the_warm_tool(tmp_path: Path, ce_home: Path, stream: str) -> None:
    """Bullet: closed stdout or stderr gives a traceback and the tool never starts (warm path)."""
    marker = tmp_path / "marker"
    make_fake_env(ce_home, "faketool", f"touch {marker}")
    result = _closed(stream, ce_command(*FAKE_ARGS, "faketool"), dict(os.environ))
    assert "Traceback" not in result.stderr + result.stdout
    assert marker.exists(), result.stderr + result.stdout
    assert result.returncode == 0


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_closed_stdout_or_stderr_still_runs_the_cold_tool(tmp_path: Path, channel_url: str, stream: str) -> None:
    """Bullet: the same on a cold run (ce prints status on stderr)."""
    marker = tmp_path / "marker"
    argv = ce_command("-c", channel_url, "--override-channels", "--from", "bash", "bash", "-c", f"touch {marker}")
    result = _closed(stream, argv, dict(os.environ))
    assert "Traceback" not in result.stderr + result.stdout
    assert marker.exists(), result.stderr + result.stdout
    assert result.returncode == 0


def _unprivileged_home(shared_tmp: Path) -> tuple[Path, dict[str, str]]:
    home = shared_tmp / "ce-home"
    user_home = shared_tmp / "home"
    user_home.mkdir()
    env = dict(
        os.environ,
        CONDA_EXEC_HOME=str(home),
        HOME=str(user_home),
        XDG_CACHE_HOME=str(user_home / ".cache"),
        RATTLER_CACHE_DIR=str(shared_tmp / "rattler"),
    )
    return home, env


def _chown_tree(path: Path) -> None:
    if os.getuid() != 0:
        return
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), 65534, 65534)
    os.lchown(path, 65534, 65534)


def _prefix() -> list[str]:
    return UNPRIVILEGED if os.getuid() == 0 else []


def _unreadable_leftovers(home: Path) -> None:
    envs = home / "envs"
    for kind in (".trash-gone--0123456789abcdef.aaaa", ".build-gone--0123456789abcdef.bbbb"):
        locked = envs / kind / "env" / "lib" / "locked"
        locked.mkdir(parents=True)
        (locked / "file").write_text("x")
    _chown_tree(home)
    for kind in (".trash-gone--0123456789abcdef.aaaa", ".build-gone--0123456789abcdef.bbbb"):
        (envs / kind / "env" / "lib" / "locked").chmod(0)


def test_cleanup_with_unreadable_directories_does_not_crash(shared_tmp: Path) -> None:
    """Bullet: cleanup crashes with ``TypeError: open() missing required argument 'flags'`` on
    directories without read permission (run as an unprivileged user)."""
    home, env = _unprivileged_home(shared_tmp)
    make_fake_env(home, "faketool", "echo tool-ran")
    _unreadable_leftovers(home)
    result = run("--clean", "--all", "-y", env=env, prefix=_prefix(), timeout=60)
    if result.returncode == 0:
        assert_ok(result)
    else:
        assert_one_error(result, 1, ("permission", "cannot remove"))
    assert "TypeError" not in result.stderr


def test_warm_auto_clean_with_unreadable_directories_still_runs_the_tool(shared_tmp: Path) -> None:
    """Bullet: the warm path's auto-clean then shows a traceback instead of running the tool."""
    home, env = _unprivileged_home(shared_tmp)
    make_fake_env(home, "faketool", "echo tool-ran")
    _unreadable_leftovers(home)
    env.update(CONDA_EXEC_AUTO_CLEAN="1", CONDA_EXEC_CLEAN_INTERVAL="1")
    for _ in range(2):
        assert_ok(run(*FAKE_ARGS, "faketool", env=env, prefix=_prefix(), timeout=60), "tool-ran")


@pytest.mark.slow
def test_concurrent_sweeps_do_not_crash(ce_home: Path) -> None:
    """Bullet: cleanup crashes under concurrent sweeps."""
    for round_ in range(3):
        for index in range(6):
            make_fake_env(ce_home, f"tool{round_}x{index}", "true")
            trash = ce_home / "envs" / f".trash-tool{round_}x{index}--0123456789abcdef.{index:04x}" / "env"
            for depth in range(30):
                trash = trash / f"d{depth}"
            trash.mkdir(parents=True)
            for number in range(20):
                (trash / f"f{number}").write_text("x")
        sweeps = [
            subprocess.Popen(
                ce_command("--clean", "--all", "-y"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(6)
        ]
        for sweep in sweeps:
            _out, err = sweep.communicate(timeout=120)
            assert "Traceback" not in err and "TypeError" not in err, err
            assert sweep.returncode == 0, err
    assert leftovers(ce_home) == []


def test_a_read_only_cache_runs_complete_environments(shared_tmp: Path) -> None:
    """Bullet: a read-only cache cannot run even complete environments (tool and script)."""
    home, env = _unprivileged_home(shared_tmp)
    make_fake_env(home, "faketool", "echo tool-ran")
    if os.getuid() != 0:
        for root, dirs, files in os.walk(home):
            for name in [*dirs, *files]:
                path = os.path.join(root, name)
                os.chmod(path, os.stat(path).st_mode & ~0o222)
    for directory in [home, *[p for p in home.rglob("*") if p.is_dir()]]:
        directory.chmod(directory.stat().st_mode | 0o055)  # readable by the unprivileged user
    before = snapshot(home)
    for extra in ({}, {"CONDA_EXEC_AUTO_CLEAN": "1", "CONDA_EXEC_CLEAN_INTERVAL": "1"}):
        assert_ok(run(*FAKE_ARGS, "faketool", env=dict(env, **extra), prefix=_prefix(), timeout=60), "tool-ran")
    assert snapshot(home) == before


def test_a_read_only_cache_lists_and_explains_cleanup(shared_tmp: Path) -> None:
    """Own case: ``--list`` works on a read-only cache; ``--clean`` says why in one line."""
    home, env = _unprivileged_home(shared_tmp)
    make_fake_env(home, "faketool", "echo tool-ran")
    for directory in [home, *[p for p in home.rglob("*") if p.is_dir()]]:
        directory.chmod(0o755)
    assert_ok(run("--list", env=env, prefix=_prefix()), "faketool")
    result = run("--clean", "--all", "-y", env=env, prefix=_prefix())
    if result.returncode != 0:
        assert_one_error(result, 1)
    assert (home / "envs").is_dir()


# --------------------------------------------------------------------------
# Broken packages
# --------------------------------------------------------------------------


def _broken_channel(tmp_path: Path, kind: str, outside: Path) -> Path:
    if kind == "absolute path":
        files = [sh("bin/broken", "echo ran"), PkgFile(str(outside / "planted.txt"), b"planted\n")]
        return make_channel(tmp_path / "broken", [generic("broken", files)])
    if kind == "parent path":
        files = [
            sh("bin/broken", "echo ran"),
            PkgFile("../../../../../../../../" + str(outside / "planted.txt").lstrip("/"), b"x"),
        ]
        return make_channel(tmp_path / "broken", [generic("broken", files)])
    if kind == "name differs from the archive":
        other = generic("other-name", [sh("bin/broken", "echo ran")])
        return make_channel(tmp_path / "broken", [other], rename={"other-name-1.0-0": "broken-1.0-0"})
    if kind == "truncated archive":
        channel = make_channel(tmp_path / "broken", [generic("broken", [sh("bin/broken", "echo ran")])])
        archive = channel / "noarch" / "broken-1.0-0.conda"
        archive.write_bytes(archive.read_bytes()[:300])
        return channel
    if kind == "symlink out of the prefix":
        files = [sh("bin/real", "echo ran"), PkgFile("bin/broken", symlink=str(outside / "precious.txt"))]
        return make_channel(tmp_path / "broken", [generic("broken", files)])
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["absolute path", "parent path", "name differs from the archive", "truncated archive"])
def test_a_broken_package_is_one_error_and_leaves_no_build_directory(
    tmp_path: Path, ce_home: Path, outside: Path, own_rattler_cache: Path, kind: str
) -> None:
    """Bullet: a package with an absolute path, or repodata whose name differs from the archive, makes
    rattler panic (Rust backtrace, SIGABRT, build directory left)."""
    channel = _broken_channel(tmp_path, kind, outside)
    before = snapshot(outside)
    result = run("-c", channel.as_uri(), "--override-channels", "broken", timeout=120)
    assert_one_error(result, 1, ("broken", "package", "archive"))
    assert "ran" not in result.stdout
    assert leftovers(ce_home) == []
    assert snapshot(outside) == before
    assert "broken--" not in run("--list").stdout


def test_a_package_symlink_out_of_the_prefix_is_not_followed_by_ce(
    tmp_path: Path, ce_home: Path, outside: Path, own_rattler_cache: Path
) -> None:
    """Own case: a package ships ``bin/broken`` as a link to a file outside; nothing outside changes."""
    channel = _broken_channel(tmp_path, "symlink out of the prefix", outside)
    before = snapshot(outside)
    result = run("-c", channel.as_uri(), "--override-channels", "broken", timeout=120)
    assert_no_crash(result)
    assert_ok(run("--clean", "--all", "-y"))
    assert snapshot(outside) == before


# --------------------------------------------------------------------------
# Litter: lock downloads, lock files, index entries
# --------------------------------------------------------------------------


class _SlowArchive(http.server.BaseHTTPRequestHandler):
    """Serves a package archive: the first half at once, then stalls."""

    data = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.data)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(self.data[: len(self.data) // 2])
            self.wfile.flush()
            time.sleep(30)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.mark.slow
def test_killed_lock_downloads_leave_no_partial_archives_behind(
    tmp_path: Path, channel: Path, ce_home: Path, own_rattler_cache: Path
) -> None:
    """Bullet: a killed lock download leaves partial archives that nothing removes.

    (Reported as ``.fetch-*``; downloads are now written through ``ce.fileio.AtomicFile``,
    so a partial archive is a ``.ce-write-*.tmp`` file in the verified store.)
    """
    url, md5, sha256 = archive_of(channel, "hello-tool-1.0-0")
    _SlowArchive.data = Path(url[len("file://") :]).read_bytes()
    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    with serve_handler(_SlowArchive) as base:
        lock = explicit_lock(lock_digest(["hello-tool"]), [f"{base}/noarch/hello-tool-1.0-0.conda#sha256:{sha256}"])
        (folder / "s.sh.linux-64.explicit.txt").write_text(lock)
        process = subprocess.Popen(
            ce_command("--locked", "--lock-format", "explicit", "s.sh"),
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list(own_rattler_cache.rglob(".ce-write-*")):
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    partial = list(own_rattler_cache.rglob(".ce-write-*"))
    assert partial, "the download never started"
    old = time.time() - 7200
    for path in partial:
        os.utime(path, (old, old))
    # a later run (from the local file, which also verifies) and a sweep remove them
    (folder / "s.sh.linux-64.explicit.txt").write_text(
        explicit_lock(lock_digest(["hello-tool"]), [f"{url}#sha256:{sha256}"])
    )
    assert_ok(run("--locked", "--lock-format", "explicit", "s.sh", cwd=folder), "hello from hello-tool")
    assert_ok(run("--clean", "--all", "-y"))
    assert list(own_rattler_cache.rglob(".ce-write-*")) == []
    assert md5


def test_an_oversized_lock_download_is_one_error(tmp_path: Path, channel: Path, own_rattler_cache: Path) -> None:
    """Own case: the server sends the archive plus 8 MB more than the lock's hash covers."""
    url, _md5, sha256 = archive_of(channel, "hello-tool-1.0-0")

    class Oversized(_SlowArchive):
        data = Path(url[len("file://") :]).read_bytes() + b"\0" * (8 << 20)

        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(self.data)

    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    with serve_handler(Oversized) as base:
        lock = explicit_lock(lock_digest(["hello-tool"]), [f"{base}/noarch/hello-tool-1.0-0.conda#sha256:{sha256}"])
        (folder / "s.sh.linux-64.explicit.txt").write_text(lock)
        result = run("--locked", "--lock-format", "explicit", "s.sh", cwd=folder, timeout=60)
    assert_one_error(result, 1, ("sha256", "size", "hello-tool"))
    assert list(own_rattler_cache.rglob(".ce-write-*")) == []


def test_lock_files_and_index_entries_are_pruned_by_cleanup(tmp_path: Path, ce_home: Path, env: dict[str, str]) -> None:
    """Bullet: ``.locks/*.lock`` and index entries are never pruned."""
    folder = tmp_path / "work"
    folder.mkdir()
    for index in range(3):
        (folder / f"s{index}.sh").write_text(HELLO_SCRIPT.replace("echo body", f"echo {index}"))
        assert_ok(run(f"s{index}.sh", env=env, cwd=folder), "hello from hello-tool")
    make_fake_env(ce_home, "faketool", "true")
    assert_ok(run(*FAKE_ARGS, "faketool"))
    assert list((ce_home / "envs" / ".index").iterdir())
    assert_ok(run("--clean", "--all", "-y"))
    assert [p.name for p in (ce_home / "envs" / ".locks").glob("*.lock")] == []
    index = ce_home / "envs" / ".index"
    assert not index.exists() or list(index.iterdir()) == []


@pytest.mark.slow
def test_refresh_of_a_busy_tool_is_not_starved(channel_url: str, ce_home: Path) -> None:
    """Bullet: ``--refresh`` of a tool that is busy most of the time (2 refreshes in 60 s)."""
    tool = ["-c", channel_url, "--override-channels", "--from", "bash", "bash", "-c", "sleep 0.6"]
    assert_ok(run(*tool))
    stop = threading.Event()
    failures: list[str] = []

    def busy() -> None:
        while not stop.is_set():
            result = run(*tool, timeout=120)
            if result.returncode != 0:
                failures.append(result.stderr)

    workers = [threading.Thread(target=busy) for _ in range(3)]
    for index, worker in enumerate(workers):
        worker.start()
        time.sleep(0.2 * (index + 1))
    try:
        started = time.monotonic()
        completed = 0
        while completed < 3 and time.monotonic() - started < 60:
            result = run("--refresh", *tool[:-3], "bash", "-c", "true", timeout=90)
            assert_ok(result)
            completed += 1
    except subprocess.TimeoutExpired:
        pytest.fail(f"--refresh starved: {completed} refreshes in 90 s")
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=120)
    assert completed == 3, f"only {completed} refreshes in 60 s"
    assert failures == []
