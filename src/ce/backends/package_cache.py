"""Trusting a package cache entry by its content, never by its name.

A package cache (rattler's, shared with pixi; conda's ``pkgs_dirs``) keeps
each extracted package under ``<name>-<version>-<build>``.  Two builds with the
same name-version-build (a channel without hashes, a ``[url=...]`` spec, a
directory planted there) cannot be told apart by that name: only by the
hash of the archive the entry was extracted from.  Before anything is
linked, each entry the install would use is checked against the record being
installed (sha256, else md5) and removed on a mismatch, so the installer
fetches the record's own archive again.

What an entry's hash is comes from the cache's own bookkeeping, written when
the archive was downloaded and verified: rattler's ``<entry>.lock`` (a
revision, then the sha256 the download was checked against, absent for a
source without hashes) or conda's ``<entry>/info/repodata_record.json`` (the
archive's sha256 and md5).  Reading them costs one small read per package,
so a cold run from a warm package cache stays cheap.

An archive ce fetched and verified reaches conda's transaction as a
``file://`` URL into ce's store; :func:`record_origin_urls` then makes
conda's bookkeeping (``urls.txt``, ``repodata_record.json``) name the URL it
came from, as a download from there would have.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ce.errors import InstallError
from ce.fileio import write_atomically

#: Where an evicted entry is moved before it is removed (one rename takes it out of the installer's sight).
EVICTED_PREFIX = ".ce-evicted-"
_RATTLER_REVISION_BYTES = 8
_SHA256_BYTES = 32
_RECORD_LIMIT = 1 << 20
#: conda's list of the URLs it fetched archives from, oldest first (``UrlsData``).
URLS_TXT = "urls.txt"


@dataclass(frozen=True)
class ExpectedEntry:
    """What the install expects of the cache entry ``dirname``: the record's archive hashes (lowercase hex)."""

    dirname: str
    sha256: str | None
    md5: str | None


def _rattler_sha256(cache_dir: str, dirname: str) -> str | None:
    """The sha256 rattler recorded in ``<dirname>.lock`` when it extracted the entry (None: none recorded)."""
    try:
        with open(os.path.join(cache_dir, dirname + ".lock"), "rb") as handle:
            data = handle.read(_RATTLER_REVISION_BYTES + _SHA256_BYTES)
    except OSError:
        return None
    if len(data) < _RATTLER_REVISION_BYTES + _SHA256_BYTES:
        return None
    return data[_RATTLER_REVISION_BYTES:].hex()


def _conda_hashes(entry: str) -> tuple[str | None, str | None]:
    """(sha256, md5) of the archive conda extracted into *entry*, from ``info/repodata_record.json``."""
    try:
        with open(os.path.join(entry, "info", "repodata_record.json"), "rb") as handle:
            record = json.loads(handle.read(_RECORD_LIMIT))
    except (OSError, ValueError):
        return None, None
    if not isinstance(record, dict):
        return None, None
    sha256, md5 = record.get("sha256"), record.get("md5")
    return (
        sha256.lower() if isinstance(sha256, str) and sha256 else None,
        md5.lower() if isinstance(md5, str) and md5 else None,
    )


def entry_matches(cache_dir: str, expected: ExpectedEntry) -> bool:
    """Whether the entry ``expected.dirname`` in *cache_dir* was extracted from the archive *expected* names.

    sha256 first (rattler's lock file, else conda's record), else md5 (conda's
    record); an entry whose origin is not recorded, or a record without any
    hash, never matches.
    """
    if expected.sha256 is not None and _rattler_sha256(cache_dir, expected.dirname) == expected.sha256:
        return True
    entry = os.path.join(cache_dir, expected.dirname)
    sha256, md5 = _conda_hashes(entry)
    if expected.sha256 is not None and sha256 is not None:
        return sha256 == expected.sha256
    return expected.md5 is not None and md5 is not None and md5 == expected.md5


