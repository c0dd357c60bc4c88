"""The three lock formats: round trips, derived fields, and what other tools read."""

from __future__ import annotations

import hashlib
import pathlib

import pytest

from ce.lockfiles import (
    LockData,
    LockError,
    build_number_from_build,
    input_digest,
    install_order,
    make_package,
    read_header,
    url_fields,
    with_header,
)
from ce.lockfiles.conda_lock import CondaLock
from ce.lockfiles.explicit import Explicit
from ce.lockfiles.rattler_v6 import RattlerLockV6
from ce.records import LockedPackage

CHANNEL = "https://conda.example.invalid/forge"


def _package(
    name: str, version: str, build: str, subdir: str, depends: tuple[str, ...] = (), **extra: object
) -> LockedPackage:
    url = f"{CHANNEL}/{subdir}/{name}-{version}-{build}.conda"
    fields: dict[str, object] = {
        "sha256": hashlib.sha256(url.encode()).hexdigest(),
        "md5": hashlib.md5(url.encode()).hexdigest(),
        "depends": depends,
        "license": "MIT",
        "size": 1234,
        "timestamp": 1704067200000,
    }
    fields.update(extra)
    return make_package(url, **fields)  # type: ignore[arg-type]


def _lock() -> LockData:
    noarch = [
        _package("six", "1.17.0", "pyh_0", "noarch", ("python",)),
        _package("python-dateutil", "2.9.0.post0", "pyh_0", "noarch", ("python", "six >=1.5")),
    ]
    return LockData(
        (CHANNEL,),
        {
            "linux-64": (_package("python", "3.11.7", "h123_0_cpython", "linux-64", ("__glibc >=2.17",)), *noarch),
            "osx-arm64": (_package("python", "3.11.7", "h456_0_cpython", "osx-arm64", ("__osx >=11.0",)), *noarch),
            "win-64": (_package("python", "3.11.7", "h789_0_cpython", "win-64"), *noarch),
        },
    )


def _same(a: LockData, b: LockData, md5: bool = True) -> None:
    assert a.platforms == b.platforms
    for platform in a.platforms:

        def fields(p: LockedPackage) -> tuple[object, ...]:
            return (p.url, p.name, p.version, p.build, p.subdir, p.sha256, p.md5 if md5 else None)

        assert sorted(map(fields, a.packages[platform]), key=str) == sorted(map(fields, b.packages[platform]), key=str)


@pytest.mark.parametrize("backend", [RattlerLockV6(), CondaLock()])
def test_multi_platform_round_trip(backend: RattlerLockV6 | CondaLock) -> None:
    lock = _lock()
    text = with_header("a" * 64, backend.dumps(lock))
    assert backend.detect(text)
    loaded = backend.loads(text)
    _same(lock, loaded)
    assert loaded.channels == (CHANNEL,)
    assert backend.dumps(backend.loads(text)) == backend.dumps(lock)


def test_v6_round_trip_keeps_every_field() -> None:
    lock = _lock()
    loaded = RattlerLockV6().loads(RattlerLockV6().dumps(lock))
    assert loaded.packages["linux-64"] == tuple(sorted(lock.packages["linux-64"], key=lambda p: p.name))


def test_explicit_round_trip_per_platform_in_install_order() -> None:
    lock = _lock().only(["linux-64"])
    text = Explicit().dumps(lock)
    lines = text.splitlines()
    assert lines[:2] == ["# platform: linux-64", "@EXPLICIT"]
    names = [url_fields(line.split("#")[0]).name for line in lines[2:]]
    assert names == ["python", "six", "python-dateutil"]  # dependencies first
    assert all("#sha256:" in line for line in lines[2:])
    _same(lock, Explicit().loads(with_header("b" * 64, text)), md5=False)  # one hash per line: sha256
    with pytest.raises(LockError, match="one platform"):
        Explicit().dumps(_lock())


def test_v6_omits_fields_derivable_from_the_url() -> None:
    text = RattlerLockV6().dumps(_lock())
    assert "\n  name:" not in text and "\n  subdir:" not in text and "\n  version:" not in text
    assert "version: 6\n" in text and "build_number: 0" in text and "timestamp: 1704067200000" in text
    assert f"- url: {CHANNEL}/\n" in text


