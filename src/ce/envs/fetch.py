"""Fetching locked package archives and verifying their hashes before anything is linked.

Archives are stored content-addressed under rattler's cache root
(``<root>/ce-verified/<sha256>-<file name>``), written only after their hash
matched the lock, so a stored archive is trusted by its name and a warm
install from a lock costs one stat per package.  Its sha256 is always passed
on (computed when the lock has only an md5): rattler's package cache tells
builds apart by it, never by name-version-build alone.  Temporary files of
killed downloads are removed once stale, here and by ``--clean``.
"""

from __future__ import annotations

import hashlib
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ce.errors import InstallError
from ce.fileio import STALE_TEMPORARY_SECONDS, AtomicFile, remove_stale_temporaries
from ce.paths import VERIFIED_STORE_DIRNAME, rattler_cache_root
from ce.records import LockedPackage

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


_HEX_LENGTHS = {"sha256": 64, "md5": 32}


def _expected(package: LockedPackage) -> dict[str, str]:
    """The hashes the lock records for *package* (validated as hex), by algorithm."""
    expected: dict[str, str] = {}
    for algorithm, value in (("sha256", package.sha256), ("md5", package.md5)):
        if value is None:
            continue
        text = str(value).strip().lower()
        if len(text) != _HEX_LENGTHS[algorithm] or any(char not in "0123456789abcdef" for char in text):
            raise InstallError(f"lock entry {package.filename} has an invalid {algorithm} {str(value)[:80]!r}")
        expected[algorithm] = text
    if not expected:
        raise InstallError(f"lock entry {package.filename} has no sha256 or md5: refusing to install it unverified")
    return expected


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_verified(package: LockedPackage, store: Path, offline: bool = False) -> tuple[Path, str]:
    """The archive of *package*, fetched if needed, whose hashes match the lock, and its sha256.

    The sha256 is computed even when the lock records only an md5, so the
    installer can tell this archive from another build of the same
    name-version-build in its package cache.
    """
    expected = _expected(package)
    algorithm = "sha256" if "sha256" in expected else "md5"
    target = store / f"{expected[algorithm]}-{package.filename}"
    if target.is_file() and not target.is_symlink():
        return target, expected.get("sha256") or _sha256_of(target)
    store.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(str(store), STALE_TEMPORARY_SECONDS)
    digests = {name: hashlib.new(name) for name in ("sha256", "md5")}
    with AtomicFile(str(target)) as output:
        try:
            source = _open(package.url, offline)
        except OSError as error:
            raise InstallError(f"cannot fetch {package.url}: {error}") from error
        try:
            with source:
                while chunk := source.read(CHUNK):
                    for digest in digests.values():
                        digest.update(chunk)
                    output.write(chunk)
        except OSError as error:
            raise InstallError(f"cannot fetch {package.url}: {error}") from error
        for name, value in expected.items():
            actual = digests[name].hexdigest()
            if actual != value:
                raise InstallError(
                    f"{package.name} {package.version} ({package.filename}): {name} mismatch, "
                    f"the lock says {value} but the file has {actual}; nothing was installed"
                )
    return target, digests["sha256"].hexdigest()


def verified_packages(packages: Sequence[LockedPackage], offline: bool = False) -> list[LockedPackage]:
    """*packages* with URLs pointing at verified local copies (fetched in parallel), each with its sha256."""
    store = Path(rattler_cache_root(), VERIFIED_STORE_DIRNAME)
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(packages)))) as pool:
        fetched = list(pool.map(lambda package: fetch_verified(package, store, offline), packages))
    return [
        replace(package, url=path.as_uri(), sha256=sha256)
        for package, (path, sha256) in zip(packages, fetched, strict=True)
    ]
