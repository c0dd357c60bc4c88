"""Nothing ce writes follows a symbolic link it did not create."""

from __future__ import annotations

import os
from pathlib import Path

from build_test_channel import Package, PkgFile
from helpers import FAKE_ARGS, make_fake_env
from hostile.support import HELLO_SCRIPT, assert_ok, assert_one_error, make_channel, run, script_folder, snapshot


def _ran_or_refused(result, output: str) -> None:  # type: ignore[no-untyped-def]
    """The tool ran, or ce refused in one line (saying why): both keep the outside intact."""
    if result.returncode == 0:
        assert_ok(result, output)
    else:
        assert_one_error(result, 1, ("symbolic link", "link"))


def test_byte_compilation_never_writes_through_a_pycache_symlink(tmp_path: Path, channel: Path, outside: Path) -> None:
    """Bullet 'writes outside the cache': a package's ``__pycache__`` is a link out of the environment."""
    evil = make_channel(
        tmp_path / "evil",
        [
            Package(
                name="evilpyc",
                version="1.0",
                build="py_0",
                subdir="noarch",
                noarch="python",
                depends=["python"],
                files=[
                    PkgFile("site-packages/evilpyc/__init__.py", b"VALUE = 'evilpyc imported'\n"),
                    PkgFile("site-packages/evilpyc/mod.py", b"X = 1\n"),
                    PkgFile("site-packages/evilpyc/__pycache__", symlink=str(outside)),
                ],
            )
        ],
    )
    before = snapshot(outside)
    result = run(
        *("-c", channel.as_uri(), "-c", evil.as_uri(), "--override-channels", "--from", "evilpyc"),
        *("python", "-c", "import evilpyc; print(evilpyc.VALUE)"),
    )
    assert snapshot(outside) == before, "byte-compilation wrote through the __pycache__ link"
    if result.returncode == 0:
        assert_ok(result, "evilpyc imported")
    else:
        assert_one_error(result, 1)


def test_a_symlinked_locks_directory_is_never_written_through(ce_home: Path, outside: Path) -> None:
    """Bullet: the warm path follows a symlinked ``envs/.locks``."""
    make_fake_env(ce_home, "faketool", "echo tool-ran")
    locks = ce_home / "envs" / ".locks"
    locks.rmdir()
    (outside / "locks").mkdir()
    locks.symlink_to(outside / "locks")
    before = snapshot(outside)
    env = dict(os.environ, CONDA_EXEC_AUTO_CLEAN="1", CONDA_EXEC_CLEAN_INTERVAL="1")
    for _ in range(2):
        _ran_or_refused(run(*FAKE_ARGS, "faketool", env=env), "tool-ran")
    assert snapshot(outside) == before


def test_a_symlinked_index_directory_is_never_written_through(
    tmp_path: Path, ce_home: Path, outside: Path, env: dict[str, str]
) -> None:
    """Bullet: the script index follows a symlinked ``envs/.index``."""
    (ce_home / "envs").mkdir(parents=True)
    (outside / "index").mkdir()
    (ce_home / "envs" / ".index").symlink_to(outside / "index")
    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    before = snapshot(outside)
    for _ in range(3):
        _ran_or_refused(run("s.sh", env=env, cwd=folder), "hello from hello-tool")
    assert snapshot(outside) == before


def test_a_symlinked_history_file_is_never_touched(ce_home: Path, outside: Path) -> None:
    """Bullet: the warm path touches the target of a symlinked ``conda-meta/history``."""
    prefix = make_fake_env(ce_home, "faketool", "echo tool-ran")
    history = prefix / "conda-meta" / "history"
    target = outside / "history"
    target.write_text("someone else's history\n")
    old = 1_600_000_000
    os.utime(target, (old, old))
    history.unlink()
    history.symlink_to(target)
    before = snapshot(outside)
    for _ in range(2):
        _ran_or_refused(run(*FAKE_ARGS, "faketool"), "tool-ran")
    assert snapshot(outside) == before


def test_dangling_lock_file_links_create_nothing_outside(ce_home: Path, outside: Path) -> None:
    """Own case: every ``envs/.locks`` entry replaced by a link to a file that does not exist yet."""
    make_fake_env(ce_home, "faketool", "echo tool-ran")
    env = dict(os.environ, CONDA_EXEC_AUTO_CLEAN="1", CONDA_EXEC_CLEAN_INTERVAL="1")
    assert_ok(run(*FAKE_ARGS, "faketool", env=env), "tool-ran")
    assert_ok(run("--clean", "--dry-run"))
    locks = sorted((ce_home / "envs" / ".locks").iterdir())
    assert locks
    for index, lock in enumerate(locks):
        lock.unlink()
        lock.symlink_to(outside / f"created-{index}")
    (ce_home / "run-count").unlink(missing_ok=True)
    (ce_home / "run-count").symlink_to(outside / "created-run-count")
    before = snapshot(outside)
    for _ in range(2):
        _ran_or_refused(run(*FAKE_ARGS, "faketool", env=env), "tool-ran")
    result = run("--clean", "--all", "-y")
    assert result.returncode in (0, 1) and "Traceback" not in result.stderr
    assert snapshot(outside) == before


def test_a_symlinked_run_count_is_not_written_through(ce_home: Path, outside: Path) -> None:
    """Own case: ``run-count`` is a link to a user's file."""
    make_fake_env(ce_home, "faketool", "echo tool-ran")
    (outside / "count").write_text("3")
    (ce_home / "run-count").symlink_to(outside / "count")
    before = snapshot(outside)
    env = dict(os.environ, CONDA_EXEC_AUTO_CLEAN="1", CONDA_EXEC_CLEAN_INTERVAL="100")
    for _ in range(3):
        _ran_or_refused(run(*FAKE_ARGS, "faketool", env=env), "tool-ran")
    assert snapshot(outside) == before


def test_a_symlinked_environment_metadata_file_is_not_followed_by_list_or_clean(ce_home: Path, outside: Path) -> None:
    """Own case: ``.ce-env.json`` is a link outside; list and clean neither follow nor remove it."""
    prefix = make_fake_env(ce_home, "faketool", "echo tool-ran")
    record = prefix / ".ce-env.json"
    (outside / "ce-env.json").write_text(record.read_text())
    record.unlink()
    record.symlink_to(outside / "ce-env.json")
    before = snapshot(outside)
    assert_ok(run("--list"))
    assert_ok(run("--clean", "--all", "-y"))
    assert snapshot(outside) == before
