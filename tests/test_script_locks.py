"""The script lock workflow end to end: write, discover, use, refuse."""

from __future__ import annotations

import os
import shutil
import stat
import textwrap
from pathlib import Path

import pytest

from ce.lockfiles import read_header
from ce.lockfiles.conda_lock import CondaLock
from ce.lockfiles.explicit import Explicit
from ce.lockfiles.rattler_v6 import RattlerLockV6
from conftest import run_ce
from helpers import env_names

SCRIPT = textwrap.dedent(
    """\
    # /// script
    # requires-python = ">=3.11"
    #
    # [tool.conda]
    # dependencies = ["python-dateutil"]
    # ///
    import dateutil
    print("dateutil", dateutil.__version__)
    """
)


@pytest.fixture
def private_channel(channel: Path, tmp_path: Path) -> Path:
    """A hard-linked copy of the channel this test may break (replace files, never edit them)."""
    copy = tmp_path / "channel"
    shutil.copytree(channel, copy, copy_function=os.link)
    return copy


@pytest.fixture
def env(private_channel: Path, tmp_path: Path) -> dict[str, str]:
    environ = dict(os.environ)
    environ["CONDA_CHANNELS"] = private_channel.as_uri()
    environ["RATTLER_CACHE_DIR"] = str(tmp_path / "rattler")
    return environ


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "work" / "summary.py"
    path.parent.mkdir()
    path.write_text(SCRIPT)
    return path


def _fresh(env: dict[str, str], tmp_path: Path, label: str) -> dict[str, str]:
    """The same user on another machine: empty ce cache and package cache."""
    return dict(env, CONDA_EXEC_HOME=str(tmp_path / f"home-{label}"), RATTLER_CACHE_DIR=str(tmp_path / f"pkgs-{label}"))


