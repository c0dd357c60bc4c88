"""A cache another user controls is never run from; completeness is ce's own record, written last.

The tests run as root (the machine's user) and simulate another user's plant by handing
files to uid 65534, or run ce itself as that user (:data:`UNPRIVILEGED`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from helpers import FAKE_ARGS, env_names, make_fake_env
from hostile.support import UNPRIVILEGED, assert_ok, assert_one_error, error_lines, run

pytestmark = pytest.mark.skipif(os.getuid() != 0, reason="needs root to hand files to another user")

OTHER = 65534
PLANTED = "echo planted-code-ran"


def _chown_tree(path: Path, uid: int = OTHER) -> None:
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), uid, uid)
    os.lchown(path, uid, uid)


def _plant(prefix: Path, command: str) -> None:
    """What another user leaves under a predictable key: ``bin/COMMAND`` and an empty ``conda-meta/history``."""
    (prefix / "bin").mkdir(parents=True)
    (prefix / "conda-meta").mkdir()
    (prefix / "conda-meta" / "history").write_text("")
    tool = prefix / "bin" / command
    tool.write_text(f"#!/bin/sh\n{PLANTED}\n")
    tool.chmod(0o755)


def _warm(ce_home: Path) -> Path:
    """A fake tool's environment, run once by the full path so that the next run is a warm hit."""
    prefix = make_fake_env(ce_home, "faketool", "echo tool-ran")
    assert_ok(run(*FAKE_ARGS, "faketool", timeout=30), "tool-ran")
    assert any(name.startswith("tool-") for name in os.listdir(ce_home / "envs" / ".index"))
    return prefix


def _refused(result: subprocess.CompletedProcess[str], needle: str) -> str:
    """One error line containing *needle*, and neither the planted nor the real tool ran."""
    line = assert_one_error(result, 1, needle)
    assert "planted-code-ran" not in result.stdout
    assert "tool-ran" not in result.stdout
    return line


@pytest.mark.parametrize("path", ["warm", "full"])
def test_another_users_planted_environment_is_never_run(ce_home: Path, path: str) -> None:
    """The issue's plant: ``envs/<tool>--<key>/bin/<tool>`` and an empty history, owned by another user."""
    prefix = _warm(ce_home) if path == "warm" else make_fake_env(ce_home, "faketool", "echo tool-ran")
    if path == "full":
        (ce_home / "envs" / ".index").mkdir(exist_ok=True)  # no index entry: the full path looks it up
    shutil.rmtree(prefix)
    _plant(prefix, "faketool")
    (prefix / ".ce-env.json").write_text('{"kind": "tool"}')  # even with a record: it is not ours
    _chown_tree(prefix)
    for _ in range(2):
        line = _refused(run(*FAKE_ARGS, "faketool", timeout=30), "owned by another user")
        assert str(prefix) in line and str(OTHER) in line


def test_a_cache_home_another_user_owns_is_refused(tmp_path: Path) -> None:
    """A shared (or symlinked) ``CONDA_EXEC_HOME`` that another user owns and planted into."""
    shared = tmp_path / "shared-home"
    prefix = make_fake_env(shared, "faketool")
    shutil.rmtree(prefix)
    _plant(prefix, "faketool")
    _chown_tree(shared)
    link = tmp_path / "my-home"
    link.symlink_to(shared)
    environ = dict(os.environ, CONDA_EXEC_HOME=str(link))
    for args in ((*FAKE_ARGS, "faketool"), ("--clean", "--all", "-y")):
        line = _refused(run(*args, env=environ, timeout=30), "owned by another user")
        assert "CONDA_EXEC_HOME" in line
    assert (prefix / "bin" / "faketool").exists()


@pytest.mark.parametrize("which", ["root", "envs", "env", "locks", "index"])
def test_a_world_writable_cache_directory_is_refused_with_the_fix(ce_home: Path, which: str) -> None:
    """Like ssh with a world-writable ``~/.ssh``: one line naming the path and ``chmod``; fixed, it runs again."""
    prefix = _warm(ce_home)
    target = {
        "root": ce_home,
        "envs": ce_home / "envs",
        "env": prefix,
        "locks": ce_home / "envs" / ".locks",
        "index": ce_home / "envs" / ".index",
    }[which]
    target.chmod(0o777)
    for _ in range(2):
        line = _refused(run(*FAKE_ARGS, "faketool", timeout=30), "writable by others")
        assert str(target) in line and f"chmod o-w {target}" in line
    # A directory of one's own that its group may write (umask 002) is not refused.
    target.chmod(0o775)
    for _ in range(2):
        assert_ok(run(*FAKE_ARGS, "faketool", timeout=30), "tool-ran")


def test_a_group_writable_directory_of_root_is_refused_for_another_user(shared_tmp: Path) -> None:
    """Root's cache, readable by all: fine for another user until root's group may write into it."""
    home = shared_tmp / "ce-home"
    make_fake_env(home, "faketool", "echo tool-ran")
    (shared_tmp / "home").mkdir(mode=0o777)
    (shared_tmp / "home").chmod(0o777)
    environ = dict(os.environ, CONDA_EXEC_HOME=str(home), HOME=str(shared_tmp / "home"))
    args = (*FAKE_ARGS, "faketool")
    assert_ok(run(*args, env=environ, prefix=UNPRIVILEGED, cwd=shared_tmp, timeout=30), "tool-ran")
    (home / "envs").chmod(0o775)
    result = run(*args, env=environ, prefix=UNPRIVILEGED, cwd=shared_tmp, timeout=30)
    line = _refused(result, "writable by its group or others")
    assert f"chmod go-w {home / 'envs'}" in line


