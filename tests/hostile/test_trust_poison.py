"""The shared package cache is never poisoned: a cached package is linked only if it matches the record.

A source without hashes (a channel whose repodata has no sha256/md5, a
``[url=...]`` spec) serves its own ``six-1.17.0-pyh_0``; a later run from the
real channel must link the real six, never the foreign one left in the cache.
Likewise for an extracted directory planted under the trusted name, for lock
installs, and for the conda-layout entries of a ``pkgs_dirs`` cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

import build_test_channel as btc
from hostile.support import PkgFile, assert_ok, explicit_lock, lock_digest, make_channel, run, script_folder

SIX = "six-1.17.0-pyh_0"
FOREIGN_MARK = "FOREIGN_SIX = True\n"
#: Prints which six the environment links: the real one has no ``FOREIGN_SIX``.
WHICH_SIX = "import six; print('six is', 'foreign' if hasattr(six, 'FOREIGN_SIX') else 'real')"


def _foreign_six() -> btc.Package:
    """A noarch python ``six-1.17.0-pyh_0`` that is not the real one (same name, version and build)."""
    return btc.Package(
        name="six",
        version="1.17.0",
        build="pyh_0",
        subdir="noarch",
        noarch="python",
        depends=["python"],
        files=[PkgFile("site-packages/six.py", FOREIGN_MARK.encode())],
    )


def _hashless_channel(root: Path) -> Path:
    """A channel serving the foreign six whose repodata carries no sha256, md5 or size."""
    make_channel(root, [_foreign_six()])
    repodata_path = root / "noarch" / "repodata.json"
    repodata = json.loads(repodata_path.read_text())
    for record in repodata["packages.conda"].values():
        for key in ("sha256", "md5", "size"):
            record.pop(key, None)
    repodata_path.write_text(json.dumps(repodata))
    return root


def _which_six(*channel_options: str, extra: tuple[str, ...] = ()) -> str:
    result = run(*channel_options, "--override-channels", "--with", "six", *extra, "python", "-c", WHICH_SIX)
    assert_ok(result)
    return result.stdout.strip()


def _extracted_entry(cache: Path) -> Path:
    return cache / "pkgs" / SIX


def test_a_hashless_channel_never_poisons_the_real_channels_six(
    tmp_path: Path, channel: Path, own_rattler_cache: Path
) -> None:
    """A run from a channel without hashes, then a run from the real channel: the real six is linked."""
    evil = _hashless_channel(tmp_path / "evil")
    # The foreign six comes first (channel priority); python comes from the real channel.
    assert _which_six("-c", evil.as_uri(), "-c", channel.as_uri()) == "six is foreign"
    assert _which_six("-c", channel.as_uri()) == "six is real"
    # And the other way round: the real six cached first, then the hashless channel gets its own.
    assert _which_six("-c", evil.as_uri(), "-c", channel.as_uri(), extra=("--refresh",)) == "six is foreign"
    assert _which_six("-c", channel.as_uri(), extra=("--refresh",)) == "six is real"


def test_a_hashless_archive_never_sits_in_the_shared_cache_under_a_name_a_hashed_record_matches(
    tmp_path: Path, channel: Path, own_rattler_cache: Path
) -> None:
    """After a hashless run, rattler (as pixi uses it, with the real record) would not link the foreign six:
    the entry is absent or its lock file names the foreign archive's own sha256; the archive itself is
    kept under that sha256 in ce's store."""
    evil = _hashless_channel(tmp_path / "evil")
    assert _which_six("-c", evil.as_uri(), "-c", channel.as_uri()) == "six is foreign"
    foreign = (evil / "noarch" / f"{SIX}.conda").read_bytes()
    foreign_sha256 = hashlib.sha256(foreign).hexdigest()
    real_sha256 = hashlib.sha256((channel / "noarch" / f"{SIX}.conda").read_bytes()).hexdigest()
    stored = own_rattler_cache / "ce-verified" / foreign_sha256 / f"{SIX}.conda"
    assert stored.read_bytes() == foreign
    if _extracted_entry(own_rattler_cache).exists():
        lock = (own_rattler_cache / "pkgs" / f"{SIX}.lock").read_bytes()
        assert lock[8:40].hex() == foreign_sha256 != real_sha256
    # conda-meta names where the package came from, not ce's store.
    records = list((tmp_path / "ce-home" / "envs").glob(f"*/conda-meta/{SIX}.json"))
    assert [json.loads(path.read_text())["url"] for path in records] == [(evil / "noarch" / f"{SIX}.conda").as_uri()]


def test_a_url_spec_never_poisons_the_real_channels_six(tmp_path: Path, channel: Path, own_rattler_cache: Path) -> None:
    """``--with "six[url=file://...]"`` (no hash) installs the foreign six; the real channel still gets the real one."""
    archive = btc.write_conda(_foreign_six(), _mkdir(tmp_path / "elsewhere"))
    spec = f"six[url={archive.as_uri()}]"
    result = run("-c", channel.as_uri(), "--override-channels", "--with", spec, "python", "-c", WHICH_SIX)
    assert_ok(result, "six is foreign")
    assert _which_six("-c", channel.as_uri()) == "six is real"


