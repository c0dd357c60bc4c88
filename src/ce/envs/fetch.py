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
store), told where it came from (``origin_url``, without credentials) so
that a package cache it keeps records that URL (the ``conda`` solver fixes
conda's ``urls.txt`` and ``repodata_record.json``);
:func:`record_lock_urls` then puts the lock's own URL back into
``conda-meta``, so the environment records where the package came from,
as conda and rattler do, never ce's private store.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import stat
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ce.backends.rattler_network import (
    TransferAborted,
    Watch,
    abort_hint,
    deadline_secs,
    explain,
    format_secs,
    redact,
    size_cap,
)
from ce.base import VERIFIED_STORE_DIRNAME, rattler_cache_root
from ce.errors import InstallError
from ce.fileio import STALE_TEMPORARY_SECONDS, AtomicFile, remove_stale_temporaries, write_atomically
from ce.interrupts import run_async
from ce.lockfiles import checked_hash
from ce.records import LockedPackage, PypiPackage
from ce.status import Status, human_bytes
from ce.urls import with_credentials_of, without_credentials

CHUNK = 1 << 20
#: How many archives are downloaded at once.
PARALLEL_DOWNLOADS = 8


class _Job:
    """One archive to fetch: where from, where to, which hashes, how big at most."""

    __slots__ = ("expected", "label", "size", "target", "url")

    def __init__(self, url: str, expected: dict[str, str], target: Path, label: str, size: int | None) -> None:
        self.url, self.expected, self.target, self.label, self.size = url, expected, target, label, size


def _new_digests() -> dict[str, Any]:
    """The digests every archive is hashed with while it is written: both a lock may record."""
    return {name: hashlib.new(name) for name in ("sha256", "md5")}


class _Sink:
    """The writer rattler streams an archive into: hashes, counts, caps and writes each chunk."""

    def __init__(self, output: AtomicFile, watch: Watch, job: _Job, counted: list[int]) -> None:
        self.output = output
        self.watch = watch
        self.job = job
        self.digests = _new_digests()
        self.done = 0
        self.cap = size_cap(job.size)
        self.counted = counted

    def write(self, chunk: bytes) -> None:
        """Take the next *chunk* of the body; refuse it (aborting the transfer) past the cap."""
        self.done += len(chunk)
        self.counted[0] += len(chunk)
        self.watch.progress(self.job, self.done)  # aborts the transfer when past the cap
        if self.done > self.cap:
            raise OSError(f"{self.job.target.name} is larger than its recorded size")
        for digest in self.digests.values():
            digest.update(chunk)
        self.output.write(chunk)


#: How a ``file://`` archive is opened: never blocking (a FIFO with no writer), never inherited.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _open_regular(url: str, label: str) -> int:
    """A descriptor of the regular file a ``file://`` *url* names; anything else is one :class:`InstallError`.

    Opened non-blocking and checked with ``fstat`` before any read, as
    :func:`ce.base.read_regular` does: a FIFO would block forever and a
    device (a link to ``/dev/urandom``) never ends.
    """
    path = unquote(urlsplit(url).path)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        raise InstallError(f"cannot fetch {label}: {path}: {error.strerror}") from error
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InstallError(f"cannot fetch {label}: {path} is not a regular file; nothing was installed")
    except BaseException:
        os.close(fd)
        raise
    return fd


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


def _check_digests(job: _Job, digests: dict[str, Any]) -> str:
    for name, value in job.expected.items():
        actual = digests[name].hexdigest()
        if actual != value:
            raise InstallError(
                f"{job.label}: {name} mismatch, the lock says {value} but the file has {actual}; nothing was installed"
            )
    return str(digests["sha256"].hexdigest())


def _read_local(job: _Job, stall_secs: float) -> str:
    """Copy a ``file://`` archive into the store, verified; its sha256.

    Bounded as a download is: a regular file only, at most :func:`size_cap` of
    the recorded size, and a read that stalls longer than *stall_secs* (a hung
    network file system) ends the copy after it returns.
    """
    digests = _new_digests()
    cap = size_cap(job.size)
    fd = _open_regular(job.url, job.label)
    with os.fdopen(fd, "rb") as source, AtomicFile(str(job.target)) as output:
        done = 0
        try:
            last = time.monotonic()
            while chunk := source.read(min(CHUNK, cap + 1 - done)):
                now = time.monotonic()
                if stall_secs > 0 and now - last > stall_secs:
                    raise InstallError(
                        f"cannot fetch {job.label}: timed out after {format_secs(stall_secs)} s reading it; "
                        "raise remote_read_timeout_secs in condarc"
                    )
                last = now
                done += len(chunk)
                if done > cap:
                    raise InstallError(
                        f"cannot fetch {job.label}: it is larger than its recorded size (more than {cap} bytes); "
                        "nothing was kept"
                    )
                for digest in digests.values():
                    digest.update(chunk)
                output.write(chunk)
        except OSError as error:
            raise InstallError(f"cannot fetch {job.label}: {error.strerror or error}") from error
        return _check_digests(job, digests)


class _Failed(Exception):
    """rattler's error for one archive, with the job it failed (so the message names the archive)."""

    def __init__(self, job: _Job, error: Exception) -> None:
        super().__init__(str(error))
        self.job, self.error = job, error


class _Downloader:
    """Archives fetched over http(s) through rattler's client (ce's one HTTP stack), verified while streaming."""

    def __init__(self, status: Status) -> None:
        from ce.backends.rattler_network import make_client
        from ce.config.condarc import load

        self.settings = load(os.environ)
        self.client: Any = make_client(self.settings)
        self.watch = Watch(deadline_secs(self.settings))
        self.status = status
        self.counted = [0]
        self.finished = 0
        self.total = 0

    async def _one(self, job: _Job, gate: asyncio.Semaphore) -> str:
        from rattler.package_streaming import download_to_writer

        async with gate:
            with AtomicFile(str(job.target)) as output:
                sink = _Sink(output, self.watch, job, self.counted)
                self.watch.started(job, job.target.name, job.size)
                try:
                    await download_to_writer(self.client, job.url, sink)
                except Exception as error:
                    raise _Failed(job, error) from error
                self.watch.finished(job)
                sha256 = _check_digests(job, sink.digests)
        self.finished += 1
        self.status.detail(f"{self.finished}/{self.total}, {human_bytes(self.counted[0])}")
        return sha256

    async def _all(self, jobs: Sequence[_Job]) -> list[str]:
        gate = asyncio.Semaphore(PARALLEL_DOWNLOADS)
        return list(await asyncio.gather(*(self._one(job, gate) for job in jobs)))

    def fetch(self, jobs: Sequence[_Job]) -> list[str]:
        """The sha256 of each job's archive, downloaded into its target; one line on failure."""
        if not jobs:
            return []
        self.total = len(jobs)
        self.status.show(f"downloading {len(jobs)} archive{'s' if len(jobs) != 1 else ''}")
        try:
            return run_async(self.watch.run(self._all(jobs)))
        except InstallError:
            raise
        except TransferAborted as error:
            raise InstallError(f"cannot fetch a locked archive: {error}: {abort_hint(str(error))}") from error
        except _Failed as failed:
            doing = f"cannot fetch a locked archive, {failed.job.label}"
            raise InstallError(
                explain(failed.error, doing=doing, settings=self.settings, environ=os.environ)
            ) from failed.error
        except Exception as error:
            raise InstallError(
                explain(error, doing="cannot fetch a locked archive", settings=self.settings, environ=os.environ)
            ) from error


def _local_stall_secs() -> float:
    """The deadline of a stalled ``file://`` read: the one a download has (``remote_read_timeout_secs``)."""
    from ce.config.condarc import load

    return deadline_secs(load(os.environ))


def _fetch_jobs(jobs: Sequence[_Job], offline: bool, show_progress: bool) -> list[str]:
    """The sha256 of each job's archive, fetched into its target unless there already (each at most once)."""
    results: dict[Path, str] = {}
    remote: list[_Job] = []
    stall_secs: float | None = None
    for job in jobs:
        if job.target in results or any(other.target == job.target for other in remote):
            continue
        if job.target.is_file() and not job.target.is_symlink():
            results[job.target] = job.expected.get("sha256") or _sha256_of(job.target)
            continue
        job.target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(str(job.target.parent), STALE_TEMPORARY_SECONDS)
        scheme = urlsplit(job.url).scheme
        if scheme == "file":
            if stall_secs is None:
                stall_secs = _local_stall_secs()
            results[job.target] = _read_local(job, stall_secs)
        elif scheme in ("http", "https"):
            if offline:
                raise InstallError(
                    f"{redact(job.url)} is not in the package cache and --offline forbids downloading it"
                )
            remote.append(job)
        else:
            raise InstallError(f"cannot fetch {redact(job.url)}: unsupported URL scheme {scheme!r}")
    if remote:
        with Status(show_progress) as status:
            fetched = _Downloader(status).fetch(remote)
        results.update(zip((job.target for job in remote), fetched, strict=True))
    return [results[job.target] for job in jobs]


def fetch_verified(package: LockedPackage, store: Path, offline: bool = False) -> tuple[Path, str]:
    """The archive of *package*, fetched if needed, whose hashes match the lock, and its sha256.

    The sha256 is computed even when the lock records only an md5, so the
    installer can tell this archive from another build of the same
    name-version-build in its package cache.
    """
    job = _lock_job(package, store)
    return job.target, _fetch_jobs([job], offline, False)[0]


def _lock_job(package: LockedPackage, store: Path, channels: Sequence[str] = ()) -> _Job:
    """The fetch of *package*: from its lock URL, with the credentials of the run's channel it lies under."""
    expected = _expected(package)
    target = store / (expected.get("sha256") or expected["md5"]) / package.filename
    label = f"{package.name} {package.version} ({package.filename})"
    return _Job(with_credentials_of(package.url, channels), expected, target, label, package.size)


def fetch_pypi_verified(
    packages: Sequence[PypiPackage], offline: bool = False, show_progress: bool = False
) -> list[Path]:
    """Local copies of locked PyPI archives, fetched concurrently, each matching its sha256.

    They are kept as ``<store>/pypi/<sha256>/<file name>``: installers need the
    archive's own file name (a wheel's name carries its tags).
    """
    store = Path(rattler_cache_root(), VERIFIED_STORE_DIRNAME, "pypi")
    jobs = []
    for package in packages:
        digest = (package.sha256 or "").lower()
        if len(digest) != 64 or any(char not in "0123456789abcdef" for char in digest):
            raise InstallError(f"PyPI package {package} has no valid sha256 in the lock: refusing to install it")
        filename = package.filename
        if not filename or filename in (".", "..") or "/" in filename or "\\" in filename:
            raise InstallError(f"PyPI package {package}: cannot tell the archive's file name from {package.url}")
        label = f"PyPI package {package.name} {package.version} ({filename})"
        jobs.append(_Job(package.url, {"sha256": digest}, store / digest / filename, label, None))
    _fetch_jobs(jobs, offline, show_progress)
    return [job.target for job in jobs]


def verified_packages(
    packages: Sequence[LockedPackage],
    offline: bool = False,
    show_progress: bool = False,
    channels: Sequence[str] = (),
) -> list[LockedPackage]:
    """*packages* with URLs pointing at verified local copies (fetched concurrently), each with its sha256.

    http(s) archives come through rattler's client (authentication storage,
    ``.netrc``, ``user:password@`` URLs, proxies, TLS settings, retries), each
    capped at the size the lock records and hashed while it streams;
    ``file://`` archives are read only when they are regular files, capped
    the same way.  A lock holds no credentials: an archive under one of the
    run's *channels* that carries a conda token or ``user:password@`` is
    fetched with them (:func:`ce.urls.with_credentials_of`); any other relies
    on rattler's authentication storage (where ``conda token`` / ``pixi auth``
    keep a token per host) or ``~/.netrc``.
    """
    store = Path(rattler_cache_root(), VERIFIED_STORE_DIRNAME)
    jobs = [_lock_job(package, store, channels) for package in packages]
    sha256s = _fetch_jobs(jobs, offline, show_progress)
    return [
        replace(package, url=job.target.as_uri(), sha256=sha256, origin_url=without_credentials(package.url))
        for package, job, sha256 in zip(packages, jobs, sha256s, strict=True)
    ]


#: Where an archive from a source without hashes is written before its own sha256 names its place in the store.
UNVERIFIED_DIRNAME = ".unverified"


def _hashless_job(package: LockedPackage, store: Path) -> _Job:
    """A job for an archive whose source states no hash: any content, kept under its own sha256 afterwards.

    It is fetched on every build that needs it (never found by its name or URL),
    into a name of its own under :data:`UNVERIFIED_DIRNAME`.
    """
    import uuid

    filename = package.filename
    if not filename or filename in (".", "..") or "/" in filename or "\\" in filename:
        raise InstallError(f"package {package}: cannot tell the archive's file name from {redact(package.url)}")
    target = store / UNVERIFIED_DIRNAME / f"{uuid.uuid4().hex}-{filename}"
    return _Job(package.url, {}, target, f"{package.name} {package.version} ({filename})", package.size)


def _into_store(job: _Job, sha256: str, store: Path, filename: str) -> Path:
    """Move a hashless job's archive to ``<store>/<sha256>/<file name>``: named by its content alone."""
    final = store / sha256 / filename
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(job.target, final)  # the same name means the same bytes: replacing a twin is harmless
    return final


def content_addressed(
    packages: Sequence[LockedPackage], offline: bool = False, show_progress: bool = False
) -> list[LockedPackage]:
    """*packages*, each solved one without a sha256 pointing at a local copy in the store, with its sha256.

    A package cache tells two builds of one name-version-build apart only by
    the archive's sha256.  An archive whose source gives only an md5 is
    verified against it; one whose source gives no hash at all (a channel
    without hashes, a ``[url=...]`` spec) is taken as it is.  Either is kept
    under its own sha256, and installed with that sha256, so its extracted
    entry in the shared package cache carries the hash of what it holds and is
    never linked for a record of another archive (by ce, or by pixi).  Packages
    with a sha256 are returned unchanged.  The original URLs go back into
    ``conda-meta`` with :func:`record_lock_urls`.
    """
    if all(package.sha256 for package in packages):
        return list(packages)
    store = Path(rattler_cache_root(), VERIFIED_STORE_DIRNAME)
    picked = [(index, package) for index, package in enumerate(packages) if not package.sha256]
    jobs = [_lock_job(package, store) if package.md5 else _hashless_job(package, store) for _, package in picked]
    remove_stale_temporaries(str(store / UNVERIFIED_DIRNAME), STALE_TEMPORARY_SECONDS)
    _remove_stale_unverified(store / UNVERIFIED_DIRNAME)
    sha256s = _fetch_jobs(jobs, offline, show_progress)
    result = list(packages)
    for (index, package), job, sha256 in zip(picked, jobs, sha256s, strict=True):
        target = job.target if job.expected else _into_store(job, sha256, store, package.filename)
        result[index] = replace(
            package, url=target.as_uri(), sha256=sha256, native=None, origin_url=without_credentials(package.url)
        )
    return result


def _remove_stale_unverified(directory: Path) -> None:
    """Remove archives a killed run fetched into *directory* but never moved into the store."""
    import time

    if directory.is_symlink():
        return
    cutoff = time.time() - STALE_TEMPORARY_SECONDS
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
        except OSError:
            continue


def record_lock_urls(prefix: str, packages: Sequence[LockedPackage]) -> None:
    """Write each package's URL, without credentials, into its ``conda-meta`` record in *prefix*.

    From a lock: the backend installed from the verified copies, so the
    records it wrote name ce's store; the environment should name the lock's
    URL.  From a solve: the records name the channel's URL, which may carry
    ``user:password@`` or a conda token that must not be written.  The
    record's ``channel`` loses its credentials too.
    """
    meta = os.path.join(prefix, "conda-meta")
    for package in packages:
        path = os.path.join(meta, f"{package.name}-{package.version}-{package.build}.json")
        try:
            with open(path, encoding="utf-8") as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            continue  # a backend that names its records otherwise keeps its own URL
        if not isinstance(record, dict):
            continue
        clean = {"url": without_credentials(package.url)}
        if isinstance(record.get("channel"), str):
            clean["channel"] = without_credentials(record["channel"])
        if all(record.get(key) == value for key, value in clean.items()):
            continue
        record.update(clean)
        write_atomically(path, json.dumps(record, indent=2) + "\n")
