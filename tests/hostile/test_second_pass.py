"""A second tester's pass: more of the same kinds as issue 13 lists, each a failure found on main once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import FAKE_ARGS, fake_request, make_fake_env
from hostile.support import (
    HELLO_SCRIPT,
    UNPRIVILEGED,
    assert_no_crash,
    assert_ok,
    assert_one_error,
    error_lines,
    run,
    snapshot,
)


def test_a_fifo_at_the_refresh_gate_does_not_hang_the_warm_path(ce_home: Path) -> None:
    """A FIFO where ``envs/.locks/<env>.refresh.lock`` belongs: the warm run opened it blocking and hung."""
    make_fake_env(ce_home, "faketool", "echo tool-ran")
    os.mkfifo(ce_home / "envs" / ".locks" / f"{fake_request('faketool').env_name}.refresh.lock")
    assert_ok(run(*FAKE_ARGS, "faketool", timeout=20), "tool-ran")
    assert_ok(run("--clean", "--all", "-y", timeout=20))


def test_a_variable_that_is_not_utf8_is_one_error_not_a_traceback(tmp_path: Path, ce_home: Path) -> None:
    """``CONDA_CHANNELS`` holding byte 0xff: the warm path's cache key raised UnicodeEncodeError (a traceback)."""
    make_fake_env(ce_home, "faketool", "echo tool-ran")
    script = tmp_path / "s.sh"
    script.write_text(HELLO_SCRIPT)
    env = dict(os.environ, CONDA_CHANNELS="\udcff")  # passed to the child as the byte 0xff
    for args in (("faketool",), (str(script),)):
        assert_one_error(run(*args, env=env), (1, 2), "channel")
    assert_ok(run(*FAKE_ARGS, "faketool", env=env), "tool-ran")  # channels given: the variable is not used


def _condarc_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose condarc exists, so the merged settings are cached under ``condarc-settings/``."""
    condarc = tmp_path / "condarc.yml"
    condarc.write_text("channels: [somewhere]\n")
    return dict(os.environ, CE_CONDARC_SEARCH_PATH=str(condarc))


def test_a_linked_settings_cache_directory_is_neither_written_nor_pruned(
    tmp_path: Path, ce_home: Path, outside: Path
) -> None:
    """``condarc-settings`` linked to a user's folder: ce wrote its cache there and pruned all but 16 files."""
    make_fake_env(ce_home, "faketool", "echo tool-ran")
    for index in range(20):
        (outside / f"{index:016x}").write_text("a user's file\n")
    (ce_home / "condarc-settings").symlink_to(outside)
    before = snapshot(outside)
    env = _condarc_env(tmp_path)
    for _ in range(2):
        assert_ok(run(*FAKE_ARGS, "faketool", env=env), "tool-ran")
    assert snapshot(outside) == before


def test_settings_cache_pruning_removes_only_cache_files(tmp_path: Path, ce_home: Path) -> None:
    """Pruning keeps the newest 16 cache files and never removes a file that is not one."""
    make_fake_env(ce_home, "faketool", "echo tool-ran")
    cache = ce_home / "condarc-settings"
    cache.mkdir()
    for index in range(20):
        (cache / f"{index:016x}").write_text("stale\n")
        (cache / f"note-{index}.txt").write_text("not a cache file\n")
    assert_ok(run(*FAKE_ARGS, "faketool", env=_condarc_env(tmp_path)), "tool-ran")
    names = [path.name for path in cache.iterdir()]
    assert sum(name.startswith("note-") for name in names) == 20
    assert len(names) == 20 + 16


@pytest.mark.parametrize("kind", ["fifo", "huge", "binary"])
def test_a_special_settings_cache_file_is_no_cache(tmp_path: Path, ce_home: Path, kind: str) -> None:
    """A FIFO (it hung the warm run), a huge or a binary file where the settings cache file belongs."""
    make_fake_env(ce_home, "faketool", "echo tool-ran")
    env = _condarc_env(tmp_path)
    assert_ok(run(*FAKE_ARGS, "faketool", env=env), "tool-ran")
    (entry,) = (ce_home / "condarc-settings").iterdir()
    entry.unlink()
    if kind == "fifo":
        os.mkfifo(entry)
    else:
        entry.write_bytes(b"\0" * (8 * 1024 * 1024) if kind == "huge" else bytes(range(256)) * 4)
    for _ in range(2):
        assert_ok(run(*FAKE_ARGS, "faketool", env=env, timeout=20), "tool-ran")