def evict_mismatched(cache_dir: str, expected: Iterable[ExpectedEntry]) -> list[str]:
    """Remove from *cache_dir* each existing entry of *expected* that does not match its record; their names.

    The installer then finds no entry and downloads (and verifies) the
    record's archive again; an entry that cannot be removed is an
    :class:`~ce.errors.InstallError`.  The entry is renamed aside first, so a concurrent
    install never sees it half removed; the lock file stays (rattler rewrites
    it with the new download's hash).
    """
    evicted = []
    for item in expected:
        entry = os.path.join(cache_dir, item.dirname)
        if not os.path.lexists(entry) or entry_matches(cache_dir, item):
            continue
        aside = os.path.join(cache_dir, f"{EVICTED_PREFIX}{item.dirname}-{uuid.uuid4().hex[:12]}")
        try:
            os.rename(entry, aside)
        except FileNotFoundError:
            continue  # another run evicted it first
        except OSError as error:
            # Left in place, the installer would link it: refuse instead.
            raise InstallError(
                f"package cache entry {entry} does not match the package being installed and cannot be removed "
                f"({error.strerror or error}); remove it, or fix the permissions of {cache_dir}"
            ) from error
        _remove(aside)
        evicted.append(item.dirname)
    return evicted


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)


#: The archive extensions conda strips from a file name to name its extracted entry (``strip_pkg_extension``).
_ARCHIVE_EXTENSIONS = (".conda", ".tar.bz2")


def _entry_of(url: str) -> str | None:
    """The entry name conda extracts the archive *url* names into: its file name without the extension."""
    filename = url.rsplit("/", 1)[-1]
    for extension in _ARCHIVE_EXTENSIONS:
        if filename.endswith(extension) and len(filename) > len(extension):
            return filename[: -len(extension)]
    return None


def _regular_file(path: str) -> bool:
    """Whether *path* is a regular file itself (not a symbolic link to one)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _real_directory(path: str) -> bool:
    """Whether *path* is a directory itself (not a symbolic link to one)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _fix_urls_txt(cache_dir: str, origins: Mapping[str, str]) -> bool:
    """Replace each line of ``urls.txt`` that names a store URL of *origins* by its origin; whether it changed."""
    path = os.path.join(cache_dir, URLS_TXT)
    if not _regular_file(path):
        return False
    try:
        with open(path, "rb") as handle:
            lines = handle.read().decode("utf-8").splitlines(keepends=True)
    except (OSError, UnicodeDecodeError):
        return False
    changed = False
    for index, line in enumerate(lines):
        origin = origins.get(line.strip())
        if origin is not None:
            lines[index] = origin + line[len(line.rstrip("\r\n")) :]
            changed = True
    if changed:
        write_atomically(path, "".join(lines))
    return changed


def _fix_record(cache_dir: str, store_url: str, origin: str) -> bool:
    """Put *origin* into the ``repodata_record.json`` of the entry extracted from *store_url*; whether it did."""
    name = _entry_of(store_url)
    if name is None:
        return False
    entry = os.path.join(cache_dir, name)
    info = os.path.join(entry, "info")
    path = os.path.join(info, "repodata_record.json")
    if not (_real_directory(entry) and _real_directory(info) and _regular_file(path)):
        return False  # never through a link: the entry is not one conda extracted here
    try:
        with open(path, "rb") as handle:
            record = json.loads(handle.read(_RECORD_LIMIT))
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict) or record.get("url") != store_url:
        return False  # another archive's entry, or one conda recorded from elsewhere: not this install's
    record["url"] = origin
    write_atomically(path, json.dumps(record, indent=2))
    return True


def record_origin_urls(cache_dir: str, origins: Mapping[str, str]) -> list[str]:
    """Make conda's package cache *cache_dir* name each archive's origin where it names ce's store; what changed.

    *origins* maps the ``file://`` URL of each archive's verified copy in ce's
    store (the URL the install was given) to the URL it came from, without
    credentials.  conda records the URL it fetched an archive from twice:
    appended to ``urls.txt``, and as ``url`` in the extracted entry's
    ``info/repodata_record.json``, which a later ``conda create`` that reuses
    the entry copies into its environment's ``conda-meta``.  Only lines and
    entries that name one of those store URLs are changed (each file replaced
    atomically, never written through a link), so the cache reads as if conda
    had downloaded the archive from its origin.  A cache this user cannot
    write is left as it is.
    """
    changed: list[str] = []
    if not origins or not os.path.isdir(cache_dir):
        return changed
    for store_url, origin in origins.items():
        with contextlib.suppress(OSError):
            if _fix_record(cache_dir, store_url, origin):
                changed.append(_entry_of(store_url) or store_url)
    with contextlib.suppress(OSError):
        if _fix_urls_txt(cache_dir, origins):
            changed.append(URLS_TXT)
    return changed
