"""Cache lifecycle: automatic cleanup, --clean, in-use protection, leftovers."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from ce.base import CachePaths, CleanSettings, bump_run_count, hold_shared, release, try_exclusive
from ce.envs.store import EnvCache
from conftest import run_ce
from helpers import FAKE_ARGS, make_fake_env


def _age(prefix: Path, days: float) -> None:
    history = prefix / "conda-meta" / "history"
    then = time.time() - days * 86400
    os.utime(history, (then, then))


def _names(ce_home: Path) -> list[str]:
    return sorted(p.name.split("--")[0] for p in (ce_home / "envs").iterdir() if not p.name.startswith("."))


def test_run_count_triggers_cleanup_every_interval(ce_home: Path) -> None:
    paths = CachePaths(str(ce_home))
    os.makedirs(paths.locks)
    assert [bump_run_count(paths, 3) for _ in range(7)] == [False, False, True, False, False, True, False]
    assert Path(paths.run_count).stat().st_size == 1  # the count is the file's length


def test_concurrent_runs_lose_no_count_and_exactly_one_is_due(ce_home: Path) -> None:
    """Every run appends one byte: 8 processes x 25 runs at interval 50 make exactly 4 cleanups, whatever
    the interleaving (a read-then-write counter loses counts and may fire twice)."""
    import multiprocessing

    paths = CachePaths(str(ce_home))
    os.makedirs(paths.locks)
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        results = pool.starmap(_bump_many, [(str(ce_home), 25, 50)] * 8, chunksize=1)
    assert sum(results) == 4
    assert Path(paths.run_count).stat().st_size == 0


def _bump_many(home: str, runs: int, interval: int) -> int:
    return sum(bump_run_count(CachePaths(home), interval) for _ in range(runs))


def test_a_changed_interval_still_comes_due(ce_home: Path) -> None:
    paths = CachePaths(str(ce_home))
    os.makedirs(paths.locks)
    Path(paths.run_count).write_text("x" * 30)  # counted with interval 50, which is now 7
    assert [bump_run_count(paths, 7) for _ in range(5)] == [False, False, False, False, True]


@pytest.mark.parametrize(
    ("variable", "value"),
    [("CONDA_EXEC_CLEAN_INTERVAL", "zero"), ("CONDA_EXEC_CLEAN_INTERVAL", "-4"), ("CONDA_EXEC_CLEAN_AGE", "nan")],
)
def test_invalid_settings_warn_and_use_the_default(variable: str, value: str) -> None:
    settings = CleanSettings({variable: value})
    assert settings.interval == 50 and settings.age_days == 30
    (warning,) = settings.warnings
    assert variable in warning and value in warning


def test_auto_clean_on_a_warm_run_removes_only_stale_environments(ce_home: Path) -> None:
    stale = make_fake_env(ce_home, "stale", "true")
    _age(stale, 40)
    make_fake_env(ce_home, "fresh", "true")
    runner = make_fake_env(ce_home, "runner", "echo ran")
    env = dict(os.environ, CONDA_EXEC_AUTO_CLEAN="1", CONDA_EXEC_CLEAN_INTERVAL="2")
    first = run_ce(*FAKE_ARGS, "runner", env=env)
    assert first.stderr == "" and _names(ce_home) == ["fresh", "runner", "stale"]
    second = run_ce(*FAKE_ARGS, "runner", env=env)
    assert second.stdout == "ran\n"
    assert second.stderr.startswith("ce: auto-clean removed 1 unused environment(s), freed ")
    assert _names(ce_home) == ["fresh", "runner"]
    assert runner.exists()


def test_auto_clean_off(ce_home: Path) -> None:
    _age(make_fake_env(ce_home, "stale", "true"), 40)
    make_fake_env(ce_home, "runner", "true")
    env = dict(os.environ, CONDA_EXEC_AUTO_CLEAN="0", CONDA_EXEC_CLEAN_INTERVAL="1")
    run_ce(*FAKE_ARGS, "runner", env=env)
    assert _names(ce_home) == ["runner", "stale"]


def test_clean_never_removes_an_environment_in_use(ce_home: Path) -> None:
    busy = make_fake_env(ce_home, "busy", "true")
    _age(busy, 100)
    paths = CachePaths(str(ce_home))
    lock = hold_shared(paths.in_use_lock(busy.name), inheritable=False)
    try:
        result = run_ce("--clean", "--all", "-y")
        assert result.returncode == 0
        assert "kept busy--" in result.stderr and "removed 0" in result.stdout
        assert busy.exists()
    finally:
        release(lock)
    assert run_ce("--clean", "--all", "-y").returncode == 0
    assert not busy.exists()


def test_a_running_tool_holds_its_environment(ce_home: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    gate = tmp_path / "gate"
    prefix = make_fake_env(ce_home, "sleeper", f'while [ ! -e "{gate}" ]; do sleep 0.05; done; echo done')
    process = subprocess.Popen([sys.executable, "-m", "ce", *FAKE_ARGS, "sleeper"], stdout=subprocess.PIPE, text=True)
    try:
        paths = CachePaths(str(ce_home))
        deadline = time.time() + 20
        while True:  # wait until the tool runs (and holds the lock)
            fd = try_exclusive(paths.in_use_lock(prefix.name))
            if fd is None:
                break
            release(fd)
            assert time.time() < deadline
            time.sleep(0.05)
        assert run_ce("--clean", "--all", "-y").returncode == 0
        assert prefix.exists()
    finally:
        gate.touch()
        out, _ = process.communicate(timeout=20)
    assert out == "done\n" and process.returncode == 0
    run_ce("--clean", "--all", "-y")
    assert not prefix.exists()


def test_sweep_removes_leftovers_of_interrupted_builds_only(ce_home: Path) -> None:
    paths = CachePaths(str(ce_home))
    cache = EnvCache(paths)
    cache.ensure()
    dead = Path(paths.envs, ".build-ruff--0123456789abcdef.xyz")
    (dead / "bin").mkdir(parents=True)
    live = Path(paths.envs, ".build-live--0123456789abcdef.abc")
    live.mkdir()
    trash = Path(paths.envs, ".trash-old--0123456789abcdef.q1")
    (trash / "env").mkdir(parents=True)
    building = try_exclusive(paths.build_lock("live--0123456789abcdef"))
    try:
        assert cache.sweep() == 2
    finally:
        release(building)
    assert not dead.exists() and not trash.exists() and live.exists()
    assert cache.entries() == []  # leftovers are never listed


def test_list_ignores_incomplete_environments(ce_home: Path) -> None:
    make_fake_env(ce_home, "done", "true")
    half = ce_home / "envs" / "half--0123456789abcdef"
    (half / "bin").mkdir(parents=True)  # no .ce-env.json: never complete
    result = run_ce("--list", "--json")
    assert [row["name"].split("--")[0] for row in json.loads(result.stdout)] == ["done"]


def test_clean_dry_run_and_tool_filter(ce_home: Path) -> None:
    make_fake_env(ce_home, "one", "true")
    make_fake_env(ce_home, "two", "true")
    dry = run_ce("--clean", "--all", "--dry-run")
    assert dry.stdout.count("would remove") == 2 and "would free" in dry.stdout
    assert _names(ce_home) == ["one", "two"]
    assert run_ce("--clean", "--all", "-y", "two").returncode == 0
    assert _names(ce_home) == ["one"]
    bad = run_ce("--clean", "--all", "--older-than", "3")
    assert bad.returncode == 2
