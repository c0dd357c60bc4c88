"""Fetching locked package archives and verifying their hashes before anything is linked.

Archives are stored content-addressed under rattler's cache root
(``<root>/ce-verified/<sha256>/<file name>``), written only after their hash
matched the lock, so a stored archive is trusted by its path and a warm
install from a lock costs one stat per package.  The file keeps its original
name: a package cache (conda's, rattler's) names what it extracts after the
URL's last part, and conda cannot read a ``.conda`` archive under another
name.

The backend installs from the verified copy (a ``file://`` URL into the
store); :func:`record_lock_urls` then puts the lock's own URL back into
``conda-meta``, so the environment records where the package came from,
as conda and rattler do, never ce's private store.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ce.errors import InstallError
from ce.fileio import AtomicFile, write_atomically
from ce.paths import rattler_cache_root
from ce.records import LockedPackage, PypiPackage

STORE_DIRNAME = "ce-verified"
CHUNK = 1 << 20
TIMEOUT_SECONDS = 60


def _open(url: str, offline: bool):  # type: ignore[no-untyped-def]
    parts = urlsplit(url)
    if parts.scheme == "file":
        return open(unquote(parts.path), "rb")
    if parts.scheme in ("http", "https"):
        if offline:
            raise InstallError(f"{url} is not in the package cache and --offline forbids downloading it")
        return urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS)
    raise InstallError(f"cannot fetch {url}: unsupported URL scheme {parts.scheme!r}")


def _key(package: LockedPackage) -> tuple[str, str]:
    if package.sha256:
        return "sha256", package.sha256.lower()
    if package.md5:
        return "md5", package.md5.lower()
    raise InstallError(f"lock entry {package.filename} has no sha256 or md5: refusing to install it unverified")


def fetch_verified(package: LockedPackage, store: Path, offline: bool = False) -> Path:
    """The archive of *package*, fetched if needed, whose hash matches the lock."""
    algorithm, expected = _key(package)
    target = store / expected / package.filename
    label = f"{package.name} {package.version} ({package.filename})"
    return _fetch_into(package.url, algorithm, expected, target, label, offline)


def _fetch_into(url: str, algorithm: str, expected: str, target: Path, label: str, offline: bool) -> Path:
    """*target*, fetched from *url* unless present, written only if its *algorithm* hash is *expected*."""
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.new(algorithm)
    with AtomicFile(str(target)) as output:
        try:
            source = _open(url, offline)
        except OSError as error:
            raise InstallError(f"cannot fetch {url}: {error}") from error
        with source:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                output.write(chunk)
        actual = digest.hexdigest()
        if actual != expected:
            raise InstallError(
                f"{label}: {algorithm} mismatch, the lock says {expected} but the file has {actual}; "
                "nothing was installed"
            )
    return target


def fetch_pypi_verified(packages: Sequence[PypiPackage], offline: bool = False) -> list[Path]:
    """Local copies of locked PyPI archives, fetched in parallel, each matching its sha256.

    They are kept as ``<store>/pypi/<sha256>/<file name>``: installers need the
    archive's own file name (a wheel's name carries its tags).
    """
    store = Path(rattler_cache_root(), STORE_DIRNAME, "pypi")

    def one(package: PypiPackage) -> Path:
        digest = (package.sha256 or "").lower()
        if len(digest) != 64 or any(char not in "0123456789abcdef" for char in digest):
            raise InstallError(f"PyPI package {package} has no valid sha256 in the lock: refusing to install it")
        filename = package.filename
        if not filename or filename in (".", "..") or "/" in filename or "\\" in filename:
            raise InstallError(f"PyPI package {package}: cannot tell the archive's file name from {package.url}")
        label = f"PyPI package {package.name} {package.version} ({filename})"
        return _fetch_into(package.url, "sha256", digest, store / digest / filename, label, offline)

    with ThreadPoolExecutor(max_workers=min(8, max(1, len(packages)))) as pool:
        return list(pool.map(one, packages))


def verified_packages(packages: Sequence[LockedPackage], offline: bool = False) -> list[LockedPackage]:
    """*packages* with URLs pointing at verified local copies (fetched in parallel)."""
    store = Path(rattler_cache_root(), STORE_DIRNAME)
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(packages)))) as pool:
        paths = list(pool.map(lambda package: fetch_verified(package, store, offline), packages))
    return [replace(package, url=path.as_uri()) for package, path in zip(packages, paths, strict=True)]


def record_lock_urls(prefix: str, packages: Sequence[LockedPackage]) -> None:
    """Write each package's URL from the lock into its ``conda-meta`` record in *prefix*.

    The backend installed from the verified copies, so the records it wrote
    name ce's store; the environment should name the lock's URL.
    """
    meta = os.path.join(prefix, "conda-meta")
    for package in packages:
        path = os.path.join(meta, f"{package.name}-{package.version}-{package.build}.json")
        try:
            with open(path, encoding="utf-8") as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            continue  # a backend that names its records otherwise keeps its own URL
        if not isinstance(record, dict) or record.get("url") == package.url:
            continue
        record["url"] = package.url
        write_atomically(path, json.dumps(record, indent=2) + "\n")
