"""Script lock data: the model, the input digest, and fields derived from package URLs.

The three built-in formats (``rattler-lock-v6``, ``conda-lock``, ``explicit``)
live beside this module and are registered through the
``ce_lockfile_formats`` hook; finding and writing a script's locks is :mod:`ce.script.lockfile_io`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import unquote, urlsplit

from ce.backends.builtin import sidecar_names
from ce.errors import CeError
from ce.platforms import KNOWN_SUBDIRS
from ce.records import LockedPackage, PypiPackage
from ce.urls import encoded_credentials, masked, without_credentials

#: The first line of every lock ce (and conda-exec) writes.
DIGEST_PREFIX = "# conda-exec-lock-input-sha256: "
PACKAGE_EXTENSIONS = (".conda", ".tar.bz2")


class LockError(CeError):
    """Lock data is missing, stale, malformed or does not match the packages."""


class PatternSidecars:
    """Sidecar names from the patterns the backend table gives a built-in format."""

    def __init__(self, sidecar_patterns: tuple[str, ...] = ()) -> None:
        self.sidecar_patterns = sidecar_patterns

    def sidecar_names(self, script_name: str, platform: str) -> list[str]:
        """The sidecar file names for script *script_name* (and *platform*), the one written first."""
        return sidecar_names(self.sidecar_patterns, script_name, platform)


@dataclass(frozen=True)
class LockData:
    """Locked packages for one or more platforms, and the channels they came from.

    *pypi* holds, per platform, the PyPI distributions installed after the
    conda packages (a platform without an entry has none).
    """

    channels: tuple[str, ...]
    packages: Mapping[str, tuple[LockedPackage, ...]] = field(default_factory=dict)
    pypi: Mapping[str, tuple[PypiPackage, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # every format checks while it reads, naming its entries; this catches any other source (plugins)
        for platform, packages in self.packages.items():
            check_listed_once(platform, ((p.name.lower(), p.url) for p in packages))
        for platform, distributions in self.pypi.items():
            check_listed_once(platform, ((canonical_pypi_name(p.name), p.url) for p in distributions), "PyPI ")

    @property
    def platforms(self) -> tuple[str, ...]:
        """The platforms locked, sorted."""
        return tuple(sorted(self.packages))

    def only(self, platforms: Iterable[str]) -> LockData:
        """This lock restricted to *platforms*."""
        wanted = set(platforms)
        return LockData(
            self.channels,
            {p: pkgs for p, pkgs in self.packages.items() if p in wanted},
            {p: pkgs for p, pkgs in self.pypi.items() if p in wanted},
        )

    def without_credentials(self) -> LockData:
        """This lock with ``user:password@`` removed from every URL (what a lock file may hold)."""
        return LockData(
            tuple(without_credentials(channel) for channel in self.channels),
            {
                platform: tuple(
                    replace(p, url=without_credentials(p.url), channel=without_credentials(p.channel)) for p in pkgs
                )
                for platform, pkgs in self.packages.items()
            },
            {
                platform: tuple(replace(p, url=without_credentials(p.url)) for p in pkgs)
                for platform, pkgs in self.pypi.items()
            },
        )

    def pypi_for(self, platform: str) -> tuple[PypiPackage, ...]:
        """The PyPI distributions locked for *platform* (none when it has no entry)."""
        return tuple(self.pypi.get(platform, ()))


def input_digest(
    cli_channels: Sequence[str],
    conda_channels: Sequence[str],
    conda_dependencies: Sequence[str],
    pypi_dependencies: Sequence[str],
    requires_python: str | None,
    with_specs: Sequence[str],
) -> str:
    """SHA-256 of a script's dependency input, exactly as conda-exec 0.4.0 computes it.

    So a lock either tool writes is fresh for the other.
    """
    payload = {
        "channels": list(cli_channels),
        "metadata": {
            "conda_channels": list(conda_channels),
            "conda_dependencies": sorted(conda_dependencies),
            "pypi_dependencies": sorted(pypi_dependencies),
            "requires_python": requires_python,
        },
        "with_specs": sorted(with_specs),
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def with_header(digest: str, body: str) -> str:
    """Lock text: the digest line, then the format's own text."""
    return f"{DIGEST_PREFIX}{digest}\n{body}"


