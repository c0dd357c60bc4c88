"""Build an offline, real, local conda channel for ce's tests and demo.

No conda channel is reachable from the build and CI machines, so this module
makes one from real artifacts:

* ``python`` (linux-64): this machine's own interpreter (``sys.base_prefix``
  of the running python, or of ``--python PATH``), trimmed, with its RPATHs
  made relative by ``patchelf`` so the installed copy loads its own
  ``libpython``. A Linux distribution's interpreter (Debian's and Ubuntu's
  ``/usr/bin/python3``) is made to behave as upstream CPython does, as conda's
  python does: it reads ``lib/pythonX.Y/site-packages`` (see
  :func:`undistro_python`);
* ``ruff`` (linux-64): the binary from the pinned PyPI wheel;
* ``six``, ``python-dateutil``, ``pyflakes``: ``noarch: python`` packages made
  from the pinned PyPI wheels (see ``test-channel-wheels.txt``);
* tiny synthetic ``noarch: generic`` shell-script packages, and tiny packages
  for ``osx-arm64`` and ``win-64`` so that multi-platform solves work.

Every package is written in the ``.conda`` format with fixed dates and
``repodata.json`` is written directly, so a rebuild is byte-identical. The
channel is cached under a key hashing every input of the build and is moved
into place with an atomic rename, so parallel processes are safe.

Usable as a module (:func:`ensure_wheels`, :func:`build_channel`,
:func:`serve_channel`) and as a script::

    python scripts/build_test_channel.py [--cache DIR] [--python PATH]

which prints the path of the channel directory.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import email.parser
import errno
import functools
import hashlib
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zstandard
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from email.message import Message

SCRIPT_DIR = Path(__file__).resolve().parent
REPO_ROOT = SCRIPT_DIR.parent
WHEELS_FILE = SCRIPT_DIR / "test-channel-wheels.txt"
DEFAULT_CACHE = REPO_ROOT / ".cache" / "test-channel"
CACHE_ENV_VAR = "CE_TEST_CACHE"

SUBDIRS = ("linux-64", "noarch", "osx-arm64", "win-64")
FIXED_TIMESTAMP_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z, for every record
FIXED_MTIME = FIXED_TIMESTAMP_MS // 1000
FIXED_ZIP_DATE = (2024, 1, 1, 0, 0, 0)
ZSTD_LEVEL = 3

_SUBDIR_ARCH_PLATFORM = {
    "linux-64": ("x86_64", "linux"),
    "osx-arm64": ("arm64", "osx"),
    "win-64": ("x86_64", "win"),
}

# What is kept of the interpreter's bin/: python, python3, python3.11,
# python3.11-config, pydoc3.11, 2to3-3.11, ... (not the pip-installed scripts).
_PY_BIN_RE = re.compile(r"(python|pydoc|2to3)(-?\d+(\.\d+)?)?(-config)?")
# Directories walked to find them (beside include/pythonX.Y and lib/pythonX.Y).
_PY_WALKED_DIRS = frozenset({"bin", "include", "lib", "lib/pkgconfig", "share", "share/man", "share/man/man1"})
# Directories dropped anywhere in the standard library.
_PY_EXCLUDED_DIRS = frozenset({"test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo", "ensurepip"})
# Extension modules dropped from lib-dynload (Tk, and the test-only modules).
_PY_EXCLUDED_DYNLOAD = ("_tkinter", "_test", "_ctypes_test", "_xxtestfuzz")


# --------------------------------------------------------------------------
# Pinned wheels
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class WheelPin:
    """One line of ``test-channel-wheels.txt``."""

    group: str  # "conda" (made into a conda package) or "pypi" (download only)
    name: str
    version: str
    sha256: str | None = None
    platform: str | None = None

    @property
    def requirement(self) -> str:
        """Return the pip requirement string, ``name==version``."""
        return f"{self.name}=={self.version}"


def read_wheel_pins(path: Path = WHEELS_FILE) -> list[WheelPin]:
    """Parse the pinned-wheels file (see its header for the format)."""
    pins: list[WheelPin] = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        group, requirement, *options = line.split()
        name, sep, version = requirement.partition("==")
        if group not in ("conda", "pypi") or not sep:
            msg = f"{path}:{lineno}: expected '<conda|pypi> <name>==<version> ...'"
            raise ValueError(msg)
        opts = dict(opt.split("=", 1) for opt in options)
        unknown = set(opts) - {"sha256", "platform"}
        if unknown:
            msg = f"{path}:{lineno}: unknown options {sorted(unknown)}"
            raise ValueError(msg)
        pins.append(WheelPin(group, name, version, opts.get("sha256"), opts.get("platform")))
    return pins


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(functools.partial(fh.read, 1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _wheel_matches(path: Path, pin: WheelPin) -> bool:
    """Whether the wheel file name is the pinned distribution, version, platform."""
    parts = path.name[: -len(".whl")].split("-")
    if len(parts) < 5:
        return False
    dist, version, platform_tags = parts[0], parts[1], parts[-1].split(".")
    return (
        canonicalize_name(dist) == canonicalize_name(pin.name)
        and version == pin.version
        and (pin.platform is None or pin.platform in platform_tags)
    )


def find_wheel(directory: Path, pin: WheelPin, *, check_hash: bool = True) -> Path | None:
    """Return the wheel of ``pin`` in ``directory`` (hash-checked), or None."""
    if not directory.is_dir():
        return None
    for path in sorted(directory.glob("*.whl")):
        if _wheel_matches(path, pin) and (not check_hash or pin.sha256 is None or _sha256_file(path) == pin.sha256):
            return path
    return None


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (no-op where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _pip_download(pins: Sequence[WheelPin], target: Path) -> None:
    """Download ``pins`` with pip into ``target``, verifying their hashes."""
    platforms = {pin.platform for pin in pins}
    assert len(platforms) == 1, "one pip call per wheel platform"
    (wheel_platform,) = platforms
    tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=target))
    try:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            "--quiet",
            "--only-binary",
            ":all:",
            "--no-deps",
            "--dest",
            str(tmp),
        ]
        if wheel_platform is not None:
            cmd += ["--platform", wheel_platform]
        cmd += [pin.requirement for pin in pins]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        for pin in pins:
            wheel = find_wheel(tmp, pin, check_hash=False)
            if wheel is None:
                msg = f"pip did not download a wheel for {pin.requirement}"
                raise RuntimeError(msg)
            actual = _sha256_file(wheel)
            if pin.sha256 is not None and actual != pin.sha256:
                msg = f"{wheel.name}: sha256 {actual} does not match the pin {pin.sha256} in {WHEELS_FILE.name}"
                raise RuntimeError(msg)
            os.replace(wheel, target / wheel.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_wheels(dest: Path) -> Path:
    """Download the pinned wheels into ``dest`` unless they are already there.

    Wheels of the ``conda`` group go to ``dest``, those of the ``pypi`` group
    to ``dest / "pypi"`` (a ``--find-links`` directory for offline installs).
    Uses ``sys.executable -m pip download --only-binary :all: --no-deps`` and
    checks the pinned sha256. Safe to call from parallel processes.
    """
    dest = Path(dest).absolute()
    pins = read_wheel_pins()
    with _file_lock(dest / ".lock"):
        missing: dict[tuple[Path, str | None], list[WheelPin]] = {}
        for pin in pins:
            target = dest if pin.group == "conda" else dest / "pypi"
            if find_wheel(target, pin) is None:
                missing.setdefault((target, pin.platform), []).append(pin)
        for (target, _platform), group in missing.items():
            target.mkdir(parents=True, exist_ok=True)
            _pip_download(group, target)
    return dest


# --------------------------------------------------------------------------
# Package model and the .conda writer
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PkgFile:
    """A file (or symlink, if ``symlink`` is set) in a package."""

    path: str
    data: bytes = b""
    mode: int = 0o644
    mtime: int = FIXED_MTIME
    symlink: str | None = None
    prefix_placeholder: str | None = None


@dataclass
class Package:
    """A conda package to write: metadata plus its files."""

    name: str
    version: str
    build: str
    subdir: str
    files: list[PkgFile]
    depends: list[str] = field(default_factory=list)
    constrains: list[str] = field(default_factory=list)
    build_number: int = 0
    license: str = "MIT"
    noarch: str | None = None
    entry_points: list[str] | None = None

    @property
    def stem(self) -> str:
        """Return ``name-version-build``, the archive name without extension."""
        return f"{self.name}-{self.version}-{self.build}"

    def index_json(self) -> dict[str, Any]:
        """Return the content of ``info/index.json``."""
        index: dict[str, Any] = {
            "build": self.build,
            "build_number": self.build_number,
            "constrains": list(self.constrains),
            "depends": list(self.depends),
            "license": self.license,
            "name": self.name,
            "subdir": self.subdir,
            "timestamp": FIXED_TIMESTAMP_MS,
            "version": self.version,
        }
        if self.noarch is not None:
            index["noarch"] = self.noarch
        else:
            index["arch"], index["platform"] = _SUBDIR_ARCH_PLATFORM[self.subdir]
        return index

    def paths_json(self) -> dict[str, Any]:
        """Return the content of ``info/paths.json`` (paths_version 1)."""
        by_path = {f.path: f for f in self.files}
        entries: list[dict[str, Any]] = []
        for f in sorted(self.files, key=lambda f: f.path):
            entry: dict[str, Any] = {"_path": f.path}
            content: bytes | None = f.data
            if f.symlink is not None:
                entry["path_type"] = "softlink"
                target: PkgFile | None = f
                for _ in range(40):  # follow links to links, but not loops
                    if target is None or target.symlink is None:
                        break
                    target = by_path.get(_resolve_link(target.path, target.symlink))
                content = target.data if target and target.symlink is None else None
            else:
                entry["path_type"] = "hardlink"
            if content is not None:
                entry["sha256"] = hashlib.sha256(content).hexdigest()
                entry["size_in_bytes"] = len(content)
            if f.prefix_placeholder is not None:
                entry["file_mode"] = "text"
                entry["prefix_placeholder"] = f.prefix_placeholder
            entries.append(entry)
        return {"paths": entries, "paths_version": 1}

    def info_files(self) -> list[PkgFile]:
        """Return the files of the ``info/`` directory."""
        files = [
            PkgFile("info/index.json", _json_bytes(self.index_json())),
            PkgFile("info/paths.json", _json_bytes(self.paths_json())),
        ]
        if self.noarch == "python":
            link = {
                "noarch": {"type": "python", "entry_points": self.entry_points or []},
                "package_metadata_version": 1,
            }
            files.append(PkgFile("info/link.json", _json_bytes(link)))
        return files


def _resolve_link(path: str, target: str) -> str:
    """Return the package-relative path a relative symlink at ``path`` targets."""
    return os.path.normpath(os.path.join(os.path.dirname(path), target))


def _json_bytes(obj: object) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()


def _tar_bytes(files: Iterable[PkgFile]) -> bytes:
    """Tar ``files`` deterministically (root-owned, given mtimes and modes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for f in sorted(files, key=lambda f: f.path):
            info = tarfile.TarInfo(f.path)
            info.mtime = f.mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if f.symlink is not None:
                info.type = tarfile.SYMTYPE
                info.linkname = f.symlink
                info.mode = 0o777
                tar.addfile(info)
            else:
                info.size = len(f.data)
                info.mode = f.mode
                tar.addfile(info, io.BytesIO(f.data))
    return buf.getvalue()


def write_conda(package: Package, subdir_dir: Path) -> Path:
    """Write ``package`` as ``<stem>.conda`` into ``subdir_dir``; return the path."""
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    members = [
        ("metadata.json", json.dumps({"conda_pkg_format_version": 2}).encode()),
        (f"pkg-{package.stem}.tar.zst", compressor.compress(_tar_bytes(package.files))),
        (
            f"info-{package.stem}.tar.zst",
            compressor.compress(_tar_bytes(package.info_files())),
        ),
    ]
    path = subdir_dir / f"{package.stem}.conda"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3  # unix, whatever the build platform
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return path


def repodata_record(package: Package, archive: Path) -> dict[str, Any]:
    """Return the ``packages.conda`` entry of ``package`` written at ``archive``.

    That is ``info/index.json`` plus the archive's md5, sha256 and size, and a
    fixed ``indexed_timestamp`` (as ``rattler-index`` adds; the solver's
    ``exclude_newer`` prefers it to ``timestamp``).
    """
    data = archive.read_bytes()
    record = package.index_json()
    record.update(
        indexed_timestamp=FIXED_TIMESTAMP_MS,
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )
    return record


def write_repodata(channel: Path, records: dict[str, dict[str, dict[str, Any]]]) -> None:
    """Write ``<subdir>/repodata.json`` for every subdir in :data:`SUBDIRS`."""
    for subdir in SUBDIRS:
        (channel / subdir).mkdir(parents=True, exist_ok=True)
        repodata = {
            "info": {"subdir": subdir},
            "packages": {},
            "packages.conda": records.get(subdir, {}),
            "removed": [],
            "repodata_version": 1,
        }
        (channel / subdir / "repodata.json").write_bytes(_json_bytes(repodata))


# --------------------------------------------------------------------------
# The packages
# --------------------------------------------------------------------------


def _python_stdlib_kept(inner: list[str], *, is_dir: bool) -> bool:
    """Whether ``lib/pythonX.Y/<inner>`` is kept."""
    if not inner:
        return True
    if inner[0] == "site-packages":  # only the empty directory's README
        return inner == ["site-packages"] if is_dir else inner == ["site-packages", "README.txt"]
    dirs = inner if is_dir else inner[:-1]
    if any(part in _PY_EXCLUDED_DIRS for part in dirs):
        return False
    if is_dir:
        return True
    name = inner[-1]
    if name.endswith(".a") or (name.endswith(".pyc") and ".opt-" in name):
        return False
    return not (inner[0] == "lib-dynload" and name.startswith(_PY_EXCLUDED_DYNLOAD))


def _python_kept(rel: str, pyver: str, *, is_dir: bool) -> bool:
    """Whether ``rel`` (relative to the interpreter's prefix) is packaged.

    Only the interpreter's own files are walked and kept: ``bin/python*`` and
    friends, ``include/pythonX.Y``, ``lib/libpython*`` (not ``.a``),
    ``lib/pythonX.Y`` (trimmed), and its pkg-config files and man pages.
    """
    parts = rel.split("/")
    if parts[:2] == ["lib", pyver]:
        return _python_stdlib_kept(parts[2:], is_dir=is_dir)
    if parts[:2] == ["include", pyver]:
        return True
    if is_dir:
        return rel in _PY_WALKED_DIRS
    if len(parts) == 2 and parts[0] == "bin":
        return _PY_BIN_RE.fullmatch(parts[1]) is not None
    if len(parts) == 2 and parts[0] == "lib":
        return parts[1].startswith("libpython") and not parts[1].endswith(".a")
    return rel.startswith(("lib/pkgconfig/python", "share/man/man1/python"))


def _python_rpath(rel: str, pyver: str) -> str | None:
    """Return the relative RPATH to set on the ELF file ``rel``, if any."""
    if rel.startswith("bin/"):
        return "$ORIGIN/../lib"
    if rel.startswith("lib/libpython"):
        return "$ORIGIN"
    if rel.startswith(f"lib/{pyver}/lib-dynload/") and rel.endswith(".so"):
        return "$ORIGIN/../.."
    return None


@dataclass(frozen=True)
class Interpreter:
    """What the channel builder needs to know about the python it packages."""

    executable: str
    base_prefix: str
    version: str  # platform.python_version(), e.g. "3.11.2"
    major: int
    minor: int
    sys_version: str  # sys.version, part of the cache key
    abiflags: str
    cache_tag: str  # sys.implementation.cache_tag, e.g. "cpython-311"
    shared: bool  # built with a shared libpython (Py_ENABLE_SHARED)

    @property
    def pyver(self) -> str:
        """Return ``pythonX.Y`` (``pythonX.Yt`` for a free-threaded build)."""
        return f"python{self.major}.{self.minor}{'t' if 't' in self.abiflags else ''}"

    @property
    def build(self) -> str:
        """Return the build string of the python package, ``0_cpXY``."""
        return f"0_cp{self.major}{self.minor}"


_INTERPRETER_PROBE = """
import json, platform, sys, sysconfig
print(json.dumps({
    "executable": sys.executable,
    "base_prefix": sys.base_prefix,
    "version": platform.python_version(),
    "major": sys.version_info[0],
    "minor": sys.version_info[1],
    "sys_version": sys.version,
    "abiflags": getattr(sys, "abiflags", ""),
    "cache_tag": sys.implementation.cache_tag,
    "shared": bool(sysconfig.get_config_var("Py_ENABLE_SHARED")),
}))
"""


@functools.cache
def interpreter(python: str | None = None) -> Interpreter:
    """Describe ``python`` (a path or command; default: the running interpreter)."""
    if python is None:
        namespace: dict[str, Any] = {}
        with contextlib.redirect_stdout(io.StringIO()) as out:
            exec(_INTERPRETER_PROBE, namespace)
        data = json.loads(out.getvalue())
    else:
        result = subprocess.run(
            [python, "-I", "-c", _INTERPRETER_PROBE], check=True, capture_output=True, text=True, timeout=60
        )
        data = json.loads(result.stdout)
    info = Interpreter(**data)
    if (info.major, info.minor) < (3, 10) or info.cache_tag is None or not info.cache_tag.startswith("cpython-"):
        msg = f"{python or sys.executable}: the test channel needs CPython >= 3.10, not {info.sys_version!r}"
        raise RuntimeError(msg)
    return info


def patchelf_version() -> str:
    """Return ``patchelf --version`` (fails early if patchelf is missing)."""
    result = subprocess.run(["patchelf", "--version"], check=True, capture_output=True, text=True)
    return result.stdout.strip()


def _python_records_prefix(rel: str, pyver: str) -> bool:
    """Whether ``rel`` is a text file that records the install prefix.

    Only these get a ``prefix_placeholder``: scripts in ``bin/`` (their
    ``#!`` line), pkg-config files, ``_sysconfigdata*.py`` and the ``config-*``
    directory. Any other file merely mentioning the prefix is left alone: for
    a distribution's interpreter the prefix is ``/usr``, and rewriting every
    ``/usr`` would corrupt ``posixpath.defpath``, ``tempfile``'s candidates and
    many more.
    """
    parts = rel.split("/")
    if parts[0] == "bin" or rel.startswith("lib/pkgconfig/"):
        return True
    if parts[:2] != ["lib", pyver] or len(parts) < 3:
        return False
    return parts[2].startswith("_sysconfigdata") or parts[2].startswith("config-")


def python_package(workdir: Path, python: str | None = None) -> Package:
    """Package the interpreter ``python`` (default: the running one), trimmed.

    The files come from its ``sys.base_prefix``. ELF files get relative
    RPATHs (patchelf on copies under ``workdir``), text files recording the
    original prefix get a ``prefix_placeholder``, and every file keeps its
    original mtime so the shipped ``.pyc`` stay valid. A distribution-patched
    interpreter is made to behave as upstream CPython (:func:`undistro_python`).
    """
    info = interpreter(python)
    base = Path(info.base_prefix)
    prefix_bytes = str(base).encode()
    pyver = info.pyver
    files: dict[str, PkgFile] = {}
    symlinks: dict[str, str] = {}
    to_patch: dict[str, list[str]] = {}

    for dirpath, dirnames, filenames in os.walk(base):
        rel_dir = os.path.relpath(dirpath, base)
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        for dirname in list(dirnames):
            rel = rel_dir + dirname
            if os.path.islink(os.path.join(dirpath, dirname)):
                dirnames.remove(dirname)
                filenames.append(dirname)
            elif not _python_kept(rel, pyver, is_dir=True):
                dirnames.remove(dirname)
        for filename in filenames:
            rel = rel_dir + filename
            full = os.path.join(dirpath, filename)
            if not _python_kept(rel, pyver, is_dir=False):
                continue
            if os.path.islink(full):
                symlinks[rel] = os.readlink(full)
                continue
            st = os.stat(full)
            data = Path(full).read_bytes()
            rpath = _python_rpath(rel, pyver) if data[:4] == b"\x7fELF" else None
            if rpath is not None:
                copy = workdir / rel
                copy.parent.mkdir(parents=True, exist_ok=True)
                copy.write_bytes(data)
                to_patch.setdefault(rpath, []).append(rel)
            placeholder = None
            if b"\0" not in data and prefix_bytes in data and _python_records_prefix(rel, pyver):
                placeholder = str(base)
            files[rel] = PkgFile(rel, data, st.st_mode & 0o777, int(st.st_mtime), None, placeholder)

    for rpath, rels in sorted(to_patch.items()):
        subprocess.run(
            ["patchelf", "--set-rpath", rpath, *(str(workdir / r) for r in sorted(rels))],
            check=True,
        )
        for rel in rels:
            old = files[rel]
            data = (workdir / rel).read_bytes()
            files[rel] = PkgFile(rel, data, old.mode, old.mtime)

    # Keep the relative links whose target is part of the package (links to
    # links too, hence the loop).
    pending = {rel: target for rel, target in symlinks.items() if not os.path.isabs(target)}
    while True:
        ready = [rel for rel, target in pending.items() if _resolve_link(rel, target) in files]
        if not ready:
            break
        for rel in ready:
            st = os.lstat(base / rel)
            files[rel] = PkgFile(rel, mode=0o777, mtime=int(st.st_mtime), symlink=pending.pop(rel))

    undistro_python(files, info)
    return Package(
        name="python",
        version=info.version,
        build=info.build,
        subdir="linux-64",
        files=list(files.values()),
        depends=["__glibc >=2.17"],
        license="Python-2.0",
    )


# The packaged distribution interpreter's lib/pythonX.Y/sitecustomize.py
# (site.py itself is frozen into the interpreter: a changed site.py is ignored).
_SITECUSTOMIZE = """\
\"\"\"Added by ce's test-channel builder (scripts/build_test_channel.py).

This interpreter was packaged from a Linux distribution's python, whose site
module (frozen into the executable) reads dist-packages directories. As a
conda package it reads <prefix>/lib/pythonX.Y/site-packages, as upstream
CPython and conda's python do: add those directories (their .pth files too)
and answer site.getsitepackages() as upstream does.
\"\"\"

import os
import site
import sys


def getsitepackages(prefixes=None):
    \"\"\"Return the global site-packages directories (upstream CPython's layout).\"\"\"
    sitepackages = []
    seen = set()
    if prefixes is None:
        prefixes = site.PREFIXES
    abi_thread = "t" if "t" in getattr(sys, "abiflags", "") else ""
    version = "python%d.%d%s" % (sys.version_info[0], sys.version_info[1], abi_thread)
    for prefix in prefixes:
        if not prefix or prefix in seen:
            continue
        seen.add(prefix)
        libdirs = [sys.platlibdir]
        if sys.platlibdir != "lib":
            libdirs.append("lib")
        for libdir in libdirs:
            sitepackages.append(os.path.join(prefix, libdir, version, "site-packages"))
    return sitepackages


site.getsitepackages = getsitepackages
for _directory in getsitepackages():
    if os.path.isdir(_directory):
        site.addsitedir(_directory)
del _directory
"""

# Appended to a distribution's sysconfig.py: installers (pip, uv) use the
# upstream 'posix_prefix' scheme, lib/pythonX.Y/site-packages, not /usr/local.
_SYSCONFIG_OVERRIDE = """

# Added by ce's test-channel builder: this interpreter came from a Linux
# distribution whose default install scheme is /usr/local/.../dist-packages;
# as a conda package it installs into its own prefix, as upstream CPython.
def _get_preferred_schemes():
    return {"prefix": "posix_prefix", "home": "posix_home", "user": "posix_user"}


# get_paths() and get_path() took get_default_scheme() as a default argument
# when they were defined.
get_paths.__defaults__ = (get_default_scheme(),) + get_paths.__defaults__[1:]
get_path.__defaults__ = (get_default_scheme(),) + get_path.__defaults__[1:]
"""

_SITE_PACKAGES_README = (
    b"This directory exists so that 3rd party packages can be installed\n"
    b"here.  Read the source for site.py for more details.\n"
)

_PYC_COMPILER = """
import importlib._bootstrap_external as bootstrap, json, sys
request = json.load(sys.stdin)
source = request["source"].encode("utf-8")
code = compile(source, request["path"], "exec", dont_inherit=True)
sys.stdout.buffer.write(bootstrap._code_to_timestamp_pyc(code, request["mtime"], len(source)))
"""


def _timestamp_pyc(info: Interpreter, source: bytes, path: str, mtime: int) -> bytes:
    """Compile ``source`` with ``info``'s interpreter into a timestamp ``.pyc``."""
    request = json.dumps({"source": source.decode("utf-8"), "path": path, "mtime": mtime})
    result = subprocess.run(
        [info.executable, "-I", "-c", _PYC_COMPILER],
        input=request.encode(),
        check=True,
        capture_output=True,
        timeout=60,
    )
    return result.stdout


def undistro_python(files: dict[str, PkgFile], info: Interpreter) -> list[str]:
    """Make a packaged distribution interpreter behave as upstream CPython; return what changed.

    conda's python reads ``<prefix>/lib/pythonX.Y/site-packages``, which is
    where noarch python packages are installed. Debian's and Ubuntu's
    ``/usr/bin/python3`` instead read ``.../dist-packages`` directories (a
    patched ``site.py``), install into ``/usr/local`` (a patched
    ``sysconfig.py``), refuse installers (``EXTERNALLY-MANAGED``, PEP 668)
    and have no ``bin/python``. Packaged as is, such an interpreter finds
    none of the environment's packages. So, in the package only, never in the
    original installation:

    * a ``sitecustomize`` module in the standard library adds upstream's
      site-packages directories (``.pth`` files included) and makes
      ``site.getsitepackages`` upstream's. ``site.py`` itself cannot be
      changed: CPython >= 3.11 runs the copy frozen into the executable.
      The distribution's own ``sitecustomize`` (Debian's is a link into
      ``/etc``) is not packaged;
    * ``sysconfig``'s preferred install scheme is ``posix_prefix``;
    * ``EXTERNALLY-MANAGED`` is left out, ``site-packages/`` and
      ``bin/python``, ``bin/python3`` are added where missing;
    * the ``.pyc`` of every changed module is compiled anew by the packaged
      interpreter itself, so startup does not recompile it.

    An upstream interpreter (pyenv, python.org, uv's) needs none of this and
    only has the missing pieces added.
    """
    pyver = info.pyver
    lib = f"lib/{pyver}"
    changes: list[str] = []

    def rewrite(rel: str, data: bytes) -> None:
        """Replace the module ``rel`` and its ``.pyc``."""
        old = files[rel]
        files[rel] = PkgFile(rel, data, old.mode, old.mtime)
        stem = rel.rsplit("/", 1)[1][: -len(".py")]
        pyc = f"{lib}/__pycache__/{stem}.{info.cache_tag}.pyc"
        files[pyc] = PkgFile(pyc, _timestamp_pyc(info, data, f"{info.base_prefix}/{rel}", old.mtime), 0o644, old.mtime)
        changes.append(rel)

    site = files.get(f"{lib}/site.py")
    if site is not None and b"dist-packages" in site.data:
        custom = f"{lib}/sitecustomize.py"
        files[custom] = PkgFile(custom, _SITECUSTOMIZE.encode())
        rewrite(custom, files[custom].data)
    sysconfig = files.get(f"{lib}/sysconfig.py")
    if sysconfig is not None and b"'posix_local'" in sysconfig.data:
        rewrite(sysconfig.path, sysconfig.data + _SYSCONFIG_OVERRIDE.encode())

    if files.pop(f"{lib}/EXTERNALLY-MANAGED", None) is not None:
        changes.append(f"{lib}/EXTERNALLY-MANAGED")
    readme = f"{lib}/site-packages/README.txt"
    if readme not in files:
        files[readme] = PkgFile(readme, _SITE_PACKAGES_README)
        changes.append(readme)
    versioned = f"python{info.major}.{info.minor}"
    if f"bin/{versioned}" in files:
        for name in ("python3", "python"):
            if f"bin/{name}" not in files:
                files[f"bin/{name}"] = PkgFile(f"bin/{name}", mode=0o777, symlink=versioned)
                changes.append(f"bin/{name}")
    return changes


def _conda_name(name: str) -> str:
    return str(canonicalize_name(name))


def _conda_version_spec(specifier: SpecifierSet) -> str:
    """Convert a PEP 440 specifier set to a conda version spec (``""``: any)."""
    parts = []
    for spec in sorted(specifier, key=str):
        operator = "==" if spec.operator == "===" else spec.operator
        parts.append(f"{operator}{spec.version}")
    return ",".join(parts)


def _wheel_metadata(archive: zipfile.ZipFile) -> tuple[str, Message]:
    """Return the ``.dist-info`` directory name and parsed METADATA of a wheel."""
    for name in archive.namelist():
        top, _, rest = name.partition("/")
        if top.endswith(".dist-info") and rest == "METADATA":
            text = archive.read(name).decode("utf-8")
            return top, email.parser.HeaderParser().parsestr(text)
    msg = f"{archive.filename}: no .dist-info/METADATA"
    raise ValueError(msg)


def _wheel_license(metadata: Message) -> str:
    return str(metadata.get("License-Expression") or metadata.get("License") or "")


def noarch_python_package(wheel: Path) -> Package:
    """Make a ``noarch: python`` package from a pure-Python wheel.

    Wheel files go under ``site-packages/``, ``.data/scripts`` under
    ``python-scripts/``; ``Requires-Dist`` (minus extras and markers that do
    not apply) and ``Requires-Python`` become ``depends``; console scripts
    become ``info/link.json`` entry points, for which the installer writes
    launchers.
    """
    with zipfile.ZipFile(wheel) as archive:
        dist_info, metadata = _wheel_metadata(archive)
        data_dir = dist_info[: -len(".dist-info")] + ".data"
        files: list[PkgFile] = []
        for name in sorted(archive.namelist()):
            if name.endswith("/"):
                continue
            info = archive.getinfo(name)
            mode = (info.external_attr >> 16) & 0o777 or 0o644
            top, _, rest = name.partition("/")
            if top == data_dir:
                kind, _, sub = rest.partition("/")
                if kind == "scripts":
                    dest, mode = f"python-scripts/{sub}", 0o755
                elif kind in ("purelib", "platlib"):
                    dest = f"site-packages/{sub}"
                elif kind == "data":
                    dest = sub
                else:  # headers: not needed for tests
                    continue
            else:
                dest = f"site-packages/{name}"
            files.append(PkgFile(dest, archive.read(name), mode))
        installer = f"site-packages/{dist_info}/INSTALLER"
        if all(f.path != installer for f in files):
            files.append(PkgFile(installer, b"conda\n"))
        entry_points: list[str] = []
        if f"{dist_info}/entry_points.txt" in archive.namelist():
            parser = configparser.ConfigParser(delimiters=("=",))
            parser.optionxform = str  # type: ignore[assignment,method-assign]
            parser.read_string(archive.read(f"{dist_info}/entry_points.txt").decode())
            if parser.has_section("console_scripts"):
                entry_points = [f"{key} = {value.strip()}" for key, value in parser.items("console_scripts")]

    python_spec = _conda_version_spec(SpecifierSet(metadata.get("Requires-Python", "")))
    depends = [f"python {python_spec}".strip()]
    for line in metadata.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        spec = _conda_version_spec(requirement.specifier)
        depends.append(f"{_conda_name(requirement.name)} {spec}".strip())

    return Package(
        name=_conda_name(metadata["Name"]),
        version=metadata["Version"],
        build="pyh_0",
        subdir="noarch",
        files=files,
        depends=sorted(depends),
        license=_wheel_license(metadata),
        noarch="python",
        entry_points=entry_points,
    )


def ruff_package(wheel: Path) -> Package:
    """``ruff`` for linux-64: the binary of the ruff wheel as ``bin/ruff``."""
    with zipfile.ZipFile(wheel) as archive:
        dist_info, metadata = _wheel_metadata(archive)
        binary = f"{dist_info[: -len('.dist-info')]}.data/scripts/ruff"
        data = archive.read(binary)
    return Package(
        name="ruff",
        version=metadata["Version"],
        build="0",
        subdir="linux-64",
        files=[PkgFile("bin/ruff", data, 0o755)],
        depends=["__glibc >=2.17"],
        license=_wheel_license(metadata),
    )


def _sh(path: str, body: str, mode: int = 0o755) -> PkgFile:
    """Make a ``#!/bin/sh`` script."""
    return PkgFile(path, ("#!/bin/sh\n" + body.strip("\n") + "\n").encode(), mode)


_EXIT_WITH = r"""
# exit-with: a test helper for process handling.
#   exit-with N            exit with status N
#   exit-with signal NAME  kill itself with signal NAME (TERM, KILL, INT, ...)
#   exit-with env NAME     print the value of environment variable NAME
#                          (exit 1 if it is not set)
#   exit-with argv ARG...  print each argument on its own line
#   exit-with cwd          print the working directory
#   exit-with stdin        copy stdin to stdout
case "${1-}" in
  signal)
    sig="${2:?usage: exit-with signal NAME}"
    kill -s "${sig#SIG}" $$
    exit 125 ;;
  env)
    exec printenv "${2:?usage: exit-with env NAME}" ;;
  argv)
    shift
    for arg in "$@"; do printf '%s\n' "$arg"; done ;;
  cwd)
    pwd ;;
  stdin)
    exec cat ;;
  ''|*[!0-9]*)
    echo "usage: exit-with N | signal NAME | env NAME | argv ARG... | cwd | stdin" >&2
    exit 2 ;;
  *)
    exit "$1" ;;
esac
"""


def _generic(name: str, files: list[PkgFile], version: str = "1.0", depends: Sequence[str] = ()) -> Package:
    """Make a ``noarch: generic`` package."""
    return Package(
        name=name,
        version=version,
        build="0",
        subdir="noarch",
        files=files,
        depends=list(depends),
        noarch="generic",
    )


def synthetic_packages(info: Interpreter | None = None) -> list[Package]:
    """Return the tiny hand-written packages (placeholder pythons matching ``info``)."""
    info = info or interpreter()
    packages = [
        # a package whose command name differs from its name
        _generic(
            "hello-tool",
            [
                _sh(
                    "bin/hello",
                    "printf '%s' 'hello from hello-tool'\n"
                    'for arg in "$@"; do printf \' %s\' "$arg"; done\n'
                    "printf '\\n'",
                )
            ],
        ),
        # conflicting pins: needs-x1 and needs-x2 cannot be installed together
        *(_generic("dep-x", [_sh("bin/dep-x-version", f"echo {v}")], version=v) for v in ("1.0", "2.0")),
        *(
            _generic(
                f"needs-x{major}",
                [
                    _sh(
                        f"bin/needs-x{major}",
                        f'echo "needs-x{major} uses dep-x $(dep-x-version)"',
                    )
                ],
                depends=[f"dep-x {major}.*"],
            )
            for major in (1, 2)
        ),
        _generic(
            "activate-demo",
            [
                PkgFile(
                    "etc/conda/activate.d/activate-demo.sh",
                    b"export CE_ACTIVATE_DEMO=activated\n",
                ),
                PkgFile(
                    "etc/conda/deactivate.d/activate-demo.sh",
                    b"unset CE_ACTIVATE_DEMO\n",
                ),
                _sh(
                    "bin/show-activate-demo",
                    'echo "CE_ACTIVATE_DEMO=${CE_ACTIVATE_DEMO:-unset}"',
                ),
            ],
        ),
        _generic("exit-with", [_sh("bin/exit-with", _EXIT_WITH)]),
        # a stand-in for conda-forge's bash: scripts with run-with = ["bash"]
        # look their interpreter up inside the environment
        _generic("bash", [_sh("bin/bash", 'CE_TEST_BASH_SHIM=1 exec /bin/bash "$@"')], version="5.2.0"),
        # mode 0644: running it must fail with exit status 126
        _generic(
            "not-executable",
            [_sh("bin/not-executable", 'echo "not-executable ran"', mode=0o644)],
        ),
    ]
    # One multi-tool per platform, and placeholder pythons (no interpreter) so
    # that multi-platform solves of python scripts work.
    python_version = info.version
    python_build = info.build
    note = b"placeholder python package of ce's test channel: no interpreter\n"
    for subdir in ("linux-64", "osx-arm64"):
        tool = _sh("bin/multi-tool", f'echo "multi-tool for {subdir}" "$@"')
        packages.append(Package("multi-tool", "1.0", "0", subdir, [tool]))
    tool = PkgFile("Library/bin/multi-tool.bat", b"@echo multi-tool for win-64 %*\r\n")
    packages += [
        Package("multi-tool", "1.0", "0", "win-64", [tool]),
        Package(
            name="python",
            version=python_version,
            build=python_build,
            subdir="osx-arm64",
            files=[PkgFile("share/ce-test-channel/python-placeholder.txt", note)],
            depends=["__osx >=11.0"],
            license="Python-2.0",
        ),
        Package(
            name="python",
            version=python_version,
            build=python_build,
            subdir="win-64",
            files=[PkgFile("Library/share/ce-test-channel/python-placeholder.txt", note)],
            license="Python-2.0",
        ),
    ]
    return packages


# --------------------------------------------------------------------------
# Channel build, cache, serving
# --------------------------------------------------------------------------


def _conda_wheels(wheels: Path) -> dict[str, Path]:
    """Find the wheels of the ``conda`` group in ``wheels``, by pinned name."""
    found: dict[str, Path] = {}
    for pin in read_wheel_pins():
        if pin.group != "conda":
            continue
        wheel = find_wheel(wheels, pin, check_hash=False)
        if wheel is None:
            msg = f"no wheel for {pin.requirement} in {wheels} (see ensure_wheels)"
            raise FileNotFoundError(msg)
        found[pin.name] = wheel
    return found


def cache_key(wheel_files: Iterable[Path], python: str | None = None) -> str:
    """Return 16 hex digits of a sha256 over every input of the channel build."""
    digest = hashlib.sha256()

    def add(label: str, value: str | bytes) -> None:
        data = value.encode() if isinstance(value, str) else value
        digest.update(f"{label}\0{len(data)}\0".encode() + data)

    add("builder", Path(__file__).read_bytes())
    for wheel in sorted(wheel_files, key=lambda p: p.name):
        add("wheel", f"{wheel.name} {_sha256_file(wheel)}")
    info = interpreter(python)
    add("sys.version", info.sys_version)
    add("sys.base_prefix", info.base_prefix)
    add("patchelf", patchelf_version())
    add("zstandard", f"{zstandard.__version__} level {ZSTD_LEVEL}")
    return digest.hexdigest()[:16]


def _build_into(channel: Path, wheels: dict[str, Path], workdir: Path, python: str | None = None) -> None:
    """Write every package and the repodata of a fresh channel at ``channel``."""
    packages = [
        python_package(workdir, python),
        ruff_package(wheels["ruff"]),
        *(noarch_python_package(wheels[name]) for name in ("six", "python-dateutil", "pyflakes")),
        *synthetic_packages(interpreter(python)),
    ]
    records: dict[str, dict[str, dict[str, Any]]] = {}
    for subdir in SUBDIRS:
        (channel / subdir).mkdir(parents=True, exist_ok=True)
    for package in packages:
        archive = write_conda(package, channel / package.subdir)
        subdir_records = records.setdefault(package.subdir, {})
        if archive.name in subdir_records:
            msg = f"duplicate package {archive.name}"
            raise ValueError(msg)
        subdir_records[archive.name] = repodata_record(package, archive)
    write_repodata(channel, records)


def build_channel(cache_root: Path, wheels: Path | None = None, python: str | None = None) -> Path:
    """Return the path of the complete local channel, building it if needed.

    The channel lives at ``cache_root/<key>/channel`` where ``<key>`` hashes
    every input of the build (:func:`cache_key`). It is built in a temporary
    directory beside it and renamed into place, so parallel processes are
    safe: the first rename wins, the others use its result. ``wheels`` is a
    directory holding the pinned wheels; by default they are downloaded into
    ``cache_root/wheels`` by :func:`ensure_wheels`. ``python`` is the
    interpreter packaged as the channel's ``python`` (default: the running
    one); it needs no package of its own, the builder runs it only to ask.
    """
    cache_root = Path(cache_root).absolute()
    if wheels is None:
        wheels = ensure_wheels(cache_root / "wheels")
    wheel_files = _conda_wheels(Path(wheels))
    key = cache_key(wheel_files.values(), python)
    final = cache_root / key
    channel = final / "channel"
    if channel.is_dir():
        return channel

    cache_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", suffix=".tmp", dir=cache_root))
    try:
        tmp.chmod(0o755)
        workdir = tmp / "work"
        _build_into(tmp / "channel", wheel_files, workdir, python)
        shutil.rmtree(workdir, ignore_errors=True)
        try:
            os.rename(tmp, final)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY) and channel.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)  # another process won
                return channel
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return channel


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static file handler that does not log requests to stderr."""

    def log_message(self, format: str, *args: Any) -> None:
        """Drop the request log line."""


class _QuietServer(http.server.ThreadingHTTPServer):
    """Threading HTTP server that ignores clients hanging up."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore dropped connections; report anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve_handler(
    handler: Callable[..., http.server.BaseHTTPRequestHandler],
    name: str = "ce-test-server",
    server_class: type[http.server.ThreadingHTTPServer] = _QuietServer,
) -> Iterator[str]:
    """Run *handler* on a free port of 127.0.0.1 in a thread (the one loopback server of the tests).

    Yields the base URL, ``http://127.0.0.1:<port>``; the server is shut
    down when the context exits.
    """
    server = server_class(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextlib.contextmanager
def serve_channel(path: Path) -> Iterator[str]:
    """Serve the directory ``path`` over HTTP on 127.0.0.1 in a thread (see :func:`serve_handler`)."""
    with serve_handler(functools.partial(_QuietHandler, directory=str(path)), "ce-test-channel") as url:
        yield url


def default_cache() -> Path:
    """Return ``$CE_TEST_CACHE`` if set, else ``<repo>/.cache/test-channel``."""
    env = os.environ.get(CACHE_ENV_VAR)
    return Path(env) if env else DEFAULT_CACHE


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point: build (or find) the channel, print its path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help=f"cache directory (default: ${CACHE_ENV_VAR} or {DEFAULT_CACHE}); wheels are kept in <cache>/wheels",
    )
    parser.add_argument(
        "--python",
        default=None,
        help="the interpreter to package as the channel's python (default: the one running this script)",
    )
    args = parser.parse_args(argv)
    cache = args.cache if args.cache is not None else default_cache()
    print(build_channel(cache, python=args.python))
    return 0


if __name__ == "__main__":
    sys.exit(main())