def test_lock_then_run_with_no_repodata_anywhere(
    script: Path, env: dict[str, str], private_channel: Path, tmp_path: Path
) -> None:
    first = run_ce("--lock", str(script), env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "dateutil 2.9.0.post0\n"
    sidecar = script.with_name("summary.py.conda-exec.lock")
    assert f"wrote rattler-lock-v6 lock for linux-64: {sidecar}" in first.stderr
    assert read_header(sidecar.read_text()) is not None
    for repodata in private_channel.glob("*/repodata.json"):
        repodata.unlink()
    elsewhere = _fresh(env, tmp_path, "b")
    second = run_ce(str(script), env=elsewhere)
    assert second.returncode == 0, second.stderr
    assert second.stdout == "dateutil 2.9.0.post0\n"
    assert "warning" not in second.stderr
    # and without the lock it could not have solved
    assert run_ce("--ignore-lock", str(script), env=_fresh(env, tmp_path, "c")).returncode == 1


def test_the_locked_environment_is_reused_and_keyed_by_the_lock(
    script: Path, env: dict[str, str], ce_home: Path
) -> None:
    assert run_ce("--lock", str(script), env=env).returncode == 0
    (name,) = env_names(ce_home)
    again = run_ce(str(script), env=env)
    assert again.returncode == 0 and "created" not in again.stderr
    assert env_names(ce_home) == [name]


@pytest.mark.parametrize(
    ("format_name", "files"),
    [
        ("rattler-lock-v6", ["summary.py.conda-exec.lock"]),
        ("conda-lock", ["summary.py.conda-lock.yml"]),
        (
            "explicit",
            ["summary.py.linux-64.explicit.txt", "summary.py.osx-arm64.explicit.txt", "summary.py.win-64.explicit.txt"],
        ),
    ],
)
def test_multi_platform_locks_in_every_format(
    script: Path, env: dict[str, str], private_channel: Path, tmp_path: Path, format_name: str, files: list[str]
) -> None:
    result = run_ce(
        "--lock", "--lock-format", format_name, "--platform", "osx-arm64", "--platform", "win-64", str(script), env=env
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in script.parent.iterdir() if p.name != "summary.py") == sorted(files)
    backend = {"rattler-lock-v6": RattlerLockV6(), "conda-lock": CondaLock(), "explicit": Explicit()}[format_name]
    platforms: dict[str, set[str]] = {}
    for name in files:
        data = backend.loads((script.parent / name).read_text())
        for platform, packages in data.packages.items():
            platforms[platform] = {p.name for p in packages}
    assert platforms == {
        "linux-64": {"python", "python-dateutil", "six"},
        "osx-arm64": {"python", "python-dateutil", "six"},
        "win-64": {"python", "python-dateutil", "six"},
    }
    # this format's lock alone is enough to rebuild the environment elsewhere
    for repodata in private_channel.glob("*/repodata.json"):
        repodata.unlink()
    rerun = run_ce("--lock-format", format_name, str(script), env=_fresh(env, tmp_path, format_name))
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout == "dateutil 2.9.0.post0\n"


def test_the_stem_sidecar_name_is_discovered(
    script: Path, env: dict[str, str], private_channel: Path, tmp_path: Path
) -> None:
    assert run_ce("--lock", str(script), env=env).returncode == 0
    script.with_name("summary.py.conda-exec.lock").rename(script.with_name("summary.conda-exec.lock"))
    for repodata in private_channel.glob("*/repodata.json"):
        repodata.unlink()
    assert run_ce(str(script), env=_fresh(env, tmp_path, "stem")).returncode == 0


def test_a_stale_lock_is_named_and_not_used(script: Path, env: dict[str, str]) -> None:
    assert run_ce("--lock", str(script), env=env).returncode == 0
    script.write_text(SCRIPT.replace('["python-dateutil"]', '["python-dateutil", "six"]'))
    result = run_ce(str(script), env=env)
    assert result.returncode == 0
    sidecar = script.with_name("summary.py.conda-exec.lock")
    assert f"warning: ignoring stale lock {sidecar}" in result.stderr
    locked = run_ce("--locked", str(script), env=env)
    assert locked.returncode == 1
    (line,) = locked.stderr.strip().splitlines()
    assert line.startswith("ce: error: --locked: stale lock") and str(sidecar) in line


def test_locked_without_any_lock_fails(script: Path, env: dict[str, str], ce_home: Path) -> None:
    result = run_ce("--locked", str(script), env=env)
    assert result.returncode == 1 and "no lock found" in result.stderr
    assert env_names(ce_home) == []


def test_ignore_lock_modifies_nothing(script: Path, env: dict[str, str], ce_home: Path) -> None:
    assert run_ce("--lock", "--embed", str(script), env=env).returncode == 0
    before = script.read_bytes()
    result = run_ce("--ignore-lock", str(script), env=env)
    assert result.returncode == 0
    assert script.read_bytes() == before
    assert len(env_names(ce_home)) == 2  # one from the lock, one solved from the metadata


def test_a_lock_without_this_platform_warns_and_solves(script: Path, env: dict[str, str], ce_home: Path) -> None:
    assert run_ce("--lock", "--platform", "osx-arm64", str(script), env=env).returncode == 0
    sidecar = script.with_name("summary.py.conda-exec.lock")
    header, body = sidecar.read_text().split("\n", 1)
    data = RattlerLockV6().loads(body)
    sidecar.write_text(header + "\n" + RattlerLockV6().dumps(data.only(["osx-arm64"])))
    result = run_ce(str(script), env=env)
    assert result.returncode == 0, result.stderr
    assert f"lock {sidecar} has no packages for linux-64" in result.stderr
    assert run_ce("--locked", str(script), env=env).returncode == 1


def test_tampered_package_is_refused_and_leaves_no_environment(
    script: Path, env: dict[str, str], private_channel: Path, tmp_path: Path
) -> None:
    assert run_ce("--lock", str(script), env=env).returncode == 0
    (archive,) = private_channel.glob("noarch/six-*.conda")
    data = archive.read_bytes()
    archive.unlink()  # break the hard link; the shared channel stays intact
    archive.write_bytes(data[:-8] + b"tampered")
    elsewhere = _fresh(env, tmp_path, "t")
    result = run_ce(str(script), env=elsewhere)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "six 1.17.0" in line and "sha256 mismatch" in line
    home = Path(elsewhere["CONDA_EXEC_HOME"]) / "envs"
    assert [p.name for p in home.iterdir() if not p.name.startswith(".locks")] == []


def test_refresh_rewrites_the_lock(script: Path, env: dict[str, str]) -> None:
    assert run_ce("--lock", str(script), env=env).returncode == 0
    sidecar = script.with_name("summary.py.conda-exec.lock")
    sidecar.write_text(sidecar.read_text() + "# a stray comment\n")
    reuse = run_ce("--lock", str(script), env=env)
    assert "wrote" not in reuse.stderr and sidecar.read_text().endswith("# a stray comment\n")
    refreshed = run_ce("--lock", "--refresh", str(script), env=env)
    assert refreshed.returncode == 0 and "wrote rattler-lock-v6" in refreshed.stderr
    assert not sidecar.read_text().endswith("# a stray comment\n")


def test_embed_places_the_block_after_the_script_block_and_keeps_every_other_byte(
    script: Path, env: dict[str, str]
) -> None:
    original = "#!/usr/bin/env -S ce\n" + SCRIPT
    script.write_text(original)
    script.chmod(0o755)
    result = run_ce("--lock", "--embed", str(script), env=env)
    assert result.returncode == 0, result.stderr
    text = script.read_text()
    head, _block, tail = text.partition("\n# /// conda-exec-lock\n")
    assert head == original[: original.index("# ///\n", 30) + len("# ///\n")]
    lock_lines, _, rest = tail.partition("# ///\n")
    assert rest == original[original.index("import dateutil") :]
    assert lock_lines.startswith("# # conda-exec-lock-input-sha256: ")
    assert all(line == "#" or line.startswith("# ") for line in lock_lines.splitlines())
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert not script.with_name("summary.py.conda-exec.lock").exists()
    # the embedded lock is what the next run uses
    assert run_ce(str(script), env=env).stdout == "dateutil 2.9.0.post0\n"


def test_embed_replaces_an_existing_block_in_place(script: Path, env: dict[str, str]) -> None:
    assert run_ce("--lock", "--embed", str(script), env=env).returncode == 0
    first = script.read_text()
    script.write_text(first.replace('print("dateutil"', 'print("edited"'))
    assert run_ce("--lock", "--embed", "--refresh", "--platform", "osx-arm64", str(script), env=env).returncode == 0
    second = script.read_text()
    before_block = first.split("# /// conda-exec-lock")[0]
    assert second.startswith(before_block)
    assert second.endswith('print("edited", dateutil.__version__)\n')
    assert second.count("# /// conda-exec-lock") == 1 and "osx-arm64" in second


def test_embed_in_a_script_without_metadata_goes_below_the_shebang(tmp_path: Path, env: dict[str, str]) -> None:
    script = tmp_path / "plain.py"
    script.write_text("#!/usr/bin/env python\n# a comment\nprint('plain')\n")
    assert run_ce("--lock", "--embed", str(script), env=env).returncode == 0
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env python\n# /// conda-exec-lock\n")
    assert text.endswith("# ///\n\n# a comment\nprint('plain')\n")
    assert run_ce(str(script), env=env).stdout == "plain\n"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--embed",), "--embed goes with --lock"),
        (("--locked", "--ignore-lock"), "--locked cannot be combined"),
        (("--platform", "osx-arm64"), "--platform goes with --lock"),
        (("--lock", "--platform", "beos-64"), "unknown platform 'beos-64'"),
        (("--lock", "--lock-format", "nope"), "unknown lockfile-format 'nope'"),
        (("--lock", "--embed", "--lock-format", "explicit", "--platform", "win-64"), "holds one platform"),
    ],
)
def test_bad_lock_options(script: Path, env: dict[str, str], args: tuple[str, ...], needle: str) -> None:
    result = run_ce(*args, str(script), env=env)
    assert result.returncode in (1, 2)
    (line,) = result.stderr.strip().splitlines()
    assert needle in line
    assert sorted(p.name for p in script.parent.iterdir()) == ["summary.py"]
