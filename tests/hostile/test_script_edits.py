"""Edits of a user's script (``--add``, ``--lock --embed``): nothing lost, links, BOM and line endings kept."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hostile.support import (
    HELLO_SCRIPT,
    assert_ok,
    assert_one_error,
    conda_dependencies,
    run,
    script_metadata,
)

BASE = "# /// script\n# [tool.conda]\n# dependencies = []\n# ///\nprint('hi')\n"


def _adder(script: Path, specs: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    loop = "import subprocess, sys\nfor spec in sys.argv[2:]:\n"
    loop += "    argv = [sys.executable, '-m', 'ce', '--add', spec, sys.argv[1]]\n"
    loop += "    r = subprocess.run(argv, capture_output=True, text=True)\n"
    loop += "    sys.stdout.write(f'{r.returncode} {spec}\\n'); sys.stderr.write(r.stderr)\n"
    return subprocess.Popen(
        [sys.executable, "-c", loop, str(script), *specs],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.slow
def test_concurrent_adds_lose_no_edit(tmp_path: Path) -> None:
    """Bullet 'lost edits': 8 processes x 5 ``--add`` on one script, every addition kept."""
    script = tmp_path / "s.py"
    script.write_text(BASE)
    wanted = {f"pkg-{i}-{j}" for i in range(8) for j in range(5)}
    workers = [_adder(script, [f"pkg-{i}-{j}" for j in range(5)]) for i in range(8)]
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0
        assert "Traceback" not in err, err
        assert all(line.startswith("0 ") for line in out.splitlines()), out + err
    text = script.read_text()
    assert set(conda_dependencies(text)) == wanted, sorted(wanted - set(conda_dependencies(text)))
    assert text.endswith("print('hi')\n")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".ce-write-")] == []


@pytest.mark.slow
def test_adds_beside_lock_embed_lose_no_edit(tmp_path: Path, env: dict[str, str]) -> None:
    """Bullet: ``--add`` beside ``--lock --embed`` loses edits."""
    script = tmp_path / "s.sh"
    script.write_text(HELLO_SCRIPT)
    wanted = {f"extra-{i}-{j}" for i in range(4) for j in range(3)}
    workers = [_adder(script, [f"extra-{i}-{j}" for j in range(3)], env) for i in range(4)]
    lockers = []
    for _ in range(3):
        lockers.append(run("--lock", "--embed", str(script), env=env, timeout=300))
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert "Traceback" not in err, err
        assert all(line.startswith("0 ") for line in out.splitlines()), out + err
    for result in lockers:  # a lock of a script whose extras do not exist fails to solve: one line
        if result.returncode != 0:
            assert_one_error(result, 1)
    text = script.read_text()
    assert wanted | {"hello-tool"} == set(conda_dependencies(text))
    assert text.count("# /// conda-exec-lock") <= 1
    assert text.endswith("echo body\n")


def _linked_script(tmp_path: Path, text: str) -> tuple[Path, Path]:
    real = tmp_path / "real" / "s.sh"
    real.parent.mkdir()
    real.write_text(text)
    link = tmp_path / "work" / "s.sh"
    link.parent.mkdir()
    link.symlink_to(Path("..") / "real" / "s.sh")
    return real, link


def test_add_through_a_symlinked_script_edits_the_real_file(tmp_path: Path) -> None:
    """Bullet: ``--add`` through a symlink replaces the link with an edited copy."""
    real, link = _linked_script(tmp_path, HELLO_SCRIPT)
    assert_ok(run("--add", "exit-with", str(link)))
    assert link.is_symlink() and os.readlink(link) == str(Path("..") / "real" / "s.sh")
    assert "exit-with" in conda_dependencies(real.read_text())


def test_embed_through_a_symlinked_script_edits_the_real_file(tmp_path: Path, env: dict[str, str]) -> None:
    """Bullet: ``--lock --embed`` through a symlink."""
    real, link = _linked_script(tmp_path, HELLO_SCRIPT)
    assert_ok(run("--lock", "--embed", str(link), env=env))
    assert link.is_symlink()
    assert "# /// conda-exec-lock" in real.read_text()
    assert_ok(run("--locked", str(link), env=env), "hello from hello-tool")


def test_add_through_a_symlink_keeps_the_real_files_mode(tmp_path: Path) -> None:
    """Own case: the real file behind a link keeps its permission bits."""
    real, link = _linked_script(tmp_path, BASE)
    real.chmod(0o751)
    assert_ok(run("--add", "six", str(link)))
    assert (real.stat().st_mode & 0o777) == 0o751 and "six" in conda_dependencies(real.read_text())


def test_lock_embed_on_a_cr_only_script_keeps_it_valid(tmp_path: Path, env: dict[str, str]) -> None:
    """Bullet: ``--lock --embed`` on a CR-only script glues the blocks."""
    script = tmp_path / "s.sh"
    script.write_bytes(HELLO_SCRIPT.replace("\n", "\r").encode())
    assert_ok(run("--lock", "--embed", str(script), env=env))
    data = script.read_bytes()
    assert b"\n" not in data, "line endings changed"
    text = data.decode().replace("\r", "\n")
    assert "\n# /// conda-exec-lock\n" in text and text.startswith("# /// script\n")
    script_metadata(text)
    assert_ok(run("--locked", str(script), env=env), "hello from hello-tool")


@pytest.mark.parametrize("newline", ["\r", "\r\n"], ids=["CR", "CRLF"])
def test_add_keeps_the_line_endings(tmp_path: Path, newline: str) -> None:
    """Own case: ``--add`` writes the script's own line endings only."""
    script = tmp_path / "s.py"
    script.write_bytes(BASE.replace("\n", newline).encode())
    assert_ok(run("--add", "six", str(script)))
    data = script.read_bytes().decode()
    stripped = data.replace(newline, "")
    assert "\n" not in stripped and "\r" not in stripped, "other line endings were written"
    assert "six" in conda_dependencies(data.replace(newline, "\n"))


