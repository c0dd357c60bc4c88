"""Fixtures of the hostile-input suite; the ``stress`` tests run only when selected with ``-m stress``."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hostile.support import remove_tree


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave ``stress`` tests out unless the marker expression names them."""
    if "stress" in (config.getoption("markexpr", "") or ""):
        return
    skip = pytest.mark.skip(reason="stress test: run with -m stress")
    for item in items:
        if item.get_closest_marker("stress") is not None:
            item.add_marker(skip)


@pytest.fixture
def env(channel_url: str) -> dict[str, str]:
    """The test's environment with the local test channel configured (``$CONDA_CHANNELS``)."""
    return dict(os.environ, CONDA_CHANNELS=channel_url)


@pytest.fixture
def own_rattler_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A package cache of this test alone (for tests that plant entries in it)."""
    path = tmp_path / "rattler-cache"
    path.mkdir()
    monkeypatch.setenv("RATTLER_CACHE_DIR", str(path))
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside the cache that hostile links point at: it must never change."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "precious.txt").write_text("keep me\n")
    old = 1_600_000_000
    os.utime(path / "precious.txt", (old, old))
    return path


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory under /tmp that an unprivileged user can enter (pytest's tmp dirs are private)."""
    path = Path(tempfile.mkdtemp(prefix="ce-hostile-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        remove_tree(path)
