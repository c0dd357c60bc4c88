"""Issue 21's attacker's second pass: inputs beyond the issue's list, each a defect found on main."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostile.support import (
    HELLO_SCRIPT,
    archive_of,
    assert_ok,
    assert_one_error,
    ce_command,
    explicit_lock,
    generic,
    lock_digest,
    make_channel,
    run,
    sh,
)
from pypi_index import loopback_index

NOBODY = 65534


def _attacker_lock(channel_root: Path) -> str:
    """An explicit lock that matches HELLO_SCRIPT's metadata but pins an attacker's ``hello-tool``."""
    evil = make_channel(channel_root, [generic("hello-tool", [sh("bin/hello", "echo HIJACKED")])])
    url, md5, _sha256 = archive_of(evil, "hello-tool-1.0-0")
    return explicit_lock(lock_digest(["hello-tool"]), [f"{url}#{md5}"])


@pytest.mark.parametrize("planted", ["other-owner", "world-writable"])
def test_a_sidecar_lock_planted_beside_a_script_is_never_run(
    shared_tmp: Path, env: dict[str, str], planted: str
) -> None:
    """A script of mine in a sticky, world-writable folder such as /tmp: another user cannot change it,
    but can create its sidecar lock; ce ran the packages that lock named (trusted by place)."""
    folder = shared_tmp / "drop"
    folder.mkdir()
    folder.chmod(0o1777)
    script = folder / "s.sh"
    script.write_text(HELLO_SCRIPT)
    lock = folder / "s.sh.linux-64.explicit.txt"
    lock.write_text(_attacker_lock(shared_tmp / "evil"))
    if planted == "other-owner":
        os.chown(lock, NOBODY, NOBODY)
    else:
        lock.chmod(0o666)
    result = run(str(script), env=env, cwd=shared_tmp, timeout=120)
    assert "HIJACKED" not in result.stdout
    assert "--ignore-lock" in assert_one_error(result, 1, str(lock))
    assert_ok(run("--ignore-lock", str(script), env=env, cwd=shared_tmp, timeout=120), "hello from hello-tool")
    if planted == "other-owner":
        # the other side of the rule: running that user's own script with their lock is running what they wrote
        os.chown(script, NOBODY, NOBODY)
        assert_ok(run(str(script), env=env, cwd=shared_tmp, timeout=120), "HIJACKED")
        os.chown(script, 0, 0)
    # a lock embedded in the script comes first: the planted file beside it does not stand in its way
    assert_ok(run("--lock", "--embed", str(script), env=env, cwd=shared_tmp, timeout=120))
    assert_ok(run(str(script), env=env, cwd=shared_tmp, timeout=120), "hello from hello-tool")


@pytest.mark.parametrize("value", ["relcache", "./relcache", "."])
def test_a_relative_xdg_cache_home_never_puts_the_package_cache_in_the_working_directory(
    tmp_path: Path, env: dict[str, str], value: str
) -> None:
    """``XDG_CACHE_HOME`` relative: ce took it against the working folder, so the package cache it
    linked from was whatever the current (maybe cloned, maybe shared) folder held; the XDG rules
    say to ignore a relative value, as rattler itself does."""
    work = tmp_path / "work"
    work.mkdir()
    env = {key: item for key, item in env.items() if key != "RATTLER_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = value
    assert_ok(run("--from", "hello-tool", "hello", env=env, cwd=work), "hello from hello-tool")
    assert list(work.iterdir()) == []
    assert (Path(env["HOME"]) / ".cache" / "rattler" / "cache").is_dir()


def test_a_relative_channel_in_script_metadata_is_the_scripts_not_the_working_folders(
    tmp_path: Path, channel: Path
) -> None:
    """``channels = ["./vendor"]`` in a script's metadata means the folder beside the script. ce took it
    against the working folder, so running the script from a cloned repository holding ``vendor/``
    installed and ran that repository's packages (cold), and the script index then served whichever
    environment the first folder had built (warm)."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "vendor").symlink_to(channel)
    script = scripts / "s.sh"
    script.write_text(HELLO_SCRIPT.replace("# run-with", '# channels = ["./vendor"]\n# run-with'))
    clone = tmp_path / "clone"
    make_channel(clone / "vendor", [generic("hello-tool", [sh("bin/hello", "echo HIJACKED")], version="99.0")])
    env = {key: value for key, value in os.environ.items() if key != "CONDA_CHANNELS"}
    for cwd in (clone, scripts, clone):  # cold from the clone, then from beside the script, then warm
        result = run(str(script), env=env, cwd=cwd)
        assert "HIJACKED" not in result.stdout
        assert_ok(result, "hello from hello-tool")


@pytest.mark.parametrize("action", ["add", "embed"])
def test_editing_another_users_script_keeps_its_owner(shared_tmp: Path, env: dict[str, str], action: str) -> None:
    """Root (or a group member) editing a user's script with ``--add`` or ``--lock --embed``: the script
    was replaced by a file the editor owned, so its owner could no longer change their own script."""
    folder = shared_tmp / "theirs"
    folder.mkdir()
    script = folder / "s.sh"
    script.write_text(HELLO_SCRIPT)
    script.chmod(0o644)
    os.chown(script, NOBODY, NOBODY)
    args = ("--add", "six") if action == "add" else ("--lock", "--embed")
    assert_ok(run(*args, str(script), env=env, cwd=shared_tmp))
    info = script.stat()
    assert (info.st_uid, info.st_gid, info.st_mode & 0o7777) == (NOBODY, NOBODY, 0o644)
    assert script.read_text() != HELLO_SCRIPT


