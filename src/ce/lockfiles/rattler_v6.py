"""``rattler-lock-v6``: the lock format pixi writes, version 6, which conda-lockfiles reads.

py-rattler only writes version 7, so this writer is ce's own.  Fields that
can be derived from a package's URL (name, version, build, subdir, channel)
are omitted, as rattler does, except ``subdir`` and ``channel`` of
packages whose URL is not http(s) (``file://`` channels): rattler cannot
derive those and refuses the entry without them. The reader derives whatever an entry omits, so
the sparse entries conda-exec 0.4.0 writes load too.  A script's PyPI
distributions are ``pypi:`` entries (url, name, version, sha256,
requires_dist, requires_python) referenced per platform after the conda
ones, in the shape pixi writes.
"""

from __future__ import annotations

from typing import Any, TypeVar

from ce.lockfiles import (
    LockData,
    LockError,
    PatternSidecars,
    canonical_pypi_name,
    check_listed_once,
    checked_hash,
    make_package,
    noarch_from,
    url_fields,
)
from ce.lockfiles._yaml import dump, load
from ce.records import LockedPackage, PypiPackage
from ce.urls import encoded_credentials, masked

VERSION = 6
ENVIRONMENT = "default"


def _entry(package: LockedPackage) -> dict[str, Any]:
    derived = url_fields(package.url)
    entry: dict[str, Any] = {"conda": package.url}
    if package.name != derived.name:
        entry["name"] = package.name
    if package.version != derived.version:
        entry["version"] = package.version
    if package.build != derived.build:
        entry["build"] = package.build
    entry["build_number"] = package.build_number
    # rattler derives subdir and channel from http(s) URLs only: write them for file:// and others
    explicit = not package.url.startswith(("http://", "https://"))
    if explicit or package.subdir != derived.subdir:
        entry["subdir"] = package.subdir
    if package.noarch and package.noarch != noarch_from(package.subdir, package.build):
        entry["noarch"] = package.noarch
    if package.sha256:
        entry["sha256"] = package.sha256
    if package.md5:
        entry["md5"] = package.md5
    if package.depends:
        entry["depends"] = list(package.depends)
    if package.constrains:
        entry["constrains"] = list(package.constrains)
    if package.channel and (explicit or package.channel.rstrip("/") != (derived.channel or "").rstrip("/")):
        entry["channel"] = package.channel
    if package.license:
        entry["license"] = package.license
    if package.size is not None:
        entry["size"] = package.size
    if package.timestamp is not None:
        entry["timestamp"] = package.timestamp
    if package.python_site_packages_path:
        entry["python_site_packages_path"] = package.python_site_packages_path
    return entry


def _pypi_entry(package: PypiPackage) -> dict[str, Any]:
    """A ``pypi:`` package entry as pixi writes it (url, name, version, hash, requires)."""
    entry: dict[str, Any] = {"pypi": package.url, "name": package.name, "version": package.version}
    if package.sha256:
        entry["sha256"] = package.sha256
    if package.requires_dist:
        entry["requires_dist"] = list(package.requires_dist)
    if package.requires_python:
        entry["requires_python"] = package.requires_python
    return entry


def _pypi_package(entry: dict[str, Any], index: int) -> PypiPackage:
    where = f"packages[{index}]"
    url = entry.get("pypi")
    name = entry.get("name")
    if not isinstance(url, str) or not url or not isinstance(name, str) or entry.get("version") is None:
        raise LockError(f"{where}: a 'pypi' entry needs its URL, name and version")
    return PypiPackage(
        name=name,
        version=str(entry["version"]),
        url=url,
        sha256=_hash(entry, "sha256", where),
        requires_dist=_strings(entry.get("requires_dist"), f"{where}.requires_dist"),
        requires_python=_optional(entry, "requires_python", str, where),
    )


