"""Package contents never reach outside the prefix, and nothing ce installs is writable by others."""

from __future__ import annotations

import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import build_test_channel as btc
import ce.relocate as relocate_module
from build_test_channel import Package, PkgFile
from ce.base import CachePaths
from ce.envs.store import EnvCache
from ce.errors import InstallError
from hostile.support import assert_ok, assert_one_error, generic, make_channel, run, sh, snapshot

SECRET = b"the user's secret\n"


def _env_files(ce_home: Path) -> list[Path]:
    """Every path under the environments ce built (build and trash leftovers included)."""
    envs = ce_home / "envs"
    return [path for path in envs.rglob("*")] if envs.is_dir() else []


def _holding(paths: list[Path], needle: bytes) -> list[Path]:
    return [p for p in paths if not p.is_symlink() and p.is_file() and needle in p.read_bytes()]


def _secret_file(outside: Path) -> Path:
    secret = outside / "secret.txt"
    secret.write_bytes(SECRET)
    secret.chmod(0o600)
    return secret


def test_a_placeholder_symlink_to_an_outside_file_is_never_copied(
    tmp_path: Path, ce_home: Path, outside: Path, own_rattler_cache: Path
) -> None:
    """A softlink entry with a prefix placeholder points at a file of the user's: no copy of it in the env."""
    secret = _secret_file(outside)
    evil = make_channel(
        tmp_path / "evil",
        [
            generic(
                "leaky",
                [
                    sh("bin/leaky", 'cat "$(dirname "$0")/../share/leak.txt" 2>/dev/null; echo leaky ran'),
                    PkgFile("share/leak.txt", symlink=str(secret), prefix_placeholder="/opt/placeholder"),
                ],
            )
        ],
    )
    before = snapshot(outside)
    result = run("-c", evil.as_uri(), "--override-channels", "leaky")
    assert snapshot(outside) == before
    assert not _holding(_env_files(ce_home), SECRET), "the outside file was copied into the environment"
    assert_one_error(result, 1, "'share/leak.txt' is a symbolic link with a prefix placeholder")
    assert "leaky ran" not in result.stdout


@pytest.mark.parametrize("link_first", [True, False], ids=["link-installed-first", "file-installed-first"])
def test_a_package_link_to_an_outside_directory_is_never_written_through(
    tmp_path: Path, ce_home: Path, outside: Path, own_rattler_cache: Path, link_first: bool
) -> None:
    """Package A ships ``lib -> <outside dir>``; package B installs ``lib/planted.txt``: refused, nothing outside.

    rattler sets the clash aside (``__clobbers__``), but the environment it
    leaves may hold the link where B's directory should be, for uv and
    byte-compilation to write through later.
    """
    link = generic("outlink", [PkgFile("lib", symlink=str(outside))], depends=[] if link_first else ["below"])
    below = generic(
        "below",
        [sh("bin/below", "echo below ran"), PkgFile("lib/planted.txt", b"planted\n")],
        depends=["outlink"] if link_first else [],
    )
    evil = make_channel(tmp_path / "evil", [link, below])
    before = snapshot(outside)
    result = run("-c", evil.as_uri(), "--override-channels", "--from", "outlink", "--with", "below", "below")
    assert snapshot(outside) == before, "a package file was written through another package's link"
    assert_one_error(result, 1, "below 'lib'")
    assert "below ran" not in result.stdout
    assert not [p for p in (ce_home / "envs").iterdir() if not p.name.startswith(".")], "an environment was built"


@dataclass
class _MislabelledPackage(Package):
    """A package whose ``paths.json`` declares its symbolic links as plain files (with a prefix placeholder)."""

    def paths_json(self) -> dict[str, Any]:
        data = super().paths_json()
        for entry in data["paths"]:
            if entry["path_type"] == "softlink":
                entry.update(path_type="hardlink", file_mode="text", prefix_placeholder="/opt/placeholder")
        return data


def test_a_link_declared_as_a_file_is_never_read_through(
    tmp_path: Path, ce_home: Path, outside: Path, own_rattler_cache: Path
) -> None:
    """``paths.json`` says ``share/leak.txt`` is a text file with a placeholder; the archive holds a link to a secret.

    Refused when first extracted, and again (before linking) from the package cache.
    """
    secret = _secret_file(outside)
    package = _MislabelledPackage(
        name="leaky",
        version="1.0",
        build="0",
        subdir="noarch",
        noarch="generic",
        files=[sh("bin/leaky", "echo leaky ran"), PkgFile("share/leak.txt", symlink=str(secret))],
    )
    evil = make_channel(tmp_path / "evil", [package])
    before = snapshot(outside)
    for _attempt in range(2):
        result = run("-c", evil.as_uri(), "--override-channels", "leaky")
        assert snapshot(outside) == before
        assert not _holding(_env_files(ce_home), SECRET), "the outside file was copied into the environment"
        assert_one_error(result, 1, "'share/leak.txt' is a symbolic link")
        assert "leaky ran" not in result.stdout


