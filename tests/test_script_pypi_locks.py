"""PyPI dependencies in script locks, end to end, against a loopback simple index built from real wheels."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ce.lockfiles import LockData, read_header
from ce.lockfiles.conda_lock import CondaLock
from ce.lockfiles.rattler_v6 import RattlerLockV6
from ce.records import PypiPackage
from conftest import run_ce
from helpers import env_names
from pypi_index import LoopbackIndex, loopback_index

#: conda gives six; PyPI gives python-dateutil (which needs six: left to conda) and idna.
SCRIPT = textwrap.dedent(
    """\
    # /// script
    # dependencies = ["python-dateutil", "idna>=3"]
    # [tool.conda]
    # dependencies = ["six"]
    # ///
    import dateutil, idna, six
    print(dateutil.__version__, idna.__version__, six.__version__)
    """
)
EXPECTED_OUTPUT = "2.9.0.post0 3.11 1.17.0"
PYPI = {"idna": "3.11", "python-dateutil": "2.9.0.post0"}


@pytest.fixture
def index(test_cache_root: Path, channel: Path, tmp_path: Path) -> Iterator[LoopbackIndex]:
    wheels_dir = test_cache_root / "wheels"
    wheels = sorted([*wheels_dir.glob("*.whl"), *(wheels_dir / "pypi").glob("*.whl")])
    with loopback_index(tmp_path / "index", wheels) as served:
        yield served


@pytest.fixture
def env(index: LoopbackIndex, channel_url: str, tmp_path: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    environ["CONDA_CHANNELS"] = channel_url
    environ["UV_INDEX_URL"] = index.index_url  # the only index uv may ask
    environ["UV_CACHE_DIR"] = str(tmp_path / "uv-cache")
    environ["RATTLER_CACHE_DIR"] = str(tmp_path / "rattler")
    return environ


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "work" / "mixed.py"
    path.parent.mkdir()
    path.write_text(SCRIPT)
    return path


def _fresh(env: dict[str, str], tmp_path: Path, label: str) -> dict[str, str]:
    """Another machine: empty ce cache, package cache and uv cache."""
    return dict(
        env,
        CONDA_EXEC_HOME=str(tmp_path / f"home-{label}"),
        RATTLER_CACHE_DIR=str(tmp_path / f"pkgs-{label}"),
        UV_CACHE_DIR=str(tmp_path / f"uv-{label}"),
    )


def _pypi(data: LockData, platform: str) -> dict[str, PypiPackage]:
    return {package.name: package for package in data.pypi_for(platform)}


def test_lock_records_both_halves_in_v6_and_conda_lock(
    script: Path, env: dict[str, str], index: LoopbackIndex, tmp_path: Path
) -> None:
    from rattler import LockFile

    first = run_ce("--lock", "--platform", "osx-arm64", str(script), env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == EXPECTED_OUTPUT
    v6 = script.parent / "mixed.py.conda-exec.lock"
    text = v6.read_text()
    data = RattlerLockV6().loads(text)
    assert read_header(text) is not None and data.platforms == ("linux-64", "osx-arm64")
    for platform in data.platforms:
        pypi = _pypi(data, platform)
        assert {name: package.version for name, package in pypi.items()} == PYPI  # six is conda's
        assert "six" in {package.name for package in data.packages[platform]}
        idna = pypi["idna"]
        assert idna.url == f"{index.files.url}/files/idna-3.11-py3-none-any.whl"
        assert idna.sha256 == "771a87f49d9defaf64091e6e6fe9c18d4833f140bd19464795bc32d966ca37ea"
        assert idna.requires_python == ">=3.8"
        assert any(requirement.startswith("six") for requirement in pypi["python-dateutil"].requires_dist)
    # pixi's shape: `- pypi: <url>` per platform, `pypi:` package entries with name/version/sha256/requires
    assert f"      - pypi: {index.files.url}/files/idna-3.11-py3-none-any.whl\n" in text
    assert f"- pypi: {index.files.url}/files/idna-3.11-py3-none-any.whl\n  name: idna\n  version: '3.11'\n" in text
    rattler_env = LockFile.from_path(v6).default_environment()
    assert rattler_env is not None
    read_by_rattler = rattler_env.pypi_packages()
    for platform in data.platforms:
        by_name = {str(package.name): package for package in read_by_rattler[platform]}
        assert {name: str(package.version) for name, package in by_name.items()} == PYPI
        assert by_name["idna"].hashes.sha256.hex() == _pypi(data, platform)["idna"].sha256
        assert str(by_name["idna"].requires_python) == ">=3.8"

    second = run_ce("--lock", "--lock-format", "conda-lock", "--platform", "osx-arm64", str(script), env=env)
    assert second.returncode == 0, second.stderr
    conda_lock_file = script.parent / "mixed.py.conda-lock.yml"
    # conda-lock itself reads it, where installed (the v6 half above is checked everywhere)
    parsed = pytest.importorskip("conda_lock.lockfile").parse_conda_lock_file(conda_lock_file)
    pip = {(p.platform, p.name): p for p in parsed.package if p.manager == "pip"}
    assert sorted(pip) == sorted((platform, name) for platform in data.platforms for name in PYPI)
    assert pip[("linux-64", "idna")].hash.sha256 == _pypi(data, "linux-64")["idna"].sha256
    assert pip[("linux-64", "python-dateutil")].dependencies == {"six": ">=1.5"}
    assert {p.name for p in parsed.package if p.manager == "conda"} >= {"python", "six"}
    again = CondaLock().loads(conda_lock_file.read_text())
    assert {n: p.url for n, p in _pypi(again, "linux-64").items()} == {
        n: p.url for n, p in _pypi(data, "linux-64").items()
    }


def test_locked_reproduces_the_pypi_half_with_the_index_gone(
    script: Path, env: dict[str, str], index: LoopbackIndex, tmp_path: Path
) -> None:
    assert run_ce("--lock", "--embed", str(script), env=env).returncode == 0
    assert run_ce("--lock", str(script), env=env).returncode == 0
    locked = _pypi(RattlerLockV6().loads((script.parent / "mixed.py.conda-exec.lock").read_text()), "linux-64")
    index.index.stop()  # the index is gone; the files server still answers
    fresh = _fresh(env, tmp_path, "a")
    result = run_ce("--locked", str(script), env=fresh)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == EXPECTED_OUTPUT
    (name,) = env_names(Path(fresh["CONDA_EXEC_HOME"]))
    site = next((Path(fresh["CONDA_EXEC_HOME"]) / "envs" / name / "lib").glob("python3*/site-packages"))
    for dist, version in PYPI.items():
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        assert (info / "INSTALLER").read_text().strip() == "uv", dist
        assert (info / "direct_url.json").exists()
    assert len(list(site.glob("six-*.dist-info"))) == 1  # conda's, not installed twice
    stored = Path(fresh["RATTLER_CACHE_DIR"]) / "ce-verified" / "pypi"
    assert sorted(p.name for p in stored.iterdir()) == sorted(package.sha256 for package in locked.values())
    # the files server gone too: archives verified before are used from the package cache
    index.files.stop()
    other = dict(_fresh(env, tmp_path, "b"), RATTLER_CACHE_DIR=fresh["RATTLER_CACHE_DIR"])
    again = run_ce("--locked", str(script), env=other)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == EXPECTED_OUTPUT
    assert env_names(Path(other["CONDA_EXEC_HOME"])) == [name]  # same lock, same key


def test_a_tampered_pypi_archive_fails_in_one_line_and_publishes_nothing(
    script: Path, env: dict[str, str], index: LoopbackIndex, tmp_path: Path
) -> None:
    assert run_ce("--lock", str(script), env=env).returncode == 0
    archive = index.root / "files" / "idna-3.11-py3-none-any.whl"
    archive.unlink()
    archive.write_bytes(b"not the locked wheel")
    fresh = _fresh(env, tmp_path, "t")
    result = run_ce("--locked", str(script), env=fresh)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("ce: error: ") and "idna 3.11" in line and "sha256 mismatch" in line
    envs = Path(fresh["CONDA_EXEC_HOME"]) / "envs"
    assert env_names(Path(fresh["CONDA_EXEC_HOME"])) == []
    assert not [p for p in envs.iterdir() if p.name.startswith(".build")] if envs.exists() else True


def test_explicit_refuses_a_script_with_pypi_dependencies(script: Path, env: dict[str, str]) -> None:
    result = run_ce("--lock", "--lock-format", "explicit", str(script), env=env)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "explicit" in line and "PyPI" in line
    assert sorted(p.name for p in script.parent.iterdir()) == ["mixed.py"]


def test_a_lock_without_its_pypi_half_is_not_used(script: Path, env: dict[str, str], tmp_path: Path) -> None:
    assert run_ce("--lock", str(script), env=env).returncode == 0
    sidecar = script.parent / "mixed.py.conda-exec.lock"
    text = sidecar.read_text()
    data = RattlerLockV6().loads(text)
    header = text.split("\n", 1)[0]
    sidecar.write_text(header + "\n" + RattlerLockV6().dumps(LockData(data.channels, data.packages)))
    result = run_ce("--locked", str(script), env=_fresh(env, tmp_path, "c"))
    assert result.returncode == 1
    assert "does not lock the PyPI dependencies" in result.stderr and "python-dateutil" in result.stderr


def test_the_locked_key_covers_the_pypi_packages(script: Path, env: dict[str, str], tmp_path: Path) -> None:
    from dataclasses import replace

    from ce.script.lockfile_io import locked_env_name
    from ce.script.metadata import parse_metadata
    from ce.script.request import resolve_script_request

    assert run_ce("--lock", str(script), env=env).returncode == 0
    data = RattlerLockV6().loads((script.parent / "mixed.py.conda-exec.lock").read_text())
    request = resolve_script_request(
        str(script), parse_metadata(script.read_text(), str(script)), [], [], False, "linux-64", env
    )
    changed = {
        "linux-64": tuple(replace(p, sha256="0" * 64) if p.name == "idna" else p for p in data.pypi_for("linux-64"))
    }
    assert locked_env_name(request, data) != locked_env_name(request, LockData(data.channels, data.packages, changed))
