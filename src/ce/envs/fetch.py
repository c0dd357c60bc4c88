"""Fetching locked package archives and verifying their hashes before anything is linked.

Archives are stored content-addressed under rattler's cache root
(``<root>/ce-verified/<sha256>/<file name>``), written only after their hash
matched the lock, so a stored archive is trusted by its path and a warm
install from a lock costs one stat per package.  The file keeps its original
name: a package cache (conda's, rattler's) names what it extracts after the
URL's last part, and conda cannot read a ``.conda`` archive under another
name.  Its sha256 is always passed on (computed when the lock has only an
md5): a package cache tells builds apart by it, never by
name-version-build alone.  Temporary files of killed downloads are removed
once stale, here and by ``--clean``.

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
from ce.fileio import STALE_TEMPORARY_SECONDS, AtomicFile, remove_stale_temporaries, write_atomically
from ce.lockfiles import checked_hash
from ce.paths import VERIFIED_STORE_DIRNAME, rattler_cache_root
from ce.records import LockedPackage, PypiPackage

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


def _expected(package: LockedPackage) -> dict[str, str]:
    """The hashes the lock records for *package* (validated as hex), by algorithm."""
    expected: dict[str, str] = {}
    for algorithm, value in (("sha256", package.sha256), ("md5", package.md5)):
        checked = checked_hash(value, algorithm, f"lock entry {package.filename}")
        if checked is not None:
            expected[algorithm] = checked
    if not expected:
        raise InstallError(f"lock entry {package.filename} has no sha256 or md5: refusing to install it unverified")
    return expected


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch_into(url: str, expected: dict[str, str], target: Path, label: str, offline: bool) -> str:
    """Fetch *url* into *target* unless it is there; it is written only if every *expected* hash matches.

    Returns the archive's sha256 (computed while streaming, whatever the lock records).
    """
    if target.is_file() and not target.is_symlink():
        return expected.get("sha256") or _sha256_of(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(str(target.parent), STALE_TEMPORARY_SECONDS)
    digests = {name: hashlib.new(name) for name in ("sha256", "md5")}
    with AtomicFile(str(target)) as output:
        try:
            source = _open(url, offline)
        except OSError as error:
            raise InstallError(f"cannot fetch {url}: {error}") from error
        try:
            with source:
                while chunk := source.read(CHUNK):
                    for digest in digests.values():
                        digest.update(chunk)
                    output.write(chunk)
        except OSError as error:
            raise InstallError(f"cannot fetch {url}: {error}") from error
        for name, value in expected.items():
            actual = digests[name].hexdigest()
            if actual != value:
                raise InstallError(
                    f"{label}: {name} mismatch, the lock says {value} but the file has {actual}; nothing was installed"
                )
    return digests["sha256"].hexdigest()


def fetch_verified(package: LockedPackage, store: Path, offline: bool = False) -> tuple[Path, str]:
    """The archive of *package*, fetched if needed, whose hashes match the lock, and its sha256.

    The sha256 is computed even when the lock records only an md5, so the
    installer can tell this archive from another build of the same
    name-version-build in its package cache.
    """
    expected = _expected(package)
    target = store / (expected.get("sha256") or expected["md5"]) / package.filename
    label = f"{package.name} {package.version} ({package.filename})"
    return target, _fetch_into(package.url, expected, target, label, offline)


def fetch_pypi_verified(packages: Sequence[PypiPackage], offline: bool = False) -> list[Path]:
    """Local copies of locked PyPI archives, fetched in parallel, each matching its sha256.

    They are kept as ``<store>/pypi/<sha256>/<file name>``: installers need the
    archive's own file name (a wheel's name carries its tags).
    """
    store = Path(rattler_cache_root(), VERIFIED_STORE_DIRNAME, "pypi")

    def one(package: PypiPackage) -> Path:
        digest = (package.sha256 or "").lower()
        if len(digest) != 64 or any(char not in "0123456789abcdef" for char in digest):
            raise InstallError(f"PyPI package {package} has no valid sha256 in the lock: refusing to install it")
        filename = package.filename
        if not filename or filename in (".", "..") or "/" in filename or "\\" in filename:
            raise InstallError(f"PyPI package {package}: cannot tell the archive's file name from {package.url}")
        label = f"PyPI package {package.name} {package.version} ({filename})"
        target = store / digest / filename
        _fetch_into(package.url, {"sha256": digest}, target, label, offline)
        return target

    with ThreadPoolExecutor(max_workers=min(8, max(1, len(packages)))) as pool:
        return list(pool.map(one, packages))


def verified_packages(packages: Sequence[LockedPackage], offline: bool = False) -> list[LockedPackage]:
    """*packages* with URLs pointing at verified local copies (fetched in parallel), each with its sha256."""
    store = Path(rattler_cache_root(), VERIFIED_STORE_DIRNAME)
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(packages)))) as pool:
        fetched = list(pool.map(lambda package: fetch_verified(package, store, offline), packages))
    return [
        replace(package, url=path.as_uri(), sha256=sha256)
        for package, (path, sha256) in zip(packages, fetched, strict=True)
    ]


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