def _strings(value: object, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise LockError(f"{what} must be a list of strings")
    return tuple(value)


def _optional(entry: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = entry.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise LockError(f"{where}: {key} has the wrong type")
    return value


def _hash(entry: dict[str, Any], key: str, where: str) -> str | None:
    """A hash field, checked (:func:`ce.lockfiles.checked_hash`)."""
    return checked_hash(entry.get(key), key, where)


#: rattler's rule: a timestamp above the last second of year 9999 is in milliseconds, any other is in seconds
LAST_SECOND_OF_9999 = 253_402_300_799


def _milliseconds(timestamp: int | None) -> int | None:
    """A lock entry's timestamp in milliseconds, read as rattler reads it."""
    if timestamp is None or timestamp > LAST_SECOND_OF_9999:
        return timestamp
    return timestamp * 1000


def _package(entry: object, index: int) -> LockedPackage:
    where = f"packages[{index}]"
    if not isinstance(entry, dict):
        raise LockError(f"{where} is not a mapping")
    url = entry.get("conda")
    if not isinstance(url, str) or not url:
        raise LockError(f"{where} has no 'conda' URL")
    noarch = entry.get("noarch")
    if isinstance(noarch, bool):  # rattler writes `noarch: false`? treat as none
        noarch = None
    return make_package(
        url,
        name=_optional(entry, "name", str, where),
        version=None if entry.get("version") is None else str(entry["version"]),
        build=None if entry.get("build") is None else str(entry["build"]),
        build_number=_optional(entry, "build_number", int, where),
        subdir=_optional(entry, "subdir", str, where),
        channel=_optional(entry, "channel", str, where),
        noarch=noarch if isinstance(noarch, str) else None,
        sha256=_hash(entry, "sha256", where),
        md5=_hash(entry, "md5", where),
        depends=_strings(entry.get("depends"), f"{where}.depends"),
        constrains=_strings(entry.get("constrains"), f"{where}.constrains"),
        license=_optional(entry, "license", str, where),
        size=_optional(entry, "size", int, where),
        timestamp=_milliseconds(_optional(entry, "timestamp", int, where)),
        python_site_packages_path=_optional(entry, "python_site_packages_path", str, where),
    )


P = TypeVar("P", LockedPackage, PypiPackage)


def _one_match(entries: dict[str, list[tuple[int, P]]], url: str, selector: dict[str, str], platform: object) -> P:
    """The one ``packages:`` entry a reference to *url* (narrowed by *selector*) names; else a :class:`LockError`.

    Two entries that both match would let either be installed, so the
    reference is refused naming both, as a name listed twice is.
    """
    found = [
        (index, package)
        for index, package in entries.get(url, [])
        if all(str(getattr(package, key)) == value for key, value in selector.items())
    ]
    if not found:
        raise LockError(f"{masked(url)} is referenced for {platform} but missing from 'packages'")
    if len(found) > 1:
        raise LockError(
            f"the reference to {masked(url)} for {platform} matches two entries, packages[{found[0][0]}] and "
            f"packages[{found[1][0]}]; a lock lists each package once"
        )
    return found[0][1]


class RattlerLockV6(PatternSidecars):
    """The ``rattler-lock-v6`` format backend (default)."""

    multi_platform = True
    #: PyPI distributions are locked too.
    carries_pypi = True

    def detect(self, text: str) -> bool:
        """Whether *text* looks like this format."""
        return any(line.strip() == f"version: {VERSION}" for line in text.splitlines()[:5])

    def dumps(self, lock: LockData) -> str:
        """Version-6 YAML for *lock*: conda packages, then ``pypi:`` ones, each sorted by name, then URL."""
        entries: dict[str, dict[str, Any]] = {}
        pypi_entries: dict[str, dict[str, Any]] = {}
        references: dict[str, list[dict[str, str]]] = {}
        for platform in lock.platforms:
            packages = sorted(lock.packages[platform], key=lambda package: (package.name, package.url))
            references[platform] = [{"conda": package.url} for package in packages]
            for package in packages:
                entries.setdefault(package.url, _entry(package))
            pypi = sorted(lock.pypi_for(platform), key=lambda package: (package.name, package.url))
            references[platform].extend({"pypi": package.url} for package in pypi)
            for pypi_package in pypi:
                pypi_entries.setdefault(pypi_package.url, _pypi_entry(pypi_package))
        document = {
            "version": VERSION,
            "environments": {
                ENVIRONMENT: {
                    "channels": [{"url": channel.rstrip("/") + "/"} for channel in lock.channels],
                    "packages": references,
                }
            },
            "packages": [
                *sorted(entries.values(), key=lambda entry: (url_fields(entry["conda"]).name or "", entry["conda"])),
                *sorted(pypi_entries.values(), key=lambda entry: (entry["name"], entry["pypi"])),
            ],
        }
        return dump(document)

    def loads(self, text: str) -> LockData:
        """Lock data from version-6 text."""
        data = load(text, "rattler lock")
        version = data.get("version")
        if version != VERSION:
            raise LockError(f"unsupported rattler lock version {version!r}: ce reads version {VERSION}")
        environments = data.get("environments")
        if not isinstance(environments, dict) or not isinstance(environments.get(ENVIRONMENT), dict):
            raise LockError("the lock has no 'default' environment")
        environment = environments[ENVIRONMENT]
        channels = tuple(
            str(channel.get("url", "")).rstrip("/")
            for channel in environment.get("channels") or []
            if isinstance(channel, dict) and channel.get("url")
        )
        raw_packages = data.get("packages")
        if not isinstance(raw_packages, list):
            raise LockError("the lock has no 'packages' list")
        # every entry by URL: a URL may have several (rattler's selectors tell them apart by
        # name, version, build and subdir), and a reference that matches two is refused
        by_url: dict[str, list[tuple[int, LockedPackage]]] = {}
        pypi_by_url: dict[str, list[tuple[int, PypiPackage]]] = {}
        for index, entry in enumerate(raw_packages):
            if isinstance(entry, dict) and "pypi" in entry:
                pypi_package = _pypi_package(entry, index)
                pypi_by_url.setdefault(pypi_package.url, []).append((index, pypi_package))
            else:
                package = _package(entry, index)
                by_url.setdefault(package.url, []).append((index, package))
        platforms = environment.get("packages")
        if not isinstance(platforms, dict):
            raise LockError("the 'default' environment has no 'packages' by platform")
        locked: dict[str, tuple[LockedPackage, ...]] = {}
        locked_pypi: dict[str, tuple[PypiPackage, ...]] = {}
        for platform, refs in platforms.items():
            if not isinstance(refs, list):
                raise LockError(f"packages for {platform} must be a list")
            selected: list[LockedPackage] = []
            selected_pypi: list[PypiPackage] = []
            for ref in refs:
                if isinstance(ref, dict) and "pypi" in ref:
                    selected_pypi.append(_one_match(pypi_by_url, str(ref["pypi"]), {}, platform))
                    continue
                if not isinstance(ref, dict) or not isinstance(ref.get("conda"), str):
                    raise LockError(f"a package reference for {platform} has no 'conda' URL")
                url = ref["conda"]
                selector = {key: str(ref[key]) for key in ("name", "version", "build", "subdir") if key in ref}
                selected.append(_one_match(by_url, encoded_credentials(url), selector, platform))
            check_listed_once(str(platform), ((p.name.lower(), p.url) for p in selected))
            check_listed_once(str(platform), ((canonical_pypi_name(p.name), p.url) for p in selected_pypi), "PyPI ")
            locked[str(platform)] = tuple(selected)
            if selected_pypi:
                locked_pypi[str(platform)] = tuple(selected_pypi)
        return LockData(channels, locked, locked_pypi)
