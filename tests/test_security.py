"""Nothing outside the cache is touched; cache directories are private; confirmations are asked."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from conftest import run_ce
from helpers import FAKE_ARGS, make_fake_env, run_on_terminal


def test_new_cache_directories_are_private(ce_home: Path) -> None:
    make_fake_env(ce_home, "faketool", "true")  # creates envs/ itself; remove and let ce make them
    for path in sorted(ce_home.rglob("*"), reverse=True):
        path.unlink() if path.is_file() or path.is_symlink() else path.rmdir()
    ce_home.rmdir()
    assert run_ce("--clean", "--all", "-y").returncode == 0
    result = run_ce("-c", "file:///nonexistent", "--override-channels", "hello")  # builds nothing, creates the cache
    assert result.returncode == 1
    for directory in (ce_home, ce_home / "envs", ce_home / "envs" / ".locks"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory


def test_cleanup_never_follows_a_symlink_out_of_the_cache(ce_home: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "nested").mkdir(parents=True)
    (outside / "precious.txt").write_text("keep")
    (outside / "nested" / "deep.txt").write_text("keep")
    prefix = make_fake_env(ce_home, "faketool", "true")
    (prefix / "link-to-outside").symlink_to(outside)
    (prefix / "bin" / "file-link").symlink_to(outside / "precious.txt")
    # an "environment" that is itself a link to a directory outside the cache
    (ce_home / "envs" / "evil--0123456789abcdef").symlink_to(outside)
    result = run_ce("--clean", "--all", "-y")
    assert result.returncode == 0, result.stderr
    assert not prefix.exists()
    assert (outside / "precious.txt").read_text() == "keep"
    assert (outside / "nested" / "deep.txt").read_text() == "keep"
    assert "evil--" not in run_ce("--list").stdout


def test_a_symlinked_environment_is_never_run(ce_home: Path, tmp_path: Path) -> None:
    prefix = make_fake_env(ce_home, "faketool", "echo from-the-cache")
    moved = tmp_path / "elsewhere"
    prefix.rename(moved)
    prefix.symlink_to(moved)
    result = run_ce(*FAKE_ARGS, "faketool")
    assert "from-the-cache" not in result.stdout


def test_clean_asks_on_a_terminal_and_y_skips_the_question(ce_home: Path) -> None:
    prefix = make_fake_env(ce_home, "faketool", "true")
    env = dict(os.environ)
    code, _, output = run_on_terminal(["--clean", "--all"], env, all_streams=True, answer=b"n\n", prompt=b"[y/N]")
    assert code == 1 and "Remove 1 environment(s)? [y/N]" in output and "aborted: nothing removed" in output
    assert prefix.exists()
    code, _, output = run_on_terminal(["--clean", "--all"], env, all_streams=True, answer=b"y\n", prompt=b"[y/N]")
    assert code == 0 and "removed 1 environment(s)" in output
    assert not prefix.exists()
    make_fake_env(ce_home, "faketool", "true")
    code, _, output = run_on_terminal(["--clean", "--all", "-y"], env, all_streams=True)
    assert code == 0 and "[y/N]" not in output and "removed 1" in output
