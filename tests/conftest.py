"""Shared fixtures: every cache, home and temp path lives inside pytest's tmp dirs.

Those live in the repository's ``.cache/pytest`` (not ``/tmp``): pytest's
numbered ``pytest-of-<user>/pytest-N`` directories are removed when every test
passed, and only the failed tests' directories are kept otherwise (two runs at
most, see ``tmp_path_retention_*`` in pyproject.toml). For the whole session
``TMPDIR``, ``HOME``, ``XDG_CACHE_HOME`` and ``PIP_CACHE_DIR`` point inside
the repository too, and every test gets its own ``TMPDIR`` and ``HOME``, so
the tools the tests run (ce, uv, pip, rattler) write nothing in ``/tmp`` or in
the real home. The session checks that about itself: see
:func:`pytest_sessionfinish`.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ce.config.condarc import SEARCH_PATH, SEARCH_PATH_VARIABLE

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

#: The bounded cache the tests may write (and clean up) inside the repository.
TEST_TEMP_ROOT = REPO / ".cache" / "pytest"
os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", str(TEST_TEMP_ROOT))
TEST_TEMP_ROOT.mkdir(parents=True, exist_ok=True)

#: Set to 0 to skip the check that a session leaves nothing behind.
LEAK_CHECK_VARIABLE = "CE_TEST_LEAK_CHECK"
#: What the tools run by the tests would leave at the top of /tmp. Only these
#: are checked, so that other processes on a shared machine do not fail the run.
_TMP_LEAK_PATTERNS = ("uv-*.lock", "tmp*", "pip-*", "ce-*", "*rattler*", "*conda*", "*.lock")
#: What the tools run by the tests would write in the home directory.
_HOME_CHECKED = (".cache", ".config", ".local", ".conda", ".condarc", ".mamba", ".rattler", ".pixi")

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


def _home_files(home: Path) -> set[str]:
    """Every path under the home directory's tool directories (they are small)."""
    found: set[str] = set()
    for name in _HOME_CHECKED:
        top = home / name
        if top.is_symlink() or top.is_file():
            found.add(name)
        for dirpath, dirnames, filenames in os.walk(top):
            rel = os.path.relpath(dirpath, home)
            found.update(os.path.join(rel, entry) for entry in dirnames + filenames)
    return found


def _tmp_entries(tmp: Path) -> set[str]:
    """The entries at the top of ``tmp`` that the tests' tools could leave.

    pytest's own ``tmp/pytest-of-USER`` is not looked into: this session's
    pytest directories are in the repository (``PYTEST_DEBUG_TEMPROOT``), and
    other pytest sessions on the machine add theirs there.
    """
    found: set[str] = set()
    for entry in os.listdir(tmp) if tmp.is_dir() else []:
        if any(fnmatch.fnmatch(entry, pattern) for pattern in _TMP_LEAK_PATTERNS):
            found.add(entry)
    return found


def pytest_configure(config: pytest.Config) -> None:
    """Point TMPDIR, HOME and pip's cache into a session directory inside the repository.

    The controller (not the xdist workers) also takes a snapshot of ``/tmp``
    and of the real home, compared by :func:`pytest_sessionfinish`.
    """
    session_dir = Path(tempfile.mkdtemp(prefix=f"session-{os.getpid()}-", dir=TEST_TEMP_ROOT))
    config.stash[_SESSION_DIR] = session_dir
    if not hasattr(config, "workerinput") and os.environ.get(LEAK_CHECK_VARIABLE, "1") != "0":
        real_home = Path(os.environ.get("HOME") or Path.home())
        real_tmp = Path(tempfile.gettempdir())
        tmp_dirs = sorted({real_tmp, Path("/tmp")})
        config.stash[_SNAPSHOT] = (
            real_home,
            _home_files(real_home),
            {tmp: _tmp_entries(tmp) for tmp in tmp_dirs},
        )
    (session_dir / "tmp").mkdir()
    (session_dir / "home").mkdir()
    os.environ["TMPDIR"] = str(session_dir / "tmp")
    tempfile.tempdir = None  # recomputed from TMPDIR
    os.environ["HOME"] = str(session_dir / "home")
    os.environ["XDG_CACHE_HOME"] = str(session_dir / "home" / ".cache")
    os.environ.setdefault("PIP_CACHE_DIR", str(REPO / ".cache" / "pip"))


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session directory."""
    session_dir = config.stash.get(_SESSION_DIR, None)
    if session_dir is not None:
        shutil.rmtree(session_dir, ignore_errors=True)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if it left anything new in /tmp or in the real home directory.

    Set ``CE_TEST_LEAK_CHECK=0`` to skip the check (e.g. on a machine where
    other processes create the same kind of files at the same time).
    """
    snapshot = session.config.stash.get(_SNAPSHOT, None)
    if snapshot is None:
        return
    real_home, home_before, tmp_before = snapshot
    leaks = [str(real_home / path) for path in sorted(_home_files(real_home) - home_before)]
    for tmp, before in tmp_before.items():
        leaks += [str(tmp / entry) for entry in sorted(_tmp_entries(tmp) - before)]
    if leaks:
        shown = "\n  ".join(leaks[:20]) + ("\n  ..." if len(leaks) > 20 else "")
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = f"the test session left {len(leaks)} new path(s) outside the repository:\n  {shown}"
        if reporter is not None:
            reporter.write_sep("=", "leak check failed", red=True)
            reporter.write_line(message)
        else:
            print(message, file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_SESSION_DIR = pytest.StashKey[Path]()
_SNAPSHOT = pytest.StashKey[tuple[Path, set[str], dict[Path, set[str]]]]()


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


@pytest.fixture
def local(channel_url: str) -> tuple[str, ...]:
    """ce's options selecting only the local channel."""
    return ("-c", channel_url, "--override-channels")


@pytest.fixture(scope="session")
def shared_rattler_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package cache shared by the tests of one session (inside pytest's tmp)."""
    return tmp_path_factory.mktemp("rattler-cache")


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_rattler_cache: Path) -> Iterator[None]:
    """Point TMPDIR, HOME, the ce cache and rattler's cache inside the test's tmp dir."""
    for name in _LEAKY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
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
