"""Shared fixtures: every cache, home and temp path lives inside pytest's tmp dirs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ce.config.condarc import SEARCH_PATH, SEARCH_PATH_VARIABLE

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

#: Variables that would let the real user's configuration leak into a test.
_LEAKY_VARIABLES = (
    "CONDA_EXEC_HOME",
    "CONDA_CHANNELS",
    "CONDA_SUBDIR",
    "CONDA_EXEC_CLEAN_INTERVAL",
    "CONDA_EXEC_CLEAN_AGE",
    "CONDARC",
    "CONDA_PREFIX",
    "CONDA_ROOT",
    "_CONDA_ROOT",
    "CONDA_EXE",
    "CONDA_PYTHON_EXE",
    "CONDA_CHANNEL_ALIAS",
    "CONDA_DEFAULT_CHANNELS",
    "CONDA_OVERRIDE_CHANNELS_ENABLED",
    "CONDA_PKGS_DIRS",
    "CONDA_RESTRICT_RC_SEARCH_PATH",
    "RATTLER_CACHE_DIR",
)


def _conda_importable() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("conda.core.solve") is not None
    except ImportError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``conda`` need the real conda: skip them, saying why, where it cannot be imported."""
    if _conda_importable():
        return
    skip = pytest.mark.skip(reason="needs conda importable (conda is on neither PyPI nor Debian)")
    for item in items:
        if item.get_closest_marker("conda") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def test_cache_root() -> Path:
    """Where the built test channel and downloaded wheels are cached across runs."""
    return Path(os.environ.get("CE_TEST_CACHE", REPO / ".cache" / "test-channel"))


@pytest.fixture(scope="session")
def channel(test_cache_root: Path) -> Path:
    """The local conda channel built from this machine's python and PyPI wheels."""
    import build_test_channel

    wheels = build_test_channel.ensure_wheels(test_cache_root / "wheels")
    return build_test_channel.build_channel(test_cache_root, wheels)


@pytest.fixture(scope="session")
def channel_url(channel: Path) -> str:
    """``file://`` URL of the local channel."""
    return channel.as_uri()


@pytest.fixture(scope="session")
def shared_rattler_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package cache shared by the tests of one session (inside pytest's tmp)."""
    return tmp_path_factory.mktemp("rattler-cache")


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_rattler_cache: Path) -> Iterator[None]:
    """Point HOME, the ce cache and rattler's cache inside the test's tmp dir."""
    for name in _LEAKY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("CONDA_EXEC_HOME", str(tmp_path / "ce-home"))
    monkeypatch.setenv("RATTLER_CACHE_DIR", str(shared_rattler_cache))
    monkeypatch.setenv("CONDA_EXEC_AUTO_CLEAN", "0")
    monkeypatch.setenv(SEARCH_PATH_VARIABLE, os.pathsep.join(condarc_search_path(tmp_path / "system")))
    yield


def condarc_search_path(system: Path) -> list[str]:
    """conda's condarc search path with its system-wide entries (``/etc/conda``...) moved under *system*."""
    return [str(system) + entry if entry.startswith(("/etc/", "/var/")) else entry for entry in SEARCH_PATH]


@pytest.fixture
def ce_home(tmp_path: Path) -> Path:
    """This test's ce cache home."""
    return tmp_path / "ce-home"


def run_ce(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    input: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ce ARGS`` in a child process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "ce", *args],
        capture_output=True,
        text=True,
        env=env if env is not None else dict(os.environ),
        cwd=cwd,
        input=input,
        timeout=timeout,
    )


@pytest.fixture
def ce() -> object:
    """The :func:`run_ce` helper."""
    return run_ce
