"""A script's PyPI dependencies with uv: installed after the conda packages, or locked.

uv is a dependency of ce (its wheel ships the binary), so a script with PyPI
requirements works in any environment ce builds, whatever the conda packages
include: pip would have to be in the environment itself.  A requirement that
a conda package already satisfies is left alone, because uv sees that
package's ``.dist-info`` and installs nothing for it.  uv's own settings
(``UV_INDEX_URL``, ``UV_FIND_LINKS``, ``UV_CACHE_DIR``..., the user's and the
system's ``uv.toml``) apply unchanged; a project's, where ce happens to run, do not.

Locking (:func:`lock_pypi`) resolves the requirements with ``uv pip compile``
for one locked platform and its locked python, the distributions that the
locked conda packages provide standing in as fixed, dependency-free
overrides, and records the exact archive and sha256 of everything else.
Installing from a lock (:func:`install_locked_pypi`) fetches exactly those
archives, verifies them, and has uv install them with ``--no-deps
--require-hashes --no-index``: no resolution, no index.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

from ce.errors import InstallError, SolveError
from ce.lockfiles import canonical_pypi_name, python_distribution_name
from ce.records import LockedPackage, PypiPackage
from ce.relocate import links_leaving, relocate

#: uv's ``--python-platform`` for a conda subdir other than this machine's (its default glibc/macOS baseline).
UV_PLATFORMS = {
    "linux-64": "x86_64-unknown-linux-gnu",
    "linux-aarch64": "aarch64-unknown-linux-gnu",
    "linux-ppc64le": "powerpc64le-unknown-linux-gnu",
    "linux-s390x": "s390x-unknown-linux-gnu",
    "osx-64": "x86_64-apple-darwin",
    "osx-arm64": "aarch64-apple-darwin",
    "win-64": "x86_64-pc-windows-msvc",
    "win-arm64": "aarch64-pc-windows-msvc",
}


def find_uv() -> str:
    """Path of the uv binary: the one ce depends on, else one on PATH."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        import shutil

        found = shutil.which("uv")
        if found is None:
            raise InstallError("PyPI dependencies need uv: install it with 'pip install uv'") from None
        return found


def python_in(prefix: str) -> str:
    """The environment's Python interpreter."""
    if os.name == "nt":  # pragma: no cover - Windows
        return os.path.join(prefix, "python.exe")
    return os.path.join(prefix, "bin", "python")


def install_pypi(
    prefix: str,
    final_prefix: str,
    requirements: Sequence[str],
    environ: Mapping[str, str],
    offline: bool = False,
    quiet: bool = True,
) -> None:
    """Install *requirements* into the environment being built at *prefix*.

    The environment is renamed to *final_prefix* afterwards, so the launchers
    uv writes are pointed there.
    """
    python = _environment_python(prefix)
    arguments = ["--offline", *requirements] if offline else list(requirements)
    what = f"cannot install PyPI dependencies {', '.join(requirements)}"
    _uv_pip_install(python, arguments, prefix, final_prefix, environ, quiet, what)
    relocate(prefix, final_prefix)  # uv's launchers point at the build directory


def _environment_python(prefix: str) -> str:
    """The python of the environment being built at *prefix*, which PyPI packages need."""
    python = python_in(prefix)
    if not os.path.exists(python):
        raise InstallError("PyPI dependencies need python in the environment: add it to [tool.conda] dependencies")
    return python