def read_header(text: str) -> str | None:
    """The input digest in the first line of lock text, if any."""
    first = text.split("\n", 1)[0].strip()
    if first.startswith(DIGEST_PREFIX.strip()):
        digest = first[len(DIGEST_PREFIX.strip()) :].strip()
        if len(digest) == 64 and all(char in "0123456789abcdef" for char in digest):
            return digest
    return None


@dataclass(frozen=True)
class UrlFields:
    """What a package URL says about the package."""

    file_name: str
    name: str | None
    version: str | None
    build: str | None
    subdir: str | None
    channel: str | None


def split_archive_name(file_name: str) -> tuple[str, str, str] | None:
    """``name-version-build.conda`` -> (name, version, build), or ``None``."""
    for extension in PACKAGE_EXTENSIONS:
        if file_name.endswith(extension):
            stem = file_name[: -len(extension)]
            parts = stem.rsplit("-", 2)
            if len(parts) == 3 and all(parts):
                return parts[0], parts[1], parts[2]
    return None


def url_fields(url: str) -> UrlFields:
    """Fields derivable from a package URL (as rattler-lock derives them)."""
    parts = urlsplit(without_credentials(url))  # an unencoded "#" or "?" in a password ends no path
    segments = unquote(parts.path).split("/")
    file_name = segments[-1] if segments else ""
    archive = split_archive_name(file_name)
    subdir = segments[-2] if len(segments) >= 2 and segments[-2] in KNOWN_SUBDIRS else None
    channel = None
    if archive is not None and subdir is not None and parts.scheme in ("file", "http", "https"):
        channel = url[: url.rstrip("/").rfind("/" + subdir + "/")]
    name, version, build = archive if archive else (None, None, None)
    return UrlFields(file_name, name, version, build, subdir, channel)


def build_number_from_build(build: str) -> int | None:
    """The trailing number of a build string (``py_0`` -> 0, ``h1a2b_3`` -> 3)."""
    digits = ""
    for char in reversed(build):
        if not char.isdigit():
            break
        digits = char + digits
    return int(digits) if digits else None


def noarch_from(subdir: str, build: str) -> str | None:
    """rattler-lock's guess: noarch packages with ``py`` in the build are ``python``."""
    if subdir != "noarch":
        return None
    return "python" if "py" in build else "generic"


#: The package hashes a lock may record, and the length of each as hex.
HASH_LENGTHS = {"sha256": 64, "md5": 32}
_HEX = frozenset("0123456789abcdefABCDEF")


def checked_hash(value: object, kind: str, where: str) -> str | None:
    """*value* as a ``sha256`` or ``md5`` hex digest (lower case), or ``None`` when absent.

    The one validator every lock format uses: anything else (a number, a list,
    non-hex text, the wrong length) is a :class:`LockError` naming *where*,
    raised while the lock is read, before anything is downloaded.  YAML reads an
    unquoted all-digit digest as a number; one with exactly the right number of
    digits is taken back as text.
    """
    if value is None:
        return None
    length = HASH_LENGTHS[kind]
    if isinstance(value, int) and not isinstance(value, bool) and len(str(value)) == length:
        value = str(value)
    if not isinstance(value, str) or len(value) != length or not _HEX.issuperset(value):
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise LockError(f"{where}: malformed hash {masked(shown)}: not a {length}-character hex {kind} digest")
    return value.lower()


def make_package(
    url: str,
    *,
    name: str | None = None,
    version: str | None = None,
    build: str | None = None,
    build_number: int | None = None,
    subdir: str | None = None,
    channel: str | None = None,
    noarch: str | None = None,
    **fields: object,
) -> LockedPackage:
    """A :class:`LockedPackage` from lock entry fields, deriving what is missing from the URL.

    ``sha256`` and ``md5`` in *fields* are checked with :func:`checked_hash`.
    """
    url = encoded_credentials(url)  # "user:p#ss@" as typed reads as the URL it means
    for kind in HASH_LENGTHS:
        if kind in fields:
            fields[kind] = checked_hash(fields[kind], kind, f"lock entry {masked(url)!r}")
    derived = url_fields(url)
    name = name or derived.name
    version = version or derived.version
    build = build if build is not None else derived.build
    subdir = subdir or derived.subdir
    if not (name and version and build is not None and subdir):
        raise LockError(
            f"lock entry {masked(url)!r}: name, version, build or subdir missing and not derivable from the URL"
        )
    if build_number is None:
        build_number = build_number_from_build(build) or 0
    if noarch is None:
        noarch = noarch_from(subdir, build)
    return LockedPackage(
        name=name,
        version=str(version),
        build=str(build),
        build_number=int(build_number),
        subdir=subdir,
        url=url,
        channel=channel or derived.channel or "",
        noarch=noarch,
        **fields,  # type: ignore[arg-type]
    )


