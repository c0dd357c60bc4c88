"""Tests of ``scripts/build_test_channel.py``, the offline local conda channel.

These solve and install from the channel with py-rattler directly, and run
what was installed. The channel is built (wheels downloaded once) into
``$CE_TEST_CACHE`` or ``<repo>/.cache/test-channel``; every other cache (HOME,
rattler's caches) is redirected into pytest's temporary directories.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import rattler
from rattler import (
    Channel,
    Gateway,
    GenericVirtualPackage,
    PackageName,
    RepoDataRecord,
    Version,
    VirtualPackage,
)
from rattler.exceptions import SolverError

from ce.backends.rattler_compat import build_string
from ce.backends.rattler_compat import subdir as to_subdir

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILDER_PATH = REPO_ROOT / "scripts" / "build_test_channel.py"

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("patchelf") is None,
    reason="the test channel packages this Linux interpreter and needs patchelf",
)


def _load_builder() -> ModuleType:
    """Import ``scripts/build_test_channel.py`` (scripts/ is not a package)."""
    name = "build_test_channel"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BUILDER_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


btc = _load_builder()
PINS = {pin.name: pin for pin in btc.read_wheel_pins()}
PYTHON_VERSION = ".".join(str(part) for part in sys.version_info[:3])
PYVER = f"python{sys.version_info.major}.{sys.version_info.minor}"


# --------------------------------------------------------------------------
# fixtures and helpers
# --------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def isolated_caches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point HOME and every rattler cache into a temporary directory."""
    root = tmp_path_factory.mktemp("isolated")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(root / "home"))
        mp.setenv("XDG_CACHE_HOME", str(root / "xdg-cache"))
        mp.setenv("RATTLER_CACHE_DIR", str(root / "rattler-cache"))
        yield root


@pytest.fixture(scope="module")
def channel_dir() -> Path:
    """Build the channel once into the shared test cache."""
    return Path(btc.build_channel(btc.default_cache()))


@pytest.fixture(scope="module")
def wheels_dir() -> Path:
    """Return the pinned wheels (downloaded by the first build)."""
    return Path(btc.ensure_wheels(btc.default_cache() / "wheels"))


@pytest.fixture(scope="module")
def package_cache(isolated_caches: Path) -> Path:
    """Return the rattler package cache of these tests."""
    return isolated_caches / "pkgs"


def _host_virtual_packages() -> list[GenericVirtualPackage]:
    return [vp.into_generic() for vp in VirtualPackage.detect()]


def _virtual(name: str, version: str, build: str = "0") -> GenericVirtualPackage:
    return GenericVirtualPackage(PackageName(name), Version(version), build_string(build))


def solve(
    source: str,
    specs: Sequence[str],
    cache: Path,
    platforms: Sequence[str] | None = None,
    virtual_packages: Sequence[GenericVirtualPackage] | None = None,
) -> list[RepoDataRecord]:
    """Solve ``specs`` against the channel at ``source`` (a URL)."""
    return asyncio.run(
        rattler.solve(
            sources=[Channel(source)],
            specs=list(specs),
            gateway=Gateway(cache_dir=cache / "repodata"),
            platforms=[to_subdir(p) for p in platforms] if platforms is not None else None,
            virtual_packages=(list(virtual_packages) if virtual_packages is not None else _host_virtual_packages()),
        )
    )


def install(records: list[RepoDataRecord], prefix: Path, cache: Path) -> Path:
    """Install ``records`` into ``prefix`` using the package cache ``cache``."""
    asyncio.run(rattler.install(records, target_prefix=prefix, cache_dir=cache, show_progress=False))
    return prefix


def run(
    argv: Sequence[str | Path], *, cwd: Path | None = None, stdin_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command of an installed prefix with a clean Python environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    return subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        input=stdin_text,
        timeout=120,
        check=False,
    )


def _names(records: Sequence[RepoDataRecord]) -> dict[str, RepoDataRecord]:
    return {r.name.normalized: r for r in records}