def test_a_bom_script_is_read_and_add_keeps_the_bom_first(tmp_path: Path, env: dict[str, str]) -> None:
    """Bullet: a UTF-8 BOM hides the metadata; ``--add`` moves the BOM into the middle."""
    script = tmp_path / "s.sh"
    script.write_bytes(b"\xef\xbb\xbf" + HELLO_SCRIPT.encode())
    assert_ok(run(str(script), env=env), "hello from hello-tool")
    assert_ok(run("--add", "exit-with", str(script)))
    data = script.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf# /// script\n") and data.count(b"\xef\xbb\xbf") == 1
    assert conda_dependencies(data[3:].decode()) == ["hello-tool", "exit-with"]


def test_a_bom_script_without_metadata_gets_its_block_after_the_bom(tmp_path: Path) -> None:
    """Own case: a new block goes after the BOM (and the shebang)."""
    script = tmp_path / "s.py"
    script.write_bytes(b"\xef\xbb\xbf#!/usr/bin/env python\nprint(1)\n")
    assert_ok(run("--add", "six", str(script)))
    data = script.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf#!/usr/bin/env python\n# /// script\n") and data.count(b"\xef\xbb\xbf") == 1


def test_a_stale_write_leftover_beside_the_script_is_cleaned_by_the_next_edit(tmp_path: Path) -> None:
    """Bullet 'litter': a kill at the rename of ``--add`` leaves ``.ce-write-*`` beside the script."""
    script = tmp_path / "s.py"
    script.write_text(BASE)
    leftover = tmp_path / ".ce-write-abc123"
    leftover.write_text(BASE)
    old = time.time() - 7200
    os.utime(leftover, (old, old))
    assert_ok(run("--add", "six", str(script)))
    assert not leftover.exists()


@pytest.mark.slow
def test_adds_killed_at_random_moments_leave_the_script_whole_and_no_litter(tmp_path: Path) -> None:
    """Bullet: kills during ``--add``: the script is always the old or the new text; litter goes."""
    script = tmp_path / "s.py"
    script.write_text(BASE)
    randomizer = random.Random(13)
    for index in range(15):
        process = subprocess.Popen(
            [sys.executable, "-m", "ce", "--add", f"pkg-{index}", str(script)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(randomizer.uniform(0.05, 0.5))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        assert script.read_text().endswith("print('hi')\n")
        script_metadata(script.read_text())
    old = time.time() - 7200
    for leftover in tmp_path.glob(".ce-write-*"):
        os.utime(leftover, (old, old))
    assert_ok(run("--add", "final", str(script)))
    assert list(tmp_path.glob(".ce-write-*")) == []


def test_add_to_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    """Own case: a FIFO where the script should be."""
    fifo = tmp_path / "s.py"
    os.mkfifo(fifo)
    assert_one_error(run("--add", "six", str(fifo), timeout=30), (1, 2))
    assert fifo.is_fifo()