@pytest.mark.parametrize("kind", ["fifo", "huge", "binary", "link"])
def test_a_special_activation_cache_is_no_cache(ce_home: Path, outside: Path, kind: str) -> None:
    """A FIFO (it hung ``--activate``), a huge, binary or linked ``.ce-activation``."""
    prefix = make_fake_env(ce_home, "faketool", 'echo "tool-ran $CE_ACTIVATED"')
    (prefix / "etc" / "conda" / "activate.d").mkdir(parents=True)
    (prefix / "etc" / "conda" / "activate.d" / "a.sh").write_text("export CE_ACTIVATED=yes\n")
    cache = prefix / ".ce-activation"
    if kind == "fifo":
        os.mkfifo(cache)
    elif kind == "link":
        cache.symlink_to(outside / "precious.txt")
    else:
        cache.write_bytes(b"\0" * (8 * 1024 * 1024) if kind == "huge" else bytes(range(256)) * 4)
    before = snapshot(outside)
    for _ in range(2):
        assert_ok(run("--activate", *FAKE_ARGS, "faketool", timeout=20), "tool-ran yes")
    assert snapshot(outside) == before


@pytest.mark.parametrize("kind", ["file", "fifo", "link"])
def test_a_locks_path_that_is_not_a_directory_is_one_plain_error(ce_home: Path, outside: Path, kind: str) -> None:
    """``envs/.locks`` a file, FIFO or link: the run and the cleanup said ``[Errno 20] Not a directory: '...'``."""
    make_fake_env(ce_home, "faketool", "echo tool-ran")
    locks = ce_home / "envs" / ".locks"
    locks.rmdir()
    if kind == "file":
        locks.write_text("x")
    elif kind == "fifo":
        os.mkfifo(locks)
    else:
        locks.symlink_to(outside)
    before = snapshot(outside)
    for args in ((*FAKE_ARGS, "faketool"), ("--clean", "--all", "-y")):
        line = assert_one_error(run(*args, timeout=20), 1, str(locks))
        assert "Errno" not in line
    assert snapshot(outside) == before


@pytest.mark.parametrize("kind", ["dangling", "loop"])
def test_a_dangling_script_link_is_named_as_such(tmp_path: Path, outside: Path, kind: str) -> None:
    """A dangling or looping script link said ``no such script: ./s.sh; did you mean ./s.sh?``."""
    link = tmp_path / "s.sh"
    link.symlink_to(outside / "gone.sh" if kind == "dangling" else link)
    for flags in ((), ("--add", "six"), ("--lock",)):
        line = assert_one_error(run(*flags, "./s.sh", cwd=tmp_path, timeout=30), (1, 2), "symbolic link to nothing")
        assert "did you mean" not in line
    assert link.is_symlink() and not (outside / "gone.sh").exists()


def test_a_script_name_too_long_for_its_lock_sidecar_is_one_error(tmp_path: Path, env: dict[str, str]) -> None:
    """A 250-character script name: its sidecar lock name is too long; the error named only the temporary file."""
    folder = tmp_path / "work"
    folder.mkdir()
    script = folder / ("x" * 247 + ".sh")
    script.write_text(HELLO_SCRIPT)
    assert_ok(run(str(script), env=env), "hello from hello-tool")
    line = assert_one_error(run("--lock", str(script), env=env), 1, "File name too long")
    assert ".conda-exec.lock" in line
    assert script.read_text() == HELLO_SCRIPT
    assert [path.name for path in folder.iterdir()] == [script.name]


def test_a_fifo_in_use_lock_of_a_read_only_cache_does_not_hang(shared_tmp: Path) -> None:
    """A read-only cache (run as another user) with a FIFO at the in-use lock: its read-only open blocked."""
    home = shared_tmp / "ce-home"
    make_fake_env(home, "faketool", "echo tool-ran")
    os.mkfifo(home / "envs" / ".locks" / f"{fake_request('faketool').env_name}.lock")
    (shared_tmp / "home").mkdir()
    (shared_tmp / "home").chmod(0o777)
    env = dict(os.environ, CONDA_EXEC_HOME=str(home), HOME=str(shared_tmp / "home"))
    env.update(CONDA_EXEC_AUTO_CLEAN="1", CONDA_EXEC_CLEAN_INTERVAL="1")
    for args in ((*FAKE_ARGS, "faketool"), ("--clean", "--all", "-y")):
        result = run(*args, env=env, prefix=UNPRIVILEGED, cwd=shared_tmp, timeout=20)
        assert_no_crash(result)
        assert result.returncode == 0 or len(error_lines(result.stderr)) == 1, result.stderr
    assert_ok(run(*FAKE_ARGS, "faketool", env=env, prefix=UNPRIVILEGED, cwd=shared_tmp, timeout=20), "tool-ran")