def test_an_environment_with_only_a_history_is_rebuilt(local: tuple[str, ...], ce_home: Path) -> None:
    """An empty ``conda-meta/history`` (this user's own) is not a complete environment."""
    assert_ok(run(*local, "ruff", "--version", timeout=120), "ruff")
    (name,) = env_names(ce_home)
    prefix = ce_home / "envs" / name
    shutil.rmtree(prefix)
    _plant(prefix, "ruff")
    for _ in range(2):
        result = run(*local, "ruff", "--version", timeout=120)
        assert_ok(result, "ruff ")
        assert "planted-code-ran" not in result.stdout
    assert (prefix / ".ce-env.json").is_file()
    assert env_names(ce_home) == [name]


def _conda_meta_is_condas(prefix: Path) -> None:
    """``conda-meta/`` holds only package records (``<name>-<version>-<build>.json``) and ``history``."""
    for entry in (prefix / "conda-meta").iterdir():
        if entry.name == "history":
            continue
        assert entry.suffix == ".json", entry
        record = json.loads(entry.read_text())
        assert {"name", "version", "build"} <= set(record), entry
        assert entry.name == f"{record['name']}-{record['version']}-{record['build']}.json", entry


def test_an_older_ces_environment_is_rebuilt_and_conda_meta_is_condas(local: tuple[str, ...], ce_home: Path) -> None:
    """An environment recorded in ``conda-meta/ce-env.json`` (an earlier ce) is rebuilt, never run half-known."""
    assert_ok(run(*local, "ruff", "--version", timeout=120), "ruff")
    (name,) = env_names(ce_home)
    prefix = ce_home / "envs" / name
    _conda_meta_is_condas(prefix)
    record = prefix / ".ce-env.json"
    assert json.loads(record.read_text())["kind"] == "tool"
    record.rename(prefix / "conda-meta" / "ce-env.json")  # where an earlier ce kept it
    (prefix / "old-marker").write_text("made by an earlier ce")
    result = run(*local, "ruff", "--version", timeout=120)
    assert_ok(result, "ruff ")
    assert not (prefix / "old-marker").exists(), "the old environment was run, not rebuilt"
    assert record.is_file()
    _conda_meta_is_condas(prefix)
    assert_ok(run(*local, "ruff", "--version", timeout=120), "ruff ")  # now warm
    assert not [p for p in (ce_home / "envs").iterdir() if p.name.startswith((".build-", ".trash-"))]


def test_clean_removes_an_older_ces_environment(ce_home: Path) -> None:
    """What an earlier ce left (record in conda-meta) is not listed, and cleanup sweeps it when nobody uses it."""
    make_fake_env(ce_home, "keep")
    old = make_fake_env(ce_home, "oldtool")
    (old / ".ce-env.json").rename(old / "conda-meta" / "ce-env.json")
    rows = json.loads(run("--list", "--json", timeout=30).stdout)
    assert [row["name"].split("--")[0] for row in rows] == ["keep"]
    assert_ok(run("--clean", "-y", timeout=30))
    assert not old.exists()
    assert [name.split("--")[0] for name in env_names(ce_home)] == ["keep"]


def test_clean_of_a_read_only_cache_is_one_clear_line(shared_tmp: Path) -> None:
    """Item of 13: ``--clean`` of another user's (read-only) cache said ``faketool--….lock: Permission denied``."""
    home = shared_tmp / "ce-home"
    make_fake_env(home, "faketool", "echo tool-ran")
    (shared_tmp / "home").mkdir()
    (shared_tmp / "home").chmod(0o777)
    environ = dict(os.environ, CONDA_EXEC_HOME=str(home), HOME=str(shared_tmp / "home"))
    result = run("--clean", "--all", "-y", env=environ, prefix=UNPRIVILEGED, cwd=shared_tmp, timeout=30)
    line = assert_one_error(result, 1, "read-only")
    assert str(home / "envs") in line and "Errno" not in line and "Permission denied" not in line
    assert "remove " not in result.stdout  # nothing claimed that could not be done
    assert env_names(home) and (home / "envs" / env_names(home)[0] / "bin" / "faketool").exists()
    # The tool still runs from the read-only cache.
    assert_ok(run(*FAKE_ARGS, "faketool", env=environ, prefix=UNPRIVILEGED, cwd=shared_tmp, timeout=30), "tool-ran")


def test_an_environment_last_used_in_the_future_is_cleaned_by_age(ce_home: Path) -> None:
    """Item of 13: a history mtime ahead of the clock (a clock set back) kept the environment forever."""
    future = make_fake_env(ce_home, "future")
    recent = make_fake_env(ce_home, "recent")
    ahead = time.time() + 400 * 86400
    old = time.time() - 60 * 86400
    os.utime(future / "conda-meta" / "history", (ahead, ahead))
    os.utime(future / ".ce-env.json", (old, old))  # made 60 days ago, no run since the clock went back
    os.utime(recent / "conda-meta" / "history", (ahead, ahead))  # made now: not old enough yet
    rows = {row["name"].split("--")[0]: row for row in json.loads(run("--list", "--json", timeout=30).stdout)}
    assert rows["future"]["last_used_timestamp"] <= time.time()
    result = run("--clean", "--older-than", "30", "-y", timeout=30)
    assert_ok(result)
    assert error_lines(result.stderr) == []
    assert not future.exists() and recent.exists()


def test_a_run_brings_a_last_use_in_the_future_back_to_now(ce_home: Path) -> None:
    """The warm path touches a history ahead of the clock (it touched only one more than an hour old)."""
    prefix = _warm(ce_home)
    history = prefix / "conda-meta" / "history"
    ahead = time.time() + 400 * 86400
    os.utime(history, (ahead, ahead))
    assert_ok(run(*FAKE_ARGS, "faketool", timeout=30), "tool-ran")
    assert history.stat().st_mtime <= time.time()