def check_listed_once(platform: str, entries: Iterable[tuple[str, str]], kind: str = "") -> None:
    """Refuse a lock that lists one package name twice for *platform*: a :class:`LockError` naming both entries.

    *entries* are (name, where) pairs, *where* saying which entry it is
    (``packages[3] (https://...)``, ``line 7 (https://...)``); names compare
    as given, so PyPI callers pass :func:`canonical_pypi_name`.  Reading
    either entry silently would let an added line replace a locked package.
    *kind* (``"PyPI "``) prefixes the name in the message.
    """
    seen: dict[str, str] = {}
    for name, where in entries:
        first = seen.get(name)
        if first is None:
            seen[name] = where
        else:
            raise LockError(
                f"the lock lists {kind}package {name!r} twice for {platform}: {masked(first)} and {masked(where)}; "
                "a lock lists each package once per platform"
            )


def install_order(packages: Sequence[LockedPackage]) -> list[LockedPackage]:
    """*packages* with every dependency before its dependents (stable otherwise)."""
    by_name = {package.name: package for package in packages}
    ordered: list[LockedPackage] = []
    state: dict[str, int] = {}  # 1: visiting, 2: done

    def visit(package: LockedPackage) -> None:
        if state.get(package.name) == 2 or state.get(package.name) == 1:
            return  # done, or a dependency cycle: keep the order we have
        state[package.name] = 1
        for dependency in package.depends:
            dependency_name = dependency.split()[0].split("[")[0]
            if dependency_name in by_name:
                visit(by_name[dependency_name])
        state[package.name] = 2
        ordered.append(package)

    for package in sorted(packages, key=lambda item: item.name):
        visit(package)
    return ordered


def content_digest(packages: Sequence[LockedPackage], channels: Sequence[str]) -> str:
    """A digest of what an environment installed from a lock contains (its cache key).

    URLs count without credentials, as a lock file holds them.
    """
    lines = [*(without_credentials(channel) for channel in channels), ""]
    urls = sorted((without_credentials(p.url), p) for p in packages)
    lines.extend(f"{url} {p.sha256 or ''} {p.md5 or ''}" for url, p in urls)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def canonical_pypi_name(name: str) -> str:
    """A distribution name normalized as PEP 503 does (``Python_Dateutil`` -> ``python-dateutil``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def python_distribution_name(package: LockedPackage) -> str | None:
    """The PyPI distribution a conda package provides, by ce's rule, or ``None``.

    A conda package that is ``noarch: python`` or depends on ``python`` (or
    ``python_abi``) provides the distribution of the same normalized name:
    conda-forge names its Python packages after PyPI.  The rule is what
    ``--lock`` uses to leave a PyPI requirement to conda.
    """
    if package.name in ("python", "python_abi", "pip"):
        return None
    depends_on_python = any(
        dependency.split()[0] in ("python", "python_abi") for dependency in package.depends if dependency.strip()
    )
    if package.noarch == "python" or depends_on_python:
        return canonical_pypi_name(package.name)
    return None


def unlocked_requirements(requirements: Sequence[str], data: LockData, platform: str) -> list[str]:
    """The PyPI *requirements* whose distribution neither *data*'s PyPI nor its conda packages provide."""
    from packaging.requirements import InvalidRequirement, Requirement

    provided = {canonical_pypi_name(package.name) for package in data.pypi_for(platform)}
    provided.update(name for name in map(python_distribution_name, data.packages.get(platform, ())) if name is not None)
    missing = []
    for requirement in requirements:
        try:
            name = canonical_pypi_name(Requirement(requirement).name)
        except InvalidRequirement:
            name = canonical_pypi_name(requirement)
        if name not in provided:
            missing.append(requirement)
    return missing
