"""``conda-lock``: conda-lock's version 1 YAML (``conda-lock.yml``), accepted by conda-lock itself.

Conda packages are ``manager: conda`` entries; a script's PyPI
distributions are ``manager: pip`` entries (url, ``hash: {sha256}``, and the
``dependencies`` map conda-lock writes from their requirements).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ce.lockfiles import (
    LockData,
    LockError,
    PatternSidecars,
    canonical_pypi_name,
    check_listed_once,
    checked_hash,
    make_package,
)
from ce.lockfiles._yaml import dump, load
from ce.records import LockedPackage, PypiPackage
from ce.urls import masked


def _dependency_map(depends: tuple[str, ...]) -> dict[str, str]:
    """``["six >=1.5", "python"]`` -> ``{"six": ">=1.5", "python": "*"}`` (conda-lock's shape)."""
    mapping: dict[str, str] = {}
    for spec in depends:
        name, _, constraint = spec.strip().partition(" ")
        mapping[name] = constraint.strip() or "*"
    return mapping


def _depends_list(mapping: object, where: str) -> tuple[str, ...]:
    if mapping is None:
        return ()
    if not isinstance(mapping, dict):
        raise LockError(f"{where}: dependencies must be a mapping")
    return tuple(name if str(spec) in ("*", "") else f"{name} {spec}" for name, spec in mapping.items())


def _pip_dependencies(requires_dist: tuple[str, ...]) -> dict[str, str]:
    """``requires_dist`` as conda-lock's pip ``dependencies`` map (extras-only requirements left out)."""
    from packaging.requirements import InvalidRequirement, Requirement

    mapping: dict[str, str] = {}
    for text in requires_dist:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and "extra" in str(requirement.marker):
            continue
        mapping[requirement.name] = str(requirement.specifier) or "*"
    return mapping


def _pip_entry(package: PypiPackage, platform: str) -> dict[str, Any]:
    if not package.sha256:
        raise LockError(f"PyPI package {package}: no sha256 to lock")
    return {
        "name": package.name,
        "version": package.version,
        "manager": "pip",
        "platform": platform,
        "dependencies": _pip_dependencies(package.requires_dist),
        "url": package.url,
        "hash": {"sha256": package.sha256},
        "category": "main",
        "optional": False,
    }


def _pip_package(entry: dict[str, Any], where: str) -> PypiPackage:
    url, hashes, name = entry.get("url"), entry.get("hash") or {}, entry.get("name")
    if not isinstance(url, str) or not isinstance(name, str) or not isinstance(hashes, dict):
        raise LockError(f"{where} needs name, url and hash")
    sha256 = checked_hash(hashes.get("sha256"), "sha256", where)
    if sha256 is None:
        raise LockError(f"{where}: pip package {name} has no sha256")
    dependencies = entry.get("dependencies") or {}
    if not isinstance(dependencies, dict):
        raise LockError(f"{where}: dependencies must be a mapping")
    requires = tuple(str(dep) if str(spec) in ("*", "") else f"{dep}{spec}" for dep, spec in dependencies.items())
    return PypiPackage(name=name, version=str(entry.get("version")), url=url, sha256=sha256, requires_dist=requires)


def _content_hash(packages: tuple[LockedPackage, ...], pypi: tuple[PypiPackage, ...] = ()) -> str:
    lines = [f"{p.url} {p.sha256 or p.md5 or ''}" for p in packages]
    lines.extend(f"{p.url} {p.sha256 or ''}" for p in pypi)
    text = "\n".join(sorted(lines))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CondaLock(PatternSidecars):
    """The ``conda-lock`` (v1) format backend."""

    multi_platform = True
    #: PyPI distributions are locked too.
    carries_pypi = True

    def detect(self, text: str) -> bool:
        """Whether *text* looks like this format."""
        lines = [line.strip() for line in text.splitlines()[:40]]
        return "version: 1" in lines and any(line.startswith("package:") for line in text.splitlines())

    def dumps(self, lock: LockData) -> str:
        """conda-lock v1 YAML for *lock*."""
        entries: list[dict[str, Any]] = []
        for platform in lock.platforms:
            for package in sorted(lock.packages[platform], key=lambda item: item.name):
                if not package.md5:
                    raise LockError(f"{package}: conda-lock needs an md5 hash, and the solver gave none")
                entry: dict[str, Any] = {
                    "name": package.name,
                    "version": package.version,
                    "manager": "conda",
                    "platform": platform,
                    "dependencies": _dependency_map(package.depends),
                    "url": package.url,
                    "hash": {"md5": package.md5, **({"sha256": package.sha256} if package.sha256 else {})},
                    "category": "main",
                    "optional": False,
                }
                entries.append(entry)
            for pypi_package in sorted(lock.pypi_for(platform), key=lambda item: item.name):
                entries.append(_pip_entry(pypi_package, platform))
        document = {
            "version": 1,
            "metadata": {
                "content_hash": {
                    platform: _content_hash(lock.packages[platform], lock.pypi_for(platform))
                    for platform in lock.platforms
                },
                "channels": [{"url": channel, "used_env_vars": []} for channel in lock.channels],
                "platforms": list(lock.platforms),
                "sources": ["ce script metadata"],
            },
            "package": entries,
        }
        return dump(document)

    def loads(self, text: str) -> LockData:
        """Lock data from conda-lock v1 text (conda and pip packages)."""
        data = load(text, "conda-lock file")
        if data.get("version") != 1:
            raise LockError(f"unsupported conda-lock version {data.get('version')!r}: ce reads version 1")
        metadata = data.get("metadata")
        if not isinstance(metadata, dict):
            raise LockError("conda-lock file has no metadata")
        channels = tuple(
            str(channel["url"]).rstrip("/")
            for channel in metadata.get("channels") or []
            if isinstance(channel, dict) and channel.get("url")
        )
        platforms = [str(platform) for platform in metadata.get("platforms") or []]
        packages: dict[str, list[LockedPackage]] = {platform: [] for platform in platforms}
        pip: dict[str, list[PypiPackage]] = {}
        # (name, which entry) per platform, conda and pip apart: each name once per platform
        names: dict[tuple[str, str], list[tuple[str, str]]] = {}
        entries = data.get("package")
        if not isinstance(entries, list):
            raise LockError("conda-lock file has no package list")
        for index, entry in enumerate(entries):
            where = f"package[{index}]"
            if not isinstance(entry, dict):
                raise LockError(f"{where} is not a mapping")
            manager = entry.get("manager", "conda")
            if manager == "pip":
                if not isinstance(entry.get("platform"), str):
                    raise LockError(f"{where} needs a platform")
                pip_package = _pip_package(entry, where)
                pip.setdefault(entry["platform"], []).append(pip_package)
                names.setdefault(("PyPI ", entry["platform"]), []).append(
                    (canonical_pypi_name(pip_package.name), f"{where} ({pip_package.url})")
                )
                continue
            if manager != "conda":
                raise LockError(f"{where}: {manager} packages are not supported, only conda and pip")
            url, platform, hashes = entry.get("url"), entry.get("platform"), entry.get("hash") or {}
            if not isinstance(url, str) or not isinstance(platform, str) or not isinstance(hashes, dict):
                raise LockError(f"{where} needs url, platform and hash")
            package = make_package(
                url,
                name=entry.get("name") if isinstance(entry.get("name"), str) else None,
                version=None if entry.get("version") is None else str(entry["version"]),
                sha256=checked_hash(hashes.get("sha256"), "sha256", f"{where} ({masked(url)})"),
                md5=checked_hash(hashes.get("md5"), "md5", f"{where} ({masked(url)})"),
                depends=_depends_list(entry.get("dependencies"), where),
            )
            packages.setdefault(platform, []).append(package)
            names.setdefault(("", platform), []).append((package.name.lower(), f"{where} ({url})"))
        for (kind, platform), entries_for in names.items():
            check_listed_once(platform, entries_for, kind)
        return LockData(
            channels,
            {platform: tuple(items) for platform, items in packages.items()},
            {platform: tuple(items) for platform, items in pip.items()},
        )