def _uv_environ(environ: Mapping[str, str]) -> dict[str, str]:
    env = {key: value for key, value in environ.items() if key not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")  # a resolution for another python never downloads one
    return env


#: Where uv runs.  uv takes project settings (``uv.toml``, ``[tool.uv]``, a workspace's) from
#: the folder it runs in or the nearest parent with a ``pyproject.toml``: in the user's working
#: folder (or under a shared ``$TMPDIR``) a cloned repository's or another user's settings would
#: choose the index, the wheels and the target of a script's PyPI packages.  The file system's
#: root holds only root's; the user's and the system's uv settings and ``UV_*`` still apply.
UV_WORKING_DIRECTORY = os.path.abspath(os.sep)


def _failure(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    return "; ".join(lines[-3:]) or f"uv exited with {result.returncode}"


def _refuse_links_leaving(prefix: str, final_prefix: str, what: str) -> None:
    """Refuse to let uv write into *prefix* when a package's directory link there leads outside it.

    uv writes wherever a wheel's scheme says (``bin``, ``site-packages``,
    ``include``, data files anywhere under the prefix) and follows links.
    """
    for path in links_leaving(prefix, final_prefix):
        if os.path.isdir(os.path.join(prefix, path)):
            raise InstallError(
                f"{what}: {path[:200]!r} in the environment is a link to a directory outside it, "
                "which a PyPI package could be written through"
            )


def _uv_pip_install(
    python: str,
    arguments: Sequence[str],
    prefix: str,
    final_prefix: str,
    environ: Mapping[str, str],
    quiet: bool,
    what: str,
) -> None:
    """``uv pip install ARGUMENTS`` into *python*'s environment, being built at *prefix*.

    *what* failed starts the error's line.
    """
    _refuse_links_leaving(prefix, final_prefix, what)
    command = [find_uv(), "pip", "install", "--python", python, "--no-progress", *arguments]
    if quiet:
        command.append("--quiet")
    env = _uv_environ(environ)
    # uv locks an environment that is not a virtualenv with $TMPDIR/uv-<hash>.lock and never
    # removes it: give uv a temporary directory inside the environment being built (a new one:
    # a package's file or link of the same name is never reused).
    scratch = tempfile.mkdtemp(prefix=".ce-uv-tmp-", dir=prefix)
    env["TMPDIR"] = scratch
    try:
        result = subprocess.run(command, env=env, cwd=UV_WORKING_DIRECTORY, capture_output=True, text=True, check=False)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if result.returncode != 0:
        raise InstallError(f"{what}: {_failure(result)}")


def install_locked_pypi(
    prefix: str,
    final_prefix: str,
    packages: Sequence[PypiPackage],
    environ: Mapping[str, str],
    offline: bool = False,
    quiet: bool = True,
) -> None:
    """Install exactly the locked *packages*: verified archives, no dependencies, no index."""
    from ce.envs.fetch import fetch_pypi_verified

    if not packages:
        return
    python = _environment_python(prefix)
    archives = fetch_pypi_verified(packages, offline)
    lines = [
        f"{package.name} @ {archive.as_uri()} --hash=sha256:{package.sha256}"
        for package, archive in zip(packages, archives, strict=True)
    ]
    scratch = tempfile.mkdtemp(prefix=".ce-pypi-", dir=prefix)
    try:
        requirements = os.path.join(scratch, "requirements.txt")
        with open(requirements, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        arguments = ["--no-deps", "--require-hashes", "--no-index", "--offline", "-r", requirements]
        names = ", ".join(str(package) for package in packages)
        _uv_pip_install(
            python, arguments, prefix, final_prefix, environ, quiet, f"cannot install the locked PyPI packages {names}"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    relocate(prefix, final_prefix)


def _stub_wheel(directory: str, name: str, version: str) -> str:
    """A metadata-only wheel standing for a distribution that a conda package provides."""
    stem = f"{name.replace('-', '_')}-{version}"
    path = os.path.join(directory, f"{stem}-py3-none-any.whl")
    info = f"{stem}.dist-info"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n")
        archive.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: ce\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(f"{info}/RECORD", "")
    return path


def conda_provided(requirements: Sequence[str], conda_packages: Sequence[LockedPackage]) -> dict[str, tuple[str, str]]:
    """``{pypi name: (conda name, version)}`` of the distributions the conda packages provide.

    A distribution whose version a direct requirement does not accept is left
    out, so it is resolved from the index instead (as ``uv pip install``
    would replace it).
    """
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import InvalidVersion, Version

    direct: dict[str, list[Any]] = {}
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as error:
            raise SolveError(f"invalid PyPI requirement {text!r}: {error}") from None
        direct.setdefault(canonical_pypi_name(requirement.name), []).append(requirement.specifier)
    provided: dict[str, tuple[str, str]] = {}
    for package in conda_packages:
        name = python_distribution_name(package)
        if name is None:
            continue
        try:
            version = Version(package.version)
        except InvalidVersion:
            continue
        if all(specifier.contains(version, prereleases=True) for specifier in direct.get(name, [])):
            provided[name] = (package.name, str(version))
    return provided


def _locked_python(conda_packages: Sequence[LockedPackage], platform: str) -> str:
    for package in conda_packages:
        if package.name == "python":
            return package.version
    raise SolveError(f"for {platform}: PyPI dependencies need python in the environment")


def _pick_archive(entry: dict[str, Any], platform: str) -> tuple[str, str | None]:
    """(url, sha256) of the one archive uv chose for a pylock.toml package."""
    name = entry.get("name", "?")
    candidates = list(entry.get("wheels") or [])
    if not candidates and isinstance(entry.get("sdist"), dict):
        candidates = [entry["sdist"]]
    if not candidates and isinstance(entry.get("archive"), dict):
        candidates = [entry["archive"]]
    if len(candidates) != 1 or not isinstance(candidates[0], dict) or not candidates[0].get("url"):
        kind = "no archive URL" if not candidates else f"{len(candidates)} archives"
        raise SolveError(f"for {platform}: cannot lock PyPI package {name}: uv's resolution has {kind}")
    hashes = candidates[0].get("hashes") or {}
    return str(candidates[0]["url"]), hashes.get("sha256") if isinstance(hashes, dict) else None


def lock_pypi(
    requirements: Sequence[str],
    conda_packages: Sequence[LockedPackage],
    platform: str,
    this_platform: bool,
    environ: Mapping[str, str],
    offline: bool = False,
) -> tuple[PypiPackage, ...]:
    """Resolve *requirements* for *platform* against its locked conda packages: the PyPI half of a lock.

    Each package's archive is fetched once and verified (it is installed from
    the same store later) so its ``Requires-Dist`` and ``Requires-Python``
    are recorded too.
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    python_version = _locked_python(conda_packages, platform)
    provided = conda_provided(requirements, conda_packages)
    with tempfile.TemporaryDirectory(prefix="ce-pypi-lock-") as scratch:
        requirements_in = os.path.join(scratch, "requirements.in")
        with open(requirements_in, "w", encoding="utf-8") as handle:
            handle.write("\n".join(requirements) + "\n")
        overrides = os.path.join(scratch, "overrides.txt")
        stubs = os.path.join(scratch, "provided")
        os.mkdir(stubs)
        with open(overrides, "w", encoding="utf-8") as handle:
            for name, (_conda_name, version) in sorted(provided.items()):
                handle.write(f"{name} @ {Path(_stub_wheel(stubs, name, version)).as_uri()}\n")
        output = os.path.join(scratch, "pylock.toml")
        command = [find_uv(), "pip", "compile", requirements_in, "--overrides", overrides, "-o", output]
        command += ["--python", sys.executable, "--python-version", python_version, "--no-header", "--quiet"]
        if not this_platform:
            if platform not in UV_PLATFORMS:
                raise SolveError(f"cannot lock PyPI dependencies for {platform}: uv has no target for it")
            command += ["--python-platform", UV_PLATFORMS[platform]]
        if offline:
            command.append("--offline")
        result = subprocess.run(
            command, env=_uv_environ(environ), cwd=UV_WORKING_DIRECTORY, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise SolveError(f"cannot lock PyPI dependencies {', '.join(requirements)}: {_failure(result)}")
        with open(output, "rb") as handle:
            document = tomllib.load(handle)
    locked = []
    for entry in document.get("packages") or []:
        if not isinstance(entry, dict) or canonical_pypi_name(str(entry.get("name", ""))) in provided:
            continue
        url, sha256 = _pick_archive(entry, platform)
        if not sha256:
            raise SolveError(f"for {platform}: the index gave no sha256 for {entry.get('name')} ({url})")
        locked.append(PypiPackage(name=str(entry["name"]), version=str(entry.get("version")), url=url, sha256=sha256))
    return tuple(_with_metadata(locked, offline))


def _with_metadata(packages: list[PypiPackage], offline: bool) -> list[PypiPackage]:
    """*packages* with ``requires_dist``/``requires_python`` read from their (verified) wheels."""
    from dataclasses import replace

    from ce.envs.fetch import fetch_pypi_verified

    try:
        archives = fetch_pypi_verified(packages, offline)
    except InstallError as error:
        raise SolveError(str(error)) from None
    result = []
    for package, archive in zip(packages, archives, strict=True):
        metadata = _wheel_metadata(archive)
        if metadata is None:
            result.append(package)
            continue
        requires_python = metadata.get("Requires-Python")
        result.append(
            replace(
                package,
                requires_dist=tuple(metadata.get_all("Requires-Dist") or ()),
                requires_python=str(requires_python) if requires_python else None,
            )
        )
    return result


def _wheel_metadata(archive: Path) -> Any:
    """The ``METADATA`` headers of a wheel, or ``None`` for other archives."""
    if not archive.name.endswith(".whl"):
        return None
    try:
        with zipfile.ZipFile(archive) as wheel:
            names = [name for name in wheel.namelist() if name.count("/") == 1 and name.endswith(".dist-info/METADATA")]
            if not names:
                return None
            text = wheel.read(names[0]).decode("utf-8", errors="replace")
    except (OSError, zipfile.BadZipFile):
        return None
    return HeaderParser().parsestr(text)