def _with_directories(directories: dict[str, int]):  # type: ignore[no-untyped-def]
    """``build_test_channel._tar_bytes`` that also writes *directories* (path -> mode) first, as some archives do."""
    original = btc._tar_bytes

    def tar_bytes(files):  # type: ignore[no-untyped-def]
        files = list(files)
        data = original(files)
        if not any(f.path.startswith(tuple(directories)) for f in files):
            return data
        out = io.BytesIO()
        with (
            tarfile.open(fileobj=io.BytesIO(data)) as source,
            tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for path, mode in directories.items():
                info = tarfile.TarInfo(path)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, btc.FIXED_MTIME
                tar.addfile(info)
            for member in source.getmembers():
                tar.addfile(member, source.extractfile(member) if member.isfile() else None)
        return out.getvalue()

    return tar_bytes


def test_group_and_world_writable_archive_modes_are_normalised(
    tmp_path: Path, ce_home: Path, own_rattler_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files 0o666/0o777 and directories 0o777 in an archive: nothing in the env or its cache entry has 0o022."""
    monkeypatch.setattr(btc, "_tar_bytes", _with_directories({"share": 0o777, "share/wide": 0o777}))
    evil = make_channel(
        tmp_path / "evil",
        [
            generic(
                "wide",
                [
                    PkgFile("bin/wide", b"#!/bin/sh\necho wide ran\n", 0o777),
                    PkgFile("share/wide/data.txt", b"data\n", 0o666),
                    PkgFile(
                        "share/wide/config.txt",
                        b"prefix=/opt/placeholder\n",
                        0o666,
                        prefix_placeholder="/opt/placeholder",
                    ),
                ],
            )
        ],
    )
    assert_ok(run("-c", evil.as_uri(), "--override-channels", "wide"), "wide ran")
    (env,) = [p for p in (ce_home / "envs").iterdir() if p.name.startswith("wide-")]
    (entry,) = [p for p in own_rattler_cache.rglob("wide-1.0-0") if p.is_dir()]
    assert (env / "share" / "wide" / "data.txt").is_file() and (entry / "share" / "wide").is_dir()
    writable = [
        f"{path} {oct(path.lstat().st_mode & 0o777)}"
        for root in (env, entry)
        for path in [root, *root.rglob("*")]
        if not path.is_symlink() and path.lstat().st_mode & 0o022
    ]
    assert not writable, writable
    assert os.access(env / "bin" / "wide", os.X_OK)


def test_a_package_link_in_conda_meta_is_refused(
    tmp_path: Path, ce_home: Path, outside: Path, own_rattler_cache: Path
) -> None:
    """A package ships ``conda-meta/history`` and ce's record ``.ce-env.json`` as links to a user's file.

    ce writes both files when it completes an environment: it wrote through the links.
    """
    precious = outside / "precious.txt"
    evil = make_channel(
        tmp_path / "evil",
        [
            generic(
                "metalink",
                [
                    sh("bin/metalink", "echo metalink ran"),
                    PkgFile("conda-meta/history", symlink=str(precious)),
                    PkgFile(".ce-env.json", symlink=str(precious)),
                ],
            )
        ],
    )
    before = snapshot(outside)
    result = run("-c", evil.as_uri(), "--override-channels", "metalink")
    assert snapshot(outside) == before, "ce wrote through a package's link in conda-meta"
    assert_one_error(result, 1, "where ce keeps its records")


@pytest.mark.parametrize("planted", ["conda-meta/history", ".ce-env.json"])
def test_completing_an_environment_never_writes_through_links_in_conda_meta(
    ce_home: Path, outside: Path, planted: str
) -> None:
    """Whatever backend filled the build directory (conda, a plugin), ce's records replace links, never follow them."""
    precious = outside / "precious.txt"
    cache = EnvCache(CachePaths(str(ce_home)))

    def create(build_dir: str, _final: str) -> None:
        Path(build_dir, "conda-meta").mkdir()
        Path(build_dir, planted).symlink_to(precious)

    before = snapshot(outside)
    prefix = Path(cache.build("planted--0123456789abcdef", create, {"kind": "tool", "specs": ["planted"]}))
    assert snapshot(outside) == before
    for name in ("conda-meta/history", ".ce-env.json"):
        assert not (prefix / name).is_symlink()
    assert "created by ce" in (prefix / "conda-meta" / "history").read_text()


def test_a_symlinked_conda_meta_directory_is_refused(ce_home: Path, outside: Path) -> None:
    """A backend left ``conda-meta`` itself a link out of the environment: the build is refused and discarded."""
    cache = EnvCache(CachePaths(str(ce_home)))

    def create(build_dir: str, _final: str) -> None:
        Path(build_dir, "conda-meta").symlink_to(outside)

    before = snapshot(outside)
    with pytest.raises(InstallError, match="conda-meta"):
        cache.build("planted--0123456789abcdef", create, {"kind": "tool", "specs": ["planted"]})
    assert snapshot(outside) == before
    assert not [p for p in (ce_home / "envs").iterdir() if not p.name.startswith(".")]


def test_relocation_never_reads_through_a_file_swapped_for_a_link(
    tmp_path: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file seen as regular by the walk is a link when opened (a swap, simulated): it is neither read nor replaced."""
    build = tmp_path / "envs" / ".build-x"
    (build / "etc").mkdir(parents=True)
    secret = outside / "secret.txt"
    secret.write_bytes(SECRET + str(build).encode() + b"\n")
    swapped = build / "etc" / "swapped.txt"
    swapped.write_bytes(b"prefix=" + str(build).encode() + b"\n")
    regular = swapped.lstat()
    swapped.unlink()
    swapped.symlink_to(secret)
    real_lstat = os.lstat

    def stale_lstat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        return regular if os.fspath(path) == str(swapped) else real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(relocate_module.os, "lstat", stale_lstat)
    before = snapshot(outside)
    relocate_module.relocate(str(build), str(tmp_path / "envs" / "x"))
    assert snapshot(outside) == before
    assert swapped.is_symlink(), "the link was replaced by a copy of what it points at"


def test_byte_compilation_never_reads_a_source_linked_from_outside(
    tmp_path: Path, ce_home: Path, channel: Path, outside: Path
) -> None:
    """A noarch Python package's ``.py`` file is a link to a user's file: no bytecode of it in the environment."""
    (outside / "secret.py").write_text("TOKEN = 'the-users-secret-token'\n")
    evil = make_channel(
        tmp_path / "evil",
        [
            Package(
                name="leakpy",
                version="1.0",
                build="py_0",
                subdir="noarch",
                noarch="python",
                depends=["python"],
                files=[
                    PkgFile("site-packages/leakpy/__init__.py", b"VALUE = 'leakpy imported'\n"),
                    PkgFile("site-packages/leakpy/secret.py", symlink=str(outside / "secret.py")),
                ],
            )
        ],
    )
    before = snapshot(outside)
    result = run(
        *("-c", channel.as_uri(), "-c", evil.as_uri(), "--override-channels", "--from", "leakpy"),
        *("python", "-c", "import leakpy; print(leakpy.VALUE)"),
    )
    assert_ok(result, "leakpy imported")
    assert snapshot(outside) == before
    compiled = [p for p in (ce_home / "envs").rglob("*.pyc") if "leakpy" in str(p)]
    assert compiled, "byte-compilation did not run"
    assert not _holding(compiled, b"the-users-secret-token"), "a source outside the environment was compiled into it"


def test_pypi_packages_are_never_installed_through_a_link_leaving_the_environment(
    tmp_path: Path, ce_home: Path, channel: Path, outside: Path, test_cache_root: Path
) -> None:
    """A conda package ships ``share/elsewhere -> <outside dir>``; the script also needs a PyPI package: refused."""
    evil = make_channel(tmp_path / "evil", [generic("dirlink", [PkgFile("share/elsewhere", symlink=str(outside))])])
    script = tmp_path / "s.py"
    script.write_text(
        "# /// script\n# dependencies = ['idna>=3']\n# [tool.conda]\n# dependencies = ['python', 'dirlink']\n# ///\n"
        "print('script ran')\n"
    )
    env = dict(os.environ, UV_NO_INDEX="1", UV_OFFLINE="1", UV_FIND_LINKS=str(test_cache_root / "wheels" / "pypi"))
    before = snapshot(outside)
    result = run("-c", channel.as_uri(), "-c", evil.as_uri(), "--override-channels", str(script), env=env)
    assert snapshot(outside) == before
    assert_one_error(result, 1, "'share/elsewhere' in the environment is a link to a directory outside it")
    assert "script ran" not in result.stdout
