"""The tool index: a warm ``ce TOOL`` is decided by stat calls on what the full path recorded.

A hit never imports ``ce.cli`` (nor any configuration module); every change to
what resolution reads must be a miss that runs the full path, which then picks
the right environment and records again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from ce import base, fastpath
from ce.config.condarc import RESTRICT_VARIABLE, ROOT_VARIABLES, SEARCH_PATH_VARIABLE
from ce.config.settings import ENV_VARIABLES


class Run(NamedTuple):
    returncode: int
    stdout: str
    stderr: str
    warm: bool  # decided by the tool index: ce.cli never imported


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ce", *args],
        capture_output=True,
        text=True,
        env=env if env is not None else dict(os.environ),
        cwd=cwd,
        timeout=120,
    )
    lines = result.stderr.splitlines()
    imported = {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:") and "|" in line}
    stderr = "\n".join(line for line in lines if not line.startswith("import time:"))
    assert not {"ce.config.condarc", "ce.tool_request", "ce.specs"} & imported or "ce.cli" in imported
    return Run(result.returncode, result.stdout, stderr, "ce.cli" not in imported)


def envs(ce_home: Path) -> set[str]:
    return {path.name for path in (ce_home / "envs").iterdir() if not path.name.startswith(".")}


def entries(ce_home: Path) -> list[Path]:
    return sorted((ce_home / "envs" / ".index").glob(fastpath.TOOL_ENTRY_PREFIX + "*"))


def twice(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[Run, Run]:
    """The first run (expected to miss), then the same command line again (expected to hit)."""
    return run(*args, env=env, cwd=cwd), run(*args, env=env, cwd=cwd)


HELLO = ("--from", "hello-tool", "hello")


@pytest.fixture
def linked_channels(tmp_path: Path, channel: Path) -> tuple[str, str]:
    """Two URLs of the same length for the test channel (two links to it): two distinct channels to ce."""
    urls = []
    for name in ("chanA", "chanB"):
        link = tmp_path / name
        link.symlink_to(channel, target_is_directory=True)
        urls.append(link.as_uri())
    return urls[0], urls[1]


def _env(**variables: str) -> dict[str, str]:
    return {**os.environ, **variables}


def test_a_second_run_is_a_hit_and_runs_the_same(channel_url: str, ce_home: Path) -> None:
    env = _env(CONDA_CHANNELS=channel_url)
    first, second = twice(*HELLO, "x", env=env)
    assert (first.returncode, first.stdout, first.warm) == (0, "hello from hello-tool x\n", False), first.stderr
    assert (second.returncode, second.stdout, second.warm) == (0, "hello from hello-tool x\n", True), second.stderr
    third = run(*HELLO, "other", "args", env=env)  # the tool's arguments are not part of the key
    assert (third.stdout, third.warm) == ("hello from hello-tool other args\n", True)
    assert len(entries(ce_home)) == 1


def test_conda_channels_changed_is_a_miss(linked_channels: tuple[str, str], ce_home: Path) -> None:
    url_a, url_b = linked_channels
    assert [r.warm for r in twice(*HELLO, env=_env(CONDA_CHANNELS=url_a))] == [False, True]
    before = envs(ce_home)
    changed = run(*HELLO, env=_env(CONDA_CHANNELS=url_b))
    assert (changed.returncode, changed.warm) == (0, False), changed.stderr
    assert len(envs(ce_home) - before) == 1  # a new environment, for the other channel
    assert run(*HELLO, env=_env(CONDA_CHANNELS=url_a)).warm  # the first entry is still good


def test_condarc_changed_with_the_same_size_is_a_miss(
    linked_channels: tuple[str, str], ce_home: Path, tmp_path: Path
) -> None:
    url_a, url_b = linked_channels
    condarc = Path(os.environ["HOME"]) / ".condarc"
    condarc.write_text(f"channels:\n  - {url_a}\n")
    assert [r.warm for r in twice(*HELLO)] == [False, True]
    before = envs(ce_home)
    mtime = condarc.stat().st_mtime_ns
    condarc.write_text(f"channels:\n  - {url_b}\n")  # same size
    os.utime(condarc, ns=(mtime + 2_000_000_000, mtime + 2_000_000_000))
    changed = run(*HELLO)
    assert (changed.returncode, changed.warm) == (0, False), changed.stderr
    assert len(envs(ce_home) - before) == 1
    assert run(*HELLO).warm


def test_a_new_condarc_file_where_there_was_none_is_a_miss(linked_channels: tuple[str, str], ce_home: Path) -> None:
    url_a, url_b = linked_channels
    env = _env(CONDA_CHANNELS=url_a)
    assert [r.warm for r in twice(*HELLO, env=env)] == [False, True]
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "conda"
    assert not config.exists()
    config.mkdir(parents=True)
    (config / "condarc").write_text(f"channels:\n  - {url_b}\n")  # merged after $CONDA_CHANNELS's channel
    changed = run(*HELLO, env=env)
    assert (changed.returncode, changed.warm) == (0, False), changed.stderr
    assert run(*HELLO, env=env).warm


def test_a_new_file_in_a_condarc_d_directory_is_a_miss(channel_url: str, ce_home: Path) -> None:
    directory = Path(os.environ["HOME"]) / ".conda" / "condarc.d"
    directory.mkdir(parents=True)
    (directory / "a.yml").write_text(f"channels:\n  - {channel_url}\n")
    assert [r.warm for r in twice(*HELLO)] == [False, True]
    (directory / "b.yml").write_text("channel_alias: https://example.invalid\n")
    assert not run(*HELLO).warm
    assert run(*HELLO).warm


def test_a_variable_a_condarc_refers_to_is_watched(
    linked_channels: tuple[str, str], ce_home: Path, tmp_path: Path
) -> None:
    url_a, url_b = linked_channels
    (Path(os.environ["HOME"]) / ".condarc").write_text("channels:\n  - $MY_CHANNEL\n")
    assert [r.warm for r in twice(*HELLO, env=_env(MY_CHANNEL=url_a))] == [False, True]
    before = envs(ce_home)
    changed = run(*HELLO, env=_env(MY_CHANNEL=url_b))
    assert (changed.returncode, changed.warm) == (0, False), changed.stderr
    assert len(envs(ce_home) - before) == 1


def test_conda_subdir_is_in_the_key(channel_url: str) -> None:
    env = _env(CONDA_CHANNELS=channel_url)
    assert [r.warm for r in twice(*HELLO, env=env)] == [False, True]
    from ce.platforms import current_subdir  # this machine's: set or not, the same platform, another key

    changed = run(*HELLO, env={**env, "CONDA_SUBDIR": current_subdir()})
    assert (changed.returncode, changed.warm) == (0, False), changed.stderr
    assert run(*HELLO, env={**env, "CONDA_SUBDIR": current_subdir()}).warm


def test_a_relative_channel_from_another_directory_is_a_miss(channel: Path, ce_home: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for directory in (one, two):
        directory.mkdir()
        (directory / "localdir").symlink_to(channel, target_is_directory=True)
    args = ("-c", "./localdir", "--override-channels", *HELLO)
    assert [r.warm for r in twice(*args, cwd=one)] == [False, True]
    before = envs(ce_home)
    other = run(*args, cwd=two)
    assert (other.returncode, other.warm) == (0, False), other.stderr
    assert len(envs(ce_home) - before) == 1  # file://.../two/localdir is another channel
    assert run(*args, cwd=two).warm and run(*args, cwd=one).warm


def test_with_and_from_are_in_the_key(channel_url: str, ce_home: Path) -> None:
    env = _env(CONDA_CHANNELS=channel_url)
    assert [r.warm for r in twice(*HELLO, env=env)] == [False, True]
    before = envs(ce_home)
    with_six = run("--with", "six", *HELLO, env=env)
    assert (with_six.returncode, with_six.warm) == (0, False), with_six.stderr
    assert len(envs(ce_home) - before) == 1
    assert run("--with", "six", *HELLO, env=env).warm
    other_from = run("--from", "multi-tool", "hello", env=env)
    assert other_from.warm is False
    assert run("--from=hello-tool", "hello", env=env).warm is False  # spelled differently: its own entry


def test_quiet_and_not_quiet_share_an_entry(channel_url: str, ce_home: Path) -> None:
    env = _env(CONDA_CHANNELS=channel_url)
    first = run("-q", *HELLO, env=env)
    assert (first.returncode, first.warm) == (0, False), first.stderr
    assert [run(*HELLO, env=env).warm, run("--quiet", *HELLO, env=env).warm] == [True, True]
    assert len(entries(ce_home)) == 1


@pytest.mark.parametrize("kind", ["garbage", "fifo", "huge", "other-env"])
def test_a_corrupt_index_entry_is_ignored(kind: str, channel_url: str, ce_home: Path) -> None:
    env = _env(CONDA_CHANNELS=channel_url)
    assert [r.warm for r in twice(*HELLO, "x", env=env)] == [False, True]
    (entry,) = entries(ce_home)
    text = entry.read_bytes()
    entry.unlink()
    if kind == "garbage":
        entry.write_bytes(b"ce-tool-index:1\n../../outside\n/bin/echo\nPWNED\n")
    elif kind == "fifo":
        os.mkfifo(entry)
    elif kind == "huge":
        entry.write_bytes(text + b"x" * (base.MAX_INDEX_ENTRY_BYTES + 1))
    else:  # a well-formed entry naming a command elsewhere: never run
        lines = text.split(b"\n")
        lines[3] = b"/bin/echo"
        entry.write_bytes(b"\n".join(lines))
    result = run(*HELLO, "x", env=env)
    assert (result.returncode, result.stdout, result.warm) == (0, "hello from hello-tool x\n", False), result.stderr


def test_a_linked_index_directory_is_not_used(channel_url: str, ce_home: Path, tmp_path: Path) -> None:
    env = _env(CONDA_CHANNELS=channel_url)
    assert [r.warm for r in twice(*HELLO, env=env)] == [False, True]
    index = ce_home / "envs" / ".index"
    elsewhere = tmp_path / "elsewhere"
    index.rename(elsewhere)
    index.symlink_to(elsewhere, target_is_directory=True)
    before = sorted(path.name for path in elsewhere.iterdir())
    for _ in range(2):
        result = run(*HELLO, env=env)
        assert (result.returncode, result.warm) == (0, False), result.stderr
    assert sorted(path.name for path in elsewhere.iterdir()) == before


def test_uppercase_tool_runs_what_the_full_path_runs(channel_url: str, ce_home: Path) -> None:
    env = _env(CONDA_CHANNELS=channel_url)
    full = run("--from", "hello-tool", "HELLO", "x", env=env)
    warm = run("--from", "hello-tool", "HELLO", "x", env=env)
    lower = run("--from", "hello-tool", "hello", "x", env=env)
    assert (full.warm, warm.warm) == (False, True)
    assert full.stdout == warm.stdout == lower.stdout == "hello from hello-tool x\n"
    assert len(envs(ce_home)) == 1  # ce RUFF and ce ruff share one environment
    version_full = run("RUFF", "--version", env=env)
    version_warm = run("RUFF", "--version", env=env)
    assert (version_full.warm, version_warm.warm) == (False, True)
    assert version_full.stdout == version_warm.stdout == run("ruff", "--version", env=env).stdout
    assert version_full.returncode == 0


def test_the_key_covers_every_variable_the_configuration_reads() -> None:
    declared = {*ENV_VARIABLES, *ROOT_VARIABLES, SEARCH_PATH_VARIABLE, RESTRICT_VARIABLE}
    declared |= {"CONDARC", "CONDA_PREFIX", "XDG_CONFIG_HOME", "HOME", "CONDA_SUBDIR"}
    assert declared <= set(fastpath.RESOLUTION_VARIABLES)
    env = dict(os.environ)
    base = fastpath.tool_key("ruff", [], [], env)
    for name in fastpath.RESOLUTION_VARIABLES:
        assert fastpath.tool_key("ruff", [], [], {**env, name: "changed"}) != base, name
    assert fastpath.tool_key("ruff", ["-c", "./x"], ["./x"], env) != fastpath.tool_key(
        "ruff", ["-c", "./y"], ["./y"], env
    )


def test_cleanup_prunes_entries_of_removed_environments(channel_url: str, ce_home: Path) -> None:
    env = _env(CONDA_CHANNELS=channel_url)
    assert [r.warm for r in twice(*HELLO, env=env)] == [False, True]
    assert len(entries(ce_home)) == 1
    cleaned = run("--clean", "--all", "-y", env=env)
    assert cleaned.returncode == 0, cleaned.stderr
    assert entries(ce_home) == []
    again = run(*HELLO, env=env)
    assert (again.returncode, again.warm) == (0, False), again.stderr


def test_a_relative_channel_in_the_configuration_is_never_recorded(
    channel: Path, ce_home: Path, tmp_path: Path
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for directory in (one, two):
        directory.mkdir()
        (directory / "localdir").symlink_to(channel, target_is_directory=True)
    env = _env(CONDA_CHANNELS="./localdir")  # the key cannot tell the directories apart: no entry at all
    first, second = twice(*HELLO, env=env, cwd=one)
    assert (first.returncode, first.warm, second.returncode, second.warm) == (0, False, 0, False), first.stderr
    assert entries(ce_home) == []
    before = envs(ce_home)
    other = run(*HELLO, env=env, cwd=two)
    assert (other.returncode, other.warm) == (0, False), other.stderr
    assert len(envs(ce_home) - before) == 1