def test_sparse_v6_entries_as_conda_exec_writes_them_load() -> None:
    text = f"""\
# conda-exec-lock-input-sha256: {"c" * 64}
version: 6
environments:
  default:
    channels:
    - url: {CHANNEL}/
    packages:
      linux-64:
      - conda: {CHANNEL}/linux-64/python-3.11.7-h123_0_cpython.conda
      - conda: {CHANNEL}/noarch/six-1.17.0-pyhd8ed1ab_1.conda
packages:
- conda: {CHANNEL}/linux-64/python-3.11.7-h123_0_cpython.conda
  build_number: 0
  sha256: {"1" * 64}
  md5: {"2" * 32}
  license: Python-2.0
  size: 100
- conda: {CHANNEL}/noarch/six-1.17.0-pyhd8ed1ab_1.conda
  build_number: 1
  sha256: {"3" * 64}
  md5: {"4" * 32}
  license: MIT
  size: 10
"""
    lock = RattlerLockV6().loads(text)
    python, six = lock.packages["linux-64"]
    assert (python.name, python.version, python.build, python.subdir, python.noarch) == (
        "python",
        "3.11.7",
        "h123_0_cpython",
        "linux-64",
        None,
    )
    assert (six.name, six.subdir, six.noarch, six.build_number, six.channel) == ("six", "noarch", "python", 1, CHANNEL)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("version: 7\nenvironments: {}\npackages: []\n", "unsupported rattler lock version 7"),
        ("version: 6\npackages: []\n", "no 'default' environment"),
        ("version: 6\nenvironments:\n  default:\n    packages: {}\n", "no 'packages' list"),
        (
            "version: 6\nenvironments:\n  default:\n    packages:\n      linux-64:\n      - conda: x\npackages: []\n",
            "missing from 'packages'",
        ),
        ("version: 6\nenvironments: [\n", "invalid YAML"),
        ("- just\n- a list\n", "expected a YAML mapping"),
        (
            "version: 6\nenvironments:\n  default: {packages: {}}\npackages:\n- conda: https://x/y/notapackage\n",
            "not derivable",
        ),
    ],
)
def test_malformed_v6_is_one_clear_error(text: str, needle: str) -> None:
    with pytest.raises(LockError, match=needle) as caught:
        RattlerLockV6().loads(text)
    assert "\n" not in str(caught.value)


def test_conda_lock_output_is_accepted_by_conda_lock(tmp_path: pathlib.Path) -> None:
    conda_lock = pytest.importorskip("conda_lock.lockfile")
    path = tmp_path / "s.py.conda-lock.yml"
    path.write_text(with_header("d" * 64, CondaLock().dumps(_lock())))
    parsed = conda_lock.parse_conda_lock_file(path)
    assert sorted({(p.name, p.platform) for p in parsed.package}) == sorted(
        (p.name, platform) for platform, packages in _lock().packages.items() for p in packages
    )
    dateutil = next(p for p in parsed.package if p.name == "python-dateutil" and p.platform == "linux-64")
    assert dateutil.dependencies == {"python": "*", "six": ">=1.5"}
    assert dateutil.hash.sha256 == _lock().packages["linux-64"][2].sha256


def test_header_and_digest() -> None:
    digest = input_digest([], ["conda-forge"], ["python-dateutil"], [], ">=3.12", [])
    # the value conda-exec 0.4.0 computes for seed 000's summary.py
    expected_json = (
        '{"channels":[],"metadata":{"conda_channels":["conda-forge"],"conda_dependencies":["python-dateutil"],'
        '"pypi_dependencies":[],"requires_python":">=3.12"},"with_specs":[]}'
    )
    assert digest == hashlib.sha256(expected_json.encode()).hexdigest()
    assert read_header(with_header(digest, "x")) == digest
    assert read_header("version: 6\n") is None
    assert read_header("# conda-exec-lock-input-sha256: nothex\n") is None


def test_derived_fields() -> None:
    fields = url_fields("https://h.invalid/conda-forge/osx-arm64/x264-1!164.3095-h57fd34a_2.tar.bz2")
    assert (fields.name, fields.version, fields.build, fields.subdir, fields.channel) == (
        "x264",
        "1!164.3095",
        "h57fd34a_2",
        "osx-arm64",
        "https://h.invalid/conda-forge",
    )
    assert build_number_from_build("pyhd8ed1ab_100") == 100
    assert build_number_from_build("foobar") is None
    assert [p.name for p in install_order(_lock().packages["linux-64"][::-1])] == ["python", "six", "python-dateutil"]