@pytest.fixture(scope="module")
def python_prefix(channel_dir: Path, package_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Install python, pyflakes and python-dateutil into a prefix."""
    cache = tmp_path_factory.mktemp("solve-python")
    records = solve(channel_dir.as_uri(), ["python", "pyflakes", "python-dateutil"], cache)
    assert set(_names(records)) == {"python", "pyflakes", "python-dateutil", "six"}
    prefix = tmp_path_factory.mktemp("envs") / "python-env"
    return install(records, prefix, package_cache).resolve()


# --------------------------------------------------------------------------
# the channel itself
# --------------------------------------------------------------------------


def test_channel_layout_and_repodata(channel_dir: Path) -> None:
    """Every subdir has repodata.json whose records match the archives."""
    expected = {
        "linux-64": {"python", "ruff", "multi-tool"},
        "noarch": {
            "six",
            "python-dateutil",
            "pyflakes",
            "hello-tool",
            "dep-x",
            "needs-x1",
            "needs-x2",
            "activate-demo",
            "exit-with",
            "bash",
            "not-executable",
        },
        "osx-arm64": {"python", "multi-tool"},
        "win-64": {"python", "multi-tool"},
    }
    for subdir, names in expected.items():
        repodata = json.loads((channel_dir / subdir / "repodata.json").read_text())
        assert repodata["info"]["subdir"] == subdir
        assert repodata["packages"] == {}
        records = repodata["packages.conda"]
        assert {r["name"] for r in records.values()} == names
        for filename, record in records.items():
            data = (channel_dir / subdir / filename).read_bytes()
            assert record["sha256"] == hashlib.sha256(data).hexdigest()
            assert record["md5"] == hashlib.md5(data, usedforsecurity=False).hexdigest()
            assert record["size"] == len(data)
            assert record["subdir"] == subdir
            assert record["timestamp"] == record["indexed_timestamp"] == btc.FIXED_TIMESTAMP_MS
            assert filename == f"{record['name']}-{record['version']}-{record['build']}.conda"
            with zipfile.ZipFile(channel_dir / subdir / filename) as archive:
                stem = filename[: -len(".conda")]
                assert sorted(archive.namelist()) == sorted(
                    ["metadata.json", f"info-{stem}.tar.zst", f"pkg-{stem}.tar.zst"]
                )
    noarch = json.loads((channel_dir / "noarch" / "repodata.json").read_text())
    records = {r["name"]: r for r in noarch["packages.conda"].values()}
    assert records["python-dateutil"]["noarch"] == "python"
    assert "six >=1.5" in records["python-dateutil"]["depends"]
    assert records["pyflakes"]["depends"] == ["python >=3.9"]
    assert records["hello-tool"]["noarch"] == "generic"
    assert records["needs-x1"]["depends"] == ["dep-x 1.*"]


def test_records_carry_fixed_timestamps(channel_dir: Path, tmp_path: Path) -> None:
    """The solver sees the fixed timestamps, so ``exclude_newer`` works."""
    fixed = datetime.datetime.fromtimestamp(btc.FIXED_TIMESTAMP_MS / 1000, tz=datetime.timezone.utc)
    (record,) = solve(channel_dir.as_uri(), ["hello-tool"], tmp_path / "solve")
    assert record.timestamp == fixed
    if hasattr(record, "indexed_timestamp"):  # py-rattler 0.26 does not read it
        assert record.indexed_timestamp == fixed

    def solve_before(cutoff: datetime.datetime) -> list[RepoDataRecord]:
        return asyncio.run(
            rattler.solve(
                sources=[Channel(channel_dir.as_uri())],
                specs=["hello-tool"],
                gateway=Gateway(cache_dir=tmp_path / "solve" / "repodata"),
                exclude_newer=cutoff,
            )
        )

    assert len(solve_before(fixed + datetime.timedelta(days=1))) == 1
    with pytest.raises(SolverError):
        solve_before(fixed - datetime.timedelta(days=1))


def test_rebuild_is_byte_identical_and_parallel_safe(channel_dir: Path, wheels_dir: Path, tmp_path: Path) -> None:
    """Two concurrent builds into a fresh cache root give the same bytes."""
    root = tmp_path / "fresh-cache"
    results: list[Path] = []
    errors: list[Exception] = []

    def build() -> None:
        try:
            results.append(btc.build_channel(root, wheels=wheels_dir))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(results)) == 1
    rebuilt = results[0]
    assert rebuilt != channel_dir
    assert rebuilt.relative_to(root).parts[1:] == ("channel",)
    # the loser of the rename race cleaned up after itself
    assert [p.name for p in root.iterdir()] == [rebuilt.parent.name]

    def files(channel: Path) -> dict[str, bytes]:
        return {str(p.relative_to(channel)): p.read_bytes() for p in sorted(channel.rglob("*")) if p.is_file()}

    original, fresh = files(channel_dir), files(rebuilt)
    assert sorted(original) == sorted(fresh)
    for name, data in original.items():
        assert fresh[name] == data, f"{name} differs between builds"


def test_cached_build_is_reused(channel_dir: Path) -> None:
    """A second call finds the cached channel."""
    assert btc.build_channel(btc.default_cache()) == channel_dir


def test_pypi_wheels_downloaded(wheels_dir: Path) -> None:
    """Keep idna and certifi as wheels for offline PyPI installs."""
    for name in ("idna", "certifi"):
        pin = PINS[name]
        assert pin.group == "pypi"
        assert btc.find_wheel(wheels_dir / "pypi", pin) is not None


# --------------------------------------------------------------------------
# python, noarch python packages
# --------------------------------------------------------------------------


def test_python_copy_uses_its_own_libpython(python_prefix: Path) -> None:
    """The installed interpreter loads the prefix's libpython and extensions."""
    code = (
        "import json, sys, _json\n"
        "maps = [l.split()[-1] for l in open('/proc/self/maps') if 'libpython' in l]\n"
        "print(json.dumps({'prefix': sys.prefix, 'maps': sorted(set(maps)),"
        " 'json_ext': _json.__file__, 'version': sys.version.split()[0]}))\n"
    )
    result = run([python_prefix / "bin" / "python", "-c", code])
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert Path(info["prefix"]) == python_prefix
    assert info["version"] == PYTHON_VERSION
    with open("/proc/self/maps") as maps:
        host_uses_libpython = any("libpython" in line for line in maps)
    if host_uses_libpython:
        assert info["maps"], "libpython is not mapped: the copy does not load a libpython of its own"
    else:  # e.g. Debian's python: libpython is linked into the executable
        assert info["maps"] == []
    for mapped in info["maps"]:
        assert Path(mapped).resolve().is_relative_to(python_prefix), mapped
    assert Path(info["json_ext"]).resolve().is_relative_to(python_prefix)


def test_python_prefix_placeholders_replaced(python_prefix: Path) -> None:
    """Text files with the build prefix point at the new prefix."""
    code = "import sysconfig; print(sysconfig.get_config_var('prefix'))"
    result = run([python_prefix / "bin" / "python3", "-c", code])
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == python_prefix
    config = python_prefix / "bin" / f"{PYVER}-config"
    if config.exists():  # Debian's is a link to x86_64-linux-gnu-pythonX.Y-config, which is not packaged
        assert sys.base_prefix not in config.read_text()


def test_python_stdlib_pyc_are_valid(python_prefix: Path) -> None:
    """The shipped .pyc match their sources, so startup does not recompile."""
    source = python_prefix / "lib" / PYVER / "json" / "__init__.py"
    pyc = Path(importlib.util.cache_from_source(str(source)))
    header = pyc.read_bytes()[:16]
    assert int.from_bytes(header[4:8], "little") == 0  # timestamp-based pyc
    st = source.stat()
    assert int.from_bytes(header[8:12], "little") == int(st.st_mtime) & 0xFFFFFFFF
    assert int.from_bytes(header[12:16], "little") == st.st_size & 0xFFFFFFFF

    result = run([python_prefix / "bin" / "python", "-v", "-c", "import json"])
    assert result.returncode == 0, result.stderr
    assert "bytecode is stale" not in result.stderr
    assert f"code object from '{pyc}'" in result.stderr


def test_noarch_python_packages(python_prefix: Path) -> None:
    """Import six and python-dateutil from the prefix's site-packages."""
    code = (
        "import dateutil, six, dateutil.parser\n"
        "print(dateutil.__version__, six.__version__)\n"
        "print(dateutil.__file__)\n"
        "print(dateutil.parser.isoparse('2024-01-02').year)\n"
    )
    result = run([python_prefix / "bin" / "python", "-c", code])
    assert result.returncode == 0, result.stderr
    versions, location, year = result.stdout.split("\n")[:3]
    assert versions == f"{PINS['python-dateutil'].version} {PINS['six'].version}"
    assert Path(location).is_relative_to(python_prefix / "lib" / PYVER / "site-packages")
    assert year == "2024"


def test_noarch_python_entry_point(python_prefix: Path) -> None:
    """The installer wrote a pyflakes launcher running the prefix's python."""
    launcher = python_prefix / "bin" / "pyflakes"
    assert launcher.is_file()
    assert launcher.read_text().splitlines()[0] == f"#!{python_prefix}/bin/{PYVER}"
    result = run([launcher, "--version"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(PINS["pyflakes"].version)


def _distro_python() -> str | None:
    """``/usr/bin/python3`` if it is a distribution's (its site.py reads dist-packages) and >= 3.10."""
    python = Path("/usr/bin/python3")
    if not python.exists():
        return None
    probe = "import site, sys; print(sys.version_info >= (3, 10) and 'dist-packages' in open(site.__file__).read())"
    result = subprocess.run([python, "-I", "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    return str(python) if result.stdout.strip() == "True" else None


DISTRO_PYTHON = _distro_python()


@pytest.mark.skipif(
    DISTRO_PYTHON is None,
    reason="needs a distribution's python (/usr/bin/python3 whose site.py reads dist-packages, as Debian's)",
)
def test_distro_python_package_reads_its_site_packages(
    wheels_dir: Path, package_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A channel built from Debian's /usr/bin/python3 behaves as upstream CPython.

    That interpreter's own site module reads dist-packages directories and its
    sysconfig installs into /usr/local; packaged, it must read and install into
    <prefix>/lib/pythonX.Y/site-packages, where noarch packages go.
    """
    assert DISTRO_PYTHON is not None
    info = btc.interpreter(DISTRO_PYTHON)
    channel = Path(btc.build_channel(btc.default_cache(), wheels=wheels_dir, python=DISTRO_PYTHON))
    records = solve(channel.as_uri(), ["python", "six", "pyflakes"], tmp_path_factory.mktemp("solve-distro"))
    assert _names(records)["python"].version == Version(info.version)
    prefix = install(records, tmp_path_factory.mktemp("envs") / "distro-env", package_cache).resolve()
    site_packages = prefix / "lib" / info.pyver / "site-packages"

    code = (
        "import json, os, site, sys, sysconfig, tempfile, six\n"
        "print(json.dumps({'site': site.getsitepackages(), 'path': sys.path, 'six': six.__file__,"
        " 'purelib': sysconfig.get_paths()['purelib'], 'prefix': sys.prefix, 'exe': sys.executable,"
        " 'defpath': os.defpath, 'tmp': tempfile._candidate_tempdir_list()}))\n"
    )
    result = run([prefix / "bin" / "python", "-s", "-c", code])
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["site"] == [str(site_packages)]
    assert Path(found["six"]).parent == site_packages
    assert found["purelib"] == str(site_packages)
    assert Path(found["prefix"]) == prefix
    assert Path(found["exe"]).resolve().is_relative_to(prefix)
    assert [entry for entry in found["path"] if entry and not Path(entry).is_relative_to(prefix)] == []
    # the original /usr is not rewritten where it is not the interpreter's prefix
    assert found["defpath"] == "/bin:/usr/bin"
    assert "/usr/tmp" in found["tmp"]

    assert not (prefix / "lib" / info.pyver / "EXTERNALLY-MANAGED").exists()
    launcher = run([prefix / "bin" / "pyflakes", "--version"])
    assert launcher.returncode == 0, launcher.stderr
    assert launcher.stdout.startswith(PINS["pyflakes"].version)
    # the added sitecustomize ships a valid .pyc: no recompilation at startup
    verbose = run([prefix / "bin" / "python", "-v", "-c", "pass"])
    assert "code object from" in verbose.stderr and "sitecustomize" in verbose.stderr
    assert "bytecode is stale" not in verbose.stderr


# --------------------------------------------------------------------------
# ruff, synthetic packages
# --------------------------------------------------------------------------


def test_ruff(channel_dir: Path, package_cache: Path, tmp_path: Path) -> None:
    """Install ruff, which reports the pinned version."""
    records = solve(channel_dir.as_uri(), ["ruff"], tmp_path / "solve")
    assert [r.name.normalized for r in records] == ["ruff"]
    prefix = install(records, tmp_path / "env", package_cache)
    result = run([prefix / "bin" / "ruff", "--version"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ruff {PINS['ruff'].version}"


def test_conflicting_pins_are_unsatisfiable(channel_dir: Path, tmp_path: Path) -> None:
    """needs-x1 and needs-x2 pin different majors of dep-x."""
    records = solve(channel_dir.as_uri(), ["needs-x1"], tmp_path / "solve")
    assert str(_names(records)["dep-x"].version) == "1.0"
    with pytest.raises(SolverError):
        solve(channel_dir.as_uri(), ["needs-x1", "needs-x2"], tmp_path / "solve")


@pytest.fixture(scope="module")
def tools_prefix(channel_dir: Path, package_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Install the synthetic shell-script packages into a prefix."""
    specs = ["hello-tool", "exit-with", "not-executable", "activate-demo", "needs-x2"]
    records = solve(channel_dir.as_uri(), specs, tmp_path_factory.mktemp("solve-tools"))
    assert set(_names(records)) == {*specs, "dep-x"}
    prefix = tmp_path_factory.mktemp("envs") / "tools-env"
    return install(records, prefix, package_cache).resolve()


def test_hello_tool(tools_prefix: Path) -> None:
    """The hello-tool package provides the differently named command hello."""
    result = run([tools_prefix / "bin" / "hello", "a", "b c", "-n"])
    assert result.returncode == 0
    assert result.stdout == "hello from hello-tool a b c -n\n"
    assert run([tools_prefix / "bin" / "hello"]).stdout == "hello from hello-tool\n"


def test_needs_x2_uses_dep_x_2(tools_prefix: Path) -> None:
    """dep-x 2.0 was installed for needs-x2."""
    assert run([tools_prefix / "bin" / "dep-x-version"]).stdout == "2.0\n"


def test_exit_with(tools_prefix: Path, tmp_path: Path) -> None:
    """exit-with covers exit codes, signals, env, argv, cwd and stdin."""
    exe = tools_prefix / "bin" / "exit-with"
    assert run([exe, "0"]).returncode == 0
    assert run([exe, "3"]).returncode == 3
    assert run([exe, "255"]).returncode == 255
    assert run([exe, "signal", "TERM"]).returncode == -signal.SIGTERM
    assert run([exe, "signal", "SIGKILL"]).returncode == -signal.SIGKILL
    assert run([exe, "nonsense"]).returncode == 2
    os.environ["CE_TEST_EXIT_WITH"] = "some value"
    try:
        assert run([exe, "env", "CE_TEST_EXIT_WITH"]).stdout == "some value\n"
    finally:
        del os.environ["CE_TEST_EXIT_WITH"]
    assert run([exe, "env", "CE_TEST_EXIT_WITH"]).returncode == 1
    args = ["a b", "", "*", "$HOME", "-n", "é"]
    assert run([exe, "argv", *args]).stdout == "".join(f"{a}\n" for a in args)
    assert Path(run([exe, "cwd"], cwd=tmp_path).stdout.strip()) == tmp_path
    assert run([exe, "stdin"], stdin_text="line 1\nline 2\n").stdout == "line 1\nline 2\n"


def test_not_executable_keeps_mode_0644(tools_prefix: Path) -> None:
    """The installer keeps the 0644 mode: running it fails (126 in a shell)."""
    path = tools_prefix / "bin" / "not-executable"
    assert stat.S_IMODE(path.stat().st_mode) & 0o111 == 0
    result = subprocess.run(["/bin/sh", "-c", f"'{path}'"], capture_output=True, check=False)
    assert result.returncode == 126


def test_activate_demo(tools_prefix: Path) -> None:
    """activate-demo ships an activate.d script and a command to show its effect."""
    script = tools_prefix / "etc" / "conda" / "activate.d" / "activate-demo.sh"
    assert "export CE_ACTIVATE_DEMO=activated" in script.read_text()
    show = tools_prefix / "bin" / "show-activate-demo"
    assert run([show]).stdout == "CE_ACTIVATE_DEMO=unset\n"
    result = subprocess.run(
        ["/bin/sh", "-c", f". '{script}' && '{show}'"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout == "CE_ACTIVATE_DEMO=activated\n"


# --------------------------------------------------------------------------
# http, other platforms
# --------------------------------------------------------------------------


def test_serve_channel_over_http(channel_dir: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Solving and downloading work over the http server, which stays quiet."""
    with btc.serve_channel(channel_dir) as url:
        assert url.startswith("http://127.0.0.1:")
        records = solve(url, ["python-dateutil", "hello-tool"], tmp_path / "solve")
        assert set(_names(records)) == {"python-dateutil", "six", "python", "hello-tool"}
        assert all(r.url.startswith(url) for r in records)
        hello = [r for r in records if r.name.normalized == "hello-tool"]
        prefix = install(hello, tmp_path / "env", tmp_path / "pkgs")
    assert run([prefix / "bin" / "hello"]).stdout == "hello from hello-tool\n"
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize(
    ("platform", "virtual_packages"),
    [
        ("osx-arm64", [("__osx", "14.0"), ("__unix", "0")]),
        ("win-64", [("__win", "0")]),
    ],
)
def test_other_platforms_solve(
    channel_dir: Path,
    tmp_path: Path,
    platform: str,
    virtual_packages: list[tuple[str, str]],
) -> None:
    """multi-tool and a placeholder python exist for osx-arm64 and win-64."""
    records = solve(
        channel_dir.as_uri(),
        ["multi-tool", "python", "python-dateutil"],
        tmp_path / "solve",
        platforms=[platform, "noarch"],
        virtual_packages=[_virtual(name, version) for name, version in virtual_packages],
    )
    by_name = _names(records)
    assert set(by_name) == {"multi-tool", "python", "python-dateutil", "six"}
    assert by_name["multi-tool"].subdir == platform
    assert by_name["python"].subdir == platform
    assert str(by_name["python"].version) == PYTHON_VERSION
    assert by_name["six"].subdir == "noarch"