def test_a_planted_extracted_directory_is_detected_and_replaced(
    tmp_path: Path, channel: Path, own_rattler_cache: Path
) -> None:
    """A foreign directory under the trusted name in the package cache (no lock, or a lock without
    a hash, as rattler leaves for hashless sources) is never linked; the real six replaces it."""
    _plant_foreign_six(tmp_path, own_rattler_cache / "pkgs")
    assert _which_six("-c", channel.as_uri()) == "six is real"
    assert FOREIGN_MARK not in (_extracted_entry(own_rattler_cache) / "site-packages" / "six.py").read_text()
    # A lock file that records only a revision (what a hashless download leaves) is no better.
    shutil.rmtree(_extracted_entry(own_rattler_cache))
    _plant_foreign_six(tmp_path / "again", own_rattler_cache / "pkgs")
    (own_rattler_cache / "pkgs" / f"{SIX}.lock").write_bytes((7).to_bytes(8, "big"))
    assert _which_six("-c", channel.as_uri(), extra=("--refresh",)) == "six is real"


def test_a_lock_install_never_links_a_planted_entry(tmp_path: Path, channel: Path, own_rattler_cache: Path) -> None:
    """``--locked``: the lock's sha256 decides, not a directory found under the package's name."""
    _plant_foreign_six(tmp_path, own_rattler_cache / "pkgs")
    lines = []
    for subdir in ("linux-64", "noarch"):
        packages = json.loads((channel / subdir / "repodata.json").read_text())["packages.conda"]
        for file_name, record in packages.items():
            if record["name"] in ("python", "six"):
                lines.append(f"{(channel / subdir / file_name).as_uri()}#{record['md5']}")
    assert len(lines) == 2, lines
    script = (
        "# /// script\n# [tool.conda]\n"
        '# dependencies = ["python", "six"]\n# run-with = ["python"]\n# ///\n'
        "import six\nprint('six is', 'foreign' if hasattr(six, 'FOREIGN_SIX') else 'real')\n"
    )
    folder = script_folder(tmp_path, "s.py", script)
    digest = lock_digest(["python", "six"])
    (folder / "s.py.linux-64.explicit.txt").write_text(explicit_lock(digest, lines))
    result = run("--locked", "--lock-format", "explicit", "s.py", cwd=folder)
    assert_ok(result, "six is real")


@pytest.mark.parametrize("layout", ["conda"])
def test_a_conda_style_entry_with_another_records_hash_is_replaced(
    tmp_path: Path, channel: Path, own_rattler_cache: Path, layout: str
) -> None:
    """An entry as conda extracts it (``info/repodata_record.json`` naming the foreign archive's
    sha256) is not the real channel's six: never linked."""
    pkgs = own_rattler_cache / "pkgs"
    _plant_foreign_six(tmp_path, pkgs)
    record = {"name": "six", "version": "1.17.0", "build": "pyh_0", "sha256": "0" * 64, "md5": "0" * 32}
    (_extracted_entry(own_rattler_cache) / "info" / "repodata_record.json").write_text(json.dumps(record))
    assert _which_six("-c", channel.as_uri()) == "six is real"


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _plant_foreign_six(tmp_path: Path, pkgs: Path) -> None:
    """Extract the foreign six under the trusted name ``six-1.17.0-pyh_0`` in *pkgs*."""
    archive = btc.write_conda(_foreign_six(), _mkdir(tmp_path / "plant"))
    import rattler.package_streaming as streaming

    _mkdir(pkgs)
    streaming.extract(archive, pkgs / SIX)
    assert (pkgs / SIX / "site-packages" / "six.py").read_text() == FOREIGN_MARK
    os.utime(pkgs / SIX)


def test_the_conda_backend_evicts_foreign_entries_from_pkgs_dirs(tmp_path: Path, channel: Path) -> None:
    """conda's package caches (``pkgs_dirs``) are checked the same way before conda's transaction links:
    an entry without a matching recorded hash goes, a matching one (sha256, else md5) stays."""
    from types import SimpleNamespace

    from ce.backends.conda_solver import check_package_caches

    real = json.loads((channel / "noarch" / "repodata.json").read_text())["packages.conda"][f"{SIX}.conda"]
    record = SimpleNamespace(name="six", version="1.17.0", build="pyh_0", sha256=real["sha256"], md5=real["md5"])
    foreign_dir, sha_dir, md5_dir = (_mkdir(tmp_path / name) for name in ("foreign", "by-sha256", "by-md5"))
    for pkgs in (foreign_dir, sha_dir, md5_dir):
        _plant_foreign_six(tmp_path / "archives" / pkgs.name, pkgs)
    (sha_dir / SIX / "info" / "repodata_record.json").write_text(json.dumps({"sha256": real["sha256"].upper()}))
    (md5_dir / SIX / "info" / "repodata_record.json").write_text(json.dumps({"md5": real["md5"]}))
    pkgs_dirs = [str(foreign_dir), str(sha_dir), str(md5_dir), str(tmp_path / "missing")]
    assert check_package_caches(pkgs_dirs, [record]) == [str(foreign_dir / SIX)]
    assert not (foreign_dir / SIX).exists()
    assert (sha_dir / SIX).is_dir() and (md5_dir / SIX).is_dir()
    assert [path.name for path in foreign_dir.iterdir()] == [], "the evicted entry is removed, not left aside"