def _wheel(folder: Path, name: str, version: str, code: str) -> Path:
    """A minimal pure-Python wheel of *name* whose module runs *code*."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": code,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
        archive.writestr(f"{info}/RECORD", "".join(f"{member},,\n" for member in files) + f"{info}/RECORD,,\n")
    return path


PYPI_SCRIPT = (
    '# /// script\n# dependencies = ["idna>=3"]\n# [tool.conda]\n# dependencies = ["python"]\n# ///\n'
    "import idna\nprint('idna', idna.__version__)\n"
)


@pytest.fixture
def pypi_env(test_cache_root: Path, channel_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The test channel and a loopback simple index serving the real idna wheel."""
    wheels = sorted((test_cache_root / "wheels" / "pypi").glob("*.whl"))
    with loopback_index(tmp_path / "index", wheels) as served:
        environ = {key: value for key, value in os.environ.items() if not key.startswith(("UV_", "PIP_"))}
        environ.update(CONDA_CHANNELS=channel_url, UV_INDEX_URL=served.index_url)
        environ["UV_CACHE_DIR"] = str(tmp_path / "uv-cache")
        yield environ


@pytest.mark.parametrize("lock", [False, True], ids=["run", "lock"])
@pytest.mark.parametrize("settings", ["uv.toml", "pyproject.toml"])
def test_uv_settings_of_the_working_folder_never_choose_a_scripts_pypi_packages(
    tmp_path: Path, pypi_env: dict[str, str], lock: bool, settings: str
) -> None:
    """A cloned repository's ``uv.toml`` or ``[tool.uv]`` (``find-links``) where the user stands: uv,
    run in the working folder, read it and installed (or locked) the repository's ``idna`` for the
    user's own script."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    script = scripts / "s.py"
    script.write_text(PYPI_SCRIPT)
    clone = tmp_path / "clone"
    _wheel(clone / "wheels", "idna", "99.0", "print('HIJACKED')\n__version__ = '99.0'\n")
    project = '[project]\nname = "x"\nversion = "0"\n'
    if settings == "uv.toml":  # beside a plain pyproject.toml, which makes the clone uv's project root
        (clone / "pyproject.toml").write_text(project)
        (clone / "uv.toml").write_text('[pip]\nfind-links = ["wheels"]\n')
    else:
        (clone / "pyproject.toml").write_text(project + '[tool.uv.pip]\nfind-links = ["wheels"]\n')
    if lock:
        assert_ok(run("--lock", str(script), env=pypi_env, cwd=clone, timeout=300))
    result = run(str(script), env=pypi_env, cwd=clone, timeout=300)
    assert "HIJACKED" not in result.stdout
    assert_ok(result, "idna 3.11")


def test_a_relative_channel_option_is_resolved_in_each_working_folder_by_the_warm_path(
    tmp_path: Path, channel: Path
) -> None:
    """``ce -c ./chan SCRIPT``: the script index keyed the run by the option's text alone, so after a
    run inside a cloned repository (whose ``chan/`` the user asked for there) a warm run back in the
    user's own folder ran the clone's environment instead of the one ``./chan`` names there."""
    script = tmp_path / "s.sh"
    script.write_text(HELLO_SCRIPT)
    own = tmp_path / "own"
    own.mkdir()
    (own / "chan").symlink_to(channel)
    clone = tmp_path / "clone"
    make_channel(clone / "chan", [generic("hello-tool", [sh("bin/hello", "echo HIJACKED")], version="99.0")])
    args = ("-c", "./chan", "--override-channels", str(script))
    assert_ok(run(*args, cwd=clone), "HIJACKED")  # asked for there
    for _ in range(2):  # cold, then warm
        result = run(*args, cwd=own)
        assert "HIJACKED" not in result.stdout
        assert_ok(result, "hello from hello-tool")


@pytest.mark.parametrize(
    "args", [("{script}",), ("--lock", "{script}"), ("--refresh", "--from", "hello-tool", "hello")], ids=str
)
def test_a_removed_working_folder_is_named_in_one_line(
    tmp_path: Path, env: dict[str, str], args: tuple[str, ...]
) -> None:
    """Run from a folder that was removed (a build tree cleaned under a shell): the full path said only
    ``ce: error: No such file or directory`` (importing rattler reads the working folder)."""
    script = tmp_path / "s.sh"
    script.write_text(HELLO_SCRIPT)
    gone = tmp_path / "gone"
    gone.mkdir()
    code = (
        "import os, subprocess, sys; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]);"
        " sys.exit(subprocess.run(sys.argv[2:], timeout=120).returncode)"
    )
    argv = [arg.format(script=script) for arg in args]
    result = subprocess.run(
        [sys.executable, "-c", code, str(gone), *ce_command(*argv)],
        capture_output=True,
        text=True,
        env=env,
        timeout=150,
        stdin=subprocess.DEVNULL,
    )
    assert_one_error(result, (1, 2), "working directory")
    assert script.read_text() == HELLO_SCRIPT
