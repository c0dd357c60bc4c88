"""The ``rattler`` solver backend: py-rattler solves, downloads, verifies and links.

Repodata and packages are cached where rattler caches them
(``$RATTLER_CACHE_DIR``, else its default), so ce shares them with pixi.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import os
import stat
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from ce.backends.rattler_network import check_files_read_at_import

# py-rattler 0.26 reads SSL_CERT_FILE while it is imported: a FIFO there would hang the import itself.
check_files_read_at_import(os.environ)

# isort: split
import rattler
import rattler.exceptions as rattler_errors
from rattler.package_streaming import PackageArchive

from ce.backends.package_cache import ExpectedEntry, evict_mismatched
from ce.backends.rattler_compat import build_string, subdir
from ce.backends.rattler_network import (
    TransferAborted,
    Watch,
    abort_hint,
    deadline_secs,
    explain,
    format_secs,
    make_client,
    redact,
    size_cap,
)
from ce.base import CE_PREFIX_FILES, rattler_cache_root
from ce.config.condarc import load as load_settings
from ce.config.condarc import package_cache
from ce.errors import ChannelError, InstallError, SolveError, UsageError
from ce.fileio import restrict_modes
from ce.interrupts import run_async
from ce.records import LockedPackage, SolveRequest
from ce.status import Status, human_bytes


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(lines[:1]) if lines else type(error).__name__


def _summarize_solver_error(error: BaseException) -> str:
    """rattler's solver explanations are multi-line trees; keep what a user acts on."""
    lines = [line.strip(" │├└─•") for line in str(error).splitlines()]
    meaningful = [line.strip() for line in lines if line.strip() and not line.startswith("Cannot solve the request")]
    return "; ".join(dict.fromkeys(meaningful[:6])) or _first_line(error)


_NO_CANDIDATES = "No candidates were found for "


async def _did_you_mean(gateway: Any, channels: list[Any], platforms: list[Any], text: str, deadline: float) -> str:
    """``"; did you mean ruff?"`` for the packages the channels do not have, from the names they hold.

    The names come from the repodata the query just read (cached; sharded
    channels list them in their index), so nothing more is downloaded for a
    channel read in full.  Any failure to list them gives no hint.
    """
    import difflib

    missing = []
    for line in text.splitlines():
        _, found, rest = line.partition(_NO_CANDIDATES)
        if found and rest.split():
            missing.append(rest.split()[0].rstrip("."))
    if not missing:
        return ""
    try:
        listing = gateway.names(channels, platforms)
        result = await asyncio.wait_for(listing, deadline) if deadline > 0 else await listing
        names = sorted({name.normalized for name in result})
    except Exception:  # only a hint: never the reason a solve error changes
        return ""
    hints = []
    for name in dict.fromkeys(missing):
        close = difflib.get_close_matches(name.lower(), names, n=3, cutoff=0.75)
        if close:
            hints.append(f"did you mean {' or '.join(close)}" + ("?" if len(missing) == 1 else f" for {name}?"))
    return "".join(f"; {hint}" for hint in hints)


def _channel_names(channels: Sequence[str]) -> str:
    """The channels as a status line names them: the last part of each URL, credentials never shown."""
    names = [redact(url).rstrip("/").rsplit("/", 1)[-1] or redact(url) for url in channels]
    return ", ".join(names)


def virtual_packages_for(request: SolveRequest) -> list[Any]:
    """This machine's virtual packages (``CONDA_OVERRIDE_*`` honoured) or the request's own."""
    if request.virtual_packages is None:
        return list(rattler.VirtualPackage.detect())
    generic = []
    for text in request.virtual_packages:
        name, _, rest = text.partition("=")
        version, _, build = rest.partition("=")
        generic.append(
            rattler.GenericVirtualPackage(
                rattler.PackageName(name), rattler.Version(version or "0"), build_string(build or "0")
            )
        )
    return generic


def _noarch_kind(noarch: Any) -> str | None:
    if noarch is None or noarch.none:
        return None
    return "python" if noarch.python else "generic"


def to_record(package: LockedPackage) -> Any:
    """A :class:`LockedPackage` (from a lock) as the ``RepoDataRecord`` rattler installs.

    A locked package must carry its sha256: rattler's package cache tells two
    builds with the same name-version-build apart only by it.
    """
    if package.native is not None:
        return package.native
    if not package.sha256:
        raise InstallError(f"lock entry {package.filename} has no verified sha256; refusing to install it")
    try:
        record = rattler.PackageRecord(
            name=package.name,
            version=package.version,
            build=build_string(package.build),
            build_number=package.build_number,
            subdir=package.subdir,
            noarch=package.noarch,  # type: ignore[arg-type]
            depends=list(package.depends),
            constrains=list(package.constrains),
            sha256=bytes.fromhex(package.sha256) if package.sha256 else None,
            md5=bytes.fromhex(package.md5) if package.md5 else None,
            size=package.size,
            license=package.license,
            python_site_packages_path=package.python_site_packages_path,
        )
        if package.timestamp is not None:
            record.timestamp = datetime.datetime.fromtimestamp(package.timestamp / 1000, tz=datetime.timezone.utc)
        file_name = package.url.rsplit("/", 1)[-1]
        return rattler.RepoDataRecord(record, file_name, package.url, package.channel or package.url)
    except (ValueError, TypeError) as error:
        raise InstallError(f"invalid lock entry for {package}: {_first_line(error)}") from error
    except Exception as error:  # rattler's own parse errors (bad version, name...)
        raise InstallError(f"invalid lock entry for {package}: {_first_line(error)}") from error


def to_locked(record: Any) -> LockedPackage:
    """A rattler ``RepoDataRecord`` as a backend-neutral :class:`LockedPackage`."""
    timestamp = record.timestamp
    noarch = record.noarch
    return LockedPackage(
        name=record.name.normalized,
        version=str(record.version),
        build=str(record.build),
        build_number=int(record.build_number),
        subdir=record.subdir,
        url=record.url,
        channel=str(record.channel or ""),
        sha256=record.sha256.hex() if record.sha256 else None,
        md5=record.md5.hex() if record.md5 else None,
        depends=tuple(record.depends),
        constrains=tuple(record.constrains),
        license=record.license,
        size=record.size,
        timestamp=int(timestamp.timestamp() * 1000) if isinstance(timestamp, datetime.datetime) else None,
        noarch=_noarch_kind(noarch),
        python_site_packages_path=record.python_site_packages_path,
        native=record,
    )


class RattlerSolver:
    """Solve with py-rattler's resolvo-based solver; install with rattler's installer.

    Both go through one HTTP client (:func:`ce.backends.rattler_network.make_client`);
    a repodata fetch that stalls ends after ``remote_read_timeout_secs``.
    """

    def __init__(self) -> None:
        self._client: Any = None

    def _network(self) -> tuple[Any, Any]:
        settings = load_settings(os.environ)
        if self._client is None:
            self._client = make_client(settings)
        return settings, self._client

    def solve(self, request: SolveRequest) -> list[LockedPackage]:
        """Solve *request* against its channels for its platform (plus noarch)."""
        return run_async(self._solve(request))

    async def _solve(self, request: SolveRequest) -> list[LockedPackage]:
        cache_action: Literal["force-cache-only", "cache-or-fetch"] = (
            "force-cache-only" if request.offline else "cache-or-fetch"
        )
        settings, client = self._network()
        gateway = rattler.Gateway(
            cache_dir=Path(rattler_cache_root(), "repodata"),
            default_config=rattler.SourceConfig(cache_action=cache_action),
            show_progress=request.show_progress,
            client=client,
        )
        try:
            channels = [rattler.Channel(url) for url in request.channels]
        except Exception as error:
            raise UsageError(f"invalid channel: {_first_line(error)}") from error
        try:
            specs = [rattler.MatchSpec(spec) for spec in request.specs]
        except Exception as error:
            raise UsageError(f"invalid package spec: {_first_line(error)}") from error
        deadline = deadline_secs(settings)
        platforms = [subdir(request.platform), subdir("noarch")]
        with Status(request.show_progress) as status:
            try:
                status.show(f"fetching repodata from {_channel_names(request.channels)}")
                querying = gateway.query(channels, platforms, specs, recursive=True)
                await asyncio.wait_for(querying, deadline) if deadline > 0 else await querying
                status.show(f"solving {', '.join(request.specs)}")
                solving = rattler.solve(
                    sources=channels,
                    specs=specs,
                    gateway=gateway,
                    platforms=platforms,
                    virtual_packages=virtual_packages_for(request),
                )
                records = await asyncio.wait_for(solving, deadline) if deadline > 0 else await solving
            except asyncio.TimeoutError as error:
                where = ", ".join(redact(url) for url in request.channels)
                raise ChannelError(
                    f"cannot read channel repodata: timed out after {format_secs(deadline)} s ({where}): "
                    "raise remote_read_timeout_secs in condarc, or check the network or proxy_servers; "
                    "or use --offline to run from the caches"
                ) from error
            except rattler_errors.SolverError as error:
                summary = _summarize_solver_error(error)
                hint = await _did_you_mean(gateway, channels, platforms, str(error), deadline)
                raise SolveError(f"cannot solve {', '.join(request.specs)}: {summary}{hint}") from error
            except (rattler_errors.FetchRepoDataError, rattler_errors.GatewayError) as error:
                doing = "cannot read channel repodata" + (
                    " (offline: only cached repodata is used)" if request.offline else ""
                )
                raise ChannelError(
                    explain(error, doing=doing, settings=settings, environ=os.environ, deadline=deadline)
                ) from error
            except rattler_errors.InvalidChannelError as error:
                raise UsageError(f"invalid channel: {_first_line(error)}") from error
        return [to_locked(record) for record in records]

    def install(self, packages: Sequence[LockedPackage], prefix: str, final_prefix: str, request: SolveRequest) -> None:
        """Download (verifying hashes), extract and link *packages* into *prefix*.

        Files are relocated for *final_prefix*, where the environment is renamed
        once complete.  A download that brings no byte for
        ``remote_read_timeout_secs``, or more than its record's size, cancels
        the install; rattler's partial extraction directories are removed.
        """
        records = [to_record(package) for package in packages]
        settings, client = self._network()
        try:
            requested = [rattler.MatchSpec(spec)._match_spec for spec in request.specs]
        except Exception:
            requested = None
        cache_dir = Path(package_cache(os.environ))
        hint = " (offline: only cached packages are used)" if request.offline else ""
        doing = f"cannot install the environment{hint}"
        show_progress = request.show_progress and sys.stderr is not None
        stall = deadline_secs(settings)
        before = _partial_entries(cache_dir, records)
        with Status(show_progress) as status:
            watch = Watch(stall)
            reporter = _InstallReporter(records, watch, status)
            try:
                status.show("checking packages")
                # The cache's entries are linked only if they come from these very archives.
                evict_mismatched(str(cache_dir), [_expected_entry(record) for record in records])
                extracted = run_async(_check_archives(records, cache_dir, request.offline, client, stall))
                status.show("downloading and linking")
                with contextlib.nullcontext() if show_progress else _rust_panic_output_held_back():
                    run_async(
                        watch.run(
                            rattler.install(
                                records,
                                target_prefix=prefix,
                                cache_dir=cache_dir,
                                alternative_target_prefix=final_prefix,
                                platform=subdir(request.platform),
                                show_progress=False,
                                requested_specs=requested,
                                client=client,
                                reporter=reporter,
                            )
                        )
                    )
                _check_extracted(records, cache_dir, extracted)
            except InstallError:
                _remove_partial_entries(cache_dir, records, before)
                raise
            except TransferAborted as error:
                _remove_partial_entries(cache_dir, records, before)
                raise InstallError(f"{doing}: {error}: {abort_hint(str(error))}") from error
            except Exception as error:
                _remove_partial_entries(cache_dir, records, before)
                raise InstallError(explain(error, doing=doing, settings=settings, environ=os.environ)) from error
            except BaseException as error:
                _remove_partial_entries(cache_dir, records, before)
                if type(error).__name__ != "PanicException":  # pyo3's Rust panic, a BaseException
                    raise
                raise InstallError(f"cannot install the environment: rattler failed: {_first_line(error)}") from error


def _expected_entry(record: Any) -> ExpectedEntry:
    """The package cache entry rattler links *record* from, with the record's archive hashes."""
    return ExpectedEntry(
        dirname=f"{record.name.normalized}-{record.version}-{record.build}",
        sha256=bytes(record.sha256).hex() if record.sha256 else None,
        md5=bytes(record.md5).hex() if record.md5 else None,
    )


def _partial_names(records: Sequence[Any]) -> list[str]:
    """The prefixes of rattler's temporary extraction directories for *records*: ``.<name>-<version>-<build>``."""
    return [f".{record.name.normalized}-{record.version}-{record.build}" for record in records]


def _partial_entries(cache_dir: Path, records: Sequence[Any]) -> set[str]:
    """rattler's temporary extraction directories for *records* in *cache_dir* now (another run's, if any)."""
    prefixes = tuple(_partial_names(records))
    try:
        return {entry.name for entry in os.scandir(cache_dir) if entry.name.startswith(prefixes)}
    except OSError:
        return set()


def _remove_partial_entries(cache_dir: Path, records: Sequence[Any], before: set[str]) -> None:
    """Remove the temporary extraction directories this install left in *cache_dir* (a cancelled one keeps them)."""
    import shutil

    for name in _partial_entries(cache_dir, records) - before:
        path = cache_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.unlink()


class _InstallReporter:
    """rattler's ``InstallerReporter``: feeds download progress to a :class:`Watch` and the status line."""

    def __init__(self, records: Sequence[Any], watch: Watch, status: Status) -> None:
        self._by_name = {record.name.normalized: record for record in records}
        self._watch = watch
        self._status = status
        self._names: dict[int, str] = {}
        self._downloads: dict[int, str] = {}
        self._bytes: dict[int, int] = {}
        self._counter = 0
        self._done = 0
        self._linked = 0
        self._total = len(records)

    def _token(self) -> int:
        self._counter += 1
        return self._counter

    def on_populate_cache_start(self, operation: int, package_name: str) -> int:
        """A package enters the package cache."""
        token = self._token()
        self._names[token] = str(package_name)
        return token

    def on_download_start(self, cache_entry: int) -> int:
        """A download begins: watch it."""
        token = self._token()
        name = self._names.get(cache_entry, "")
        record = self._by_name.get(name)
        file_name = record.file_name if record is not None else name or "a package"
        size = int(record.size) if record is not None and record.size else None
        self._downloads[token] = file_name
        self._watch.started(token, file_name, size)
        self._status.show("downloading packages")
        return token

    def on_download_progress(self, download_idx: int, progress: int, total: int | None) -> None:
        """Bytes arrived."""
        self._watch.progress(download_idx, progress)
        self._bytes[download_idx] = progress
        self._status.detail(f"{self._done}/{len(self._downloads)} done, {human_bytes(sum(self._bytes.values()))}")

    def on_download_completed(self, download_idx: int) -> None:
        """A download is complete."""
        self._watch.finished(download_idx)
        self._done += 1

    def on_link_start(self, operation: int, package_name: str) -> int:
        """A package is linked into the prefix."""
        self._linked += 1
        self._status.show("linking")
        self._status.detail(f"{self._linked}/{self._total} {package_name}")
        return self._token()

    def on_link_complete(self, index: int) -> None:
        """Unused."""

    def on_transaction_start(self, total_operations: int) -> None:
        """Unused."""

    def on_transaction_operation_start(self, operation: int) -> None:
        """Unused."""

    def on_validate_start(self, cache_entry: int) -> int:
        """Unused."""
        return 0

    def on_validate_complete(self, validate_idx: int) -> None:
        """Unused."""

    def on_populate_cache_complete(self, cache_entry: int) -> None:
        """Unused."""

    def on_unlink_start(self, operation: int, package_name: str) -> int:
        """Unused."""
        return 0

    def on_unlink_complete(self, index: int) -> None:
        """Unused."""

    def on_transaction_operation_complete(self, operation: int) -> None:
        """Unused."""

    def on_transaction_complete(self) -> None:
        """Unused."""

    def on_post_link_start(self, package_name: str, script_path: str) -> int:
        """Unused."""
        return 0

    def on_post_link_complete(self, index: int, success: bool) -> None:
        """Unused."""

    def on_pre_unlink_start(self, package_name: str, script_path: str) -> int:
        """Unused."""
        return 0

    def on_pre_unlink_complete(self, index: int, success: bool) -> None:
        """Unused."""


@contextlib.contextmanager
def _rust_panic_output_held_back() -> Iterator[None]:
    """Send what Rust writes to fd 2 to a temporary file meanwhile; pass it on unless it is a panic report.

    A Rust panic prints its message and a backtrace straight to fd 2; ce turns
    the panic into one error line instead.  Anything else written is copied to
    stderr afterwards.
    """
    import tempfile

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, AttributeError, ValueError):
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            text = held.read(1 << 20)
            if text and b"panicked at" not in text:
                with contextlib.suppress(OSError):
                    os.write(2, text)


def _unsafe_path(path: object) -> bool:
    """Whether a ``paths.json`` entry would leave the prefix (absolute, a drive, or a ``..`` part)."""
    if not isinstance(path, str) or not path or "\0" in path:
        return True
    normalized = path.replace("\\", "/")
    return normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":") or ".." in normalized.split("/")


def _check_metadata(record: Any, files: dict[str, bytes | None]) -> list[tuple[str, str]]:
    """Refuse an archive whose ``info/`` contradicts its record, names paths outside the prefix or relocates a link.

    Returns its ``paths.json`` entries as ``(path, path_type)``.
    """
    label = record.file_name
    try:
        index = json.loads(files.get("info/index.json") or b"null")
        paths = json.loads(files.get("info/paths.json") or b'{"paths": []}')
    except ValueError as error:
        raise InstallError(f"package {label} is broken: unreadable metadata ({error})") from error
    if not isinstance(index, dict) or not isinstance(paths, dict) or not isinstance(paths.get("paths"), list):
        raise InstallError(f"package {label} is broken: missing or malformed info/index.json or info/paths.json")
    expected = (record.name.normalized, str(record.version), str(record.build))
    found = (str(index.get("name", "")).lower(), str(index.get("version", "")), str(index.get("build", "")))
    if found != expected:
        raise InstallError(
            f"package archive {label} is {'-'.join(found)}, not {'-'.join(expected)} as the channel says; "
            "nothing was installed"
        )
    entries: list[tuple[str, str]] = []
    for entry in paths["paths"]:
        path = entry.get("_path") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(path, str) or _unsafe_path(path):
            raise InstallError(f"package {label} is broken: it installs {str(path)[:200]!r} outside the environment")
        normal = _normal_path(path)
        if normal.partition("/")[0] == "conda-meta" or normal in CE_PREFIX_FILES:
            # conda's records and history, and ce's own record and caches: no package's file or link goes there.
            raise InstallError(f"package {label} is broken: it installs {path[:200]!r} where ce keeps its records")
        kind = str(entry.get("path_type", "hardlink"))
        if kind == "softlink" and entry.get("prefix_placeholder") is not None:
            # rattler would read the link's target (anywhere) to rewrite it into the environment.
            raise InstallError(
                f"package {label} is broken: {path[:200]!r} is a symbolic link with a prefix placeholder; "
                "nothing was installed"
            )
        entries.append((normal, kind))
    return entries


def _normal_path(path: str) -> str:
    """A ``paths.json`` path as ``/``-separated parts without empty or ``.`` ones."""
    return "/".join(part for part in path.replace("\\", "/").split("/") if part not in ("", "."))


def _check_nesting(checked: Sequence[tuple[Any, list[tuple[str, str]]]]) -> None:
    """Refuse packages that install a path below another path installed as a file or link.

    A link ``lib -> /elsewhere`` and a file ``lib/x`` would have the file
    written through the link; rattler sets such clashes aside, but the
    environment would be broken, and what ce writes later (PyPI packages,
    byte-compilation) could follow the link.
    """
    owners: dict[str, str] = {}
    for record, entries in checked:
        for path, _kind in entries:
            owners.setdefault(path, record.file_name)
    for record, entries in checked:
        for path, _kind in entries:
            parent = path.rpartition("/")[0]
            while parent:
                if parent in owners:
                    raise InstallError(
                        f"package {record.file_name} installs {path[:200]!r} below {parent[:200]!r}, "
                        f"a file or link of package {owners[parent]}; nothing was installed"
                    )
                parent = parent.rpartition("/")[0]


def _check_entry_links(record: Any, entry_dir: Path, entries: list[tuple[str, str]]) -> None:
    """Refuse an extracted package whose files are symbolic links its ``paths.json`` does not declare.

    rattler reads a file it copies or relocates through any link in the package
    cache (a link to another user's file would be copied into the environment),
    and hard-links a link where a file is declared.
    """
    links = _links_under(str(entry_dir))
    if not links:
        return
    for path, kind in entries:
        if kind != "softlink" and path in links:
            raise InstallError(
                f"package {record.file_name} is broken: {path[:200]!r} is a symbolic link, "
                f"but its metadata says {kind}; nothing was installed"
            )


def _links_under(root: str) -> set[str]:
    """The ``/``-separated relative paths of the symbolic links under *root* (from directory entries: no stat calls)."""
    links: set[str] = set()
    pending = [("", root)]
    while pending:
        relative, directory = pending.pop()
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.is_symlink():
                        links.add(relative + entry.name)
                    elif entry.is_dir(follow_symlinks=False):
                        pending.append((relative + entry.name + "/", entry.path))
        except OSError:
            continue
    return links


def _cached_metadata(record: Any, cache_dir: Path) -> dict[str, bytes | None] | None:
    """``info/`` of *record* from rattler's extracted cache entry, when that entry is this very archive."""
    entry = _entry_dir(record, cache_dir)
    try:
        lock = (cache_dir / f"{entry.name}.lock").read_bytes()
        if record.sha256 is None or lock[8:40] != bytes(record.sha256):
            return None
        return {name: (entry / name).read_bytes() for name in ("info/index.json", "info/paths.json")}
    except OSError:
        return None


def _check_local_archive(record: Any, path: str) -> None:
    """Refuse a ``file://`` archive that is not a regular file, or larger than its record allows.

    rattler would open a FIFO and wait for a writer forever, and read a device
    (a link to ``/dev/zero``) without end; checked before anything opens it.
    """
    try:
        info = os.stat(path)
    except OSError:
        return  # missing or unreadable: the installer reports it
    if not stat.S_ISREG(info.st_mode):
        raise InstallError(f"package archive {record.file_name}: {path} is not a regular file; nothing was installed")
    if info.st_size > size_cap(record.size):
        raise InstallError(
            f"package archive {record.file_name} is larger than its recorded size ({info.st_size} bytes); "
            "nothing was installed"
        )


def _entry_dir(record: Any, cache_dir: Path) -> Path:
    """rattler's extracted cache entry of *record*."""
    return cache_dir / f"{record.name.normalized}-{record.version}-{record.build}"


async def _check_archive(
    record: Any, cache_dir: Path, offline: bool, client: Any, stall: float
) -> tuple[list[tuple[str, str]] | None, bool]:
    """*record*'s checked ``paths.json`` entries (``None``: unreadable before the install), and whether it is cached.

    A cached entry is checked whole here; an archive's files only once extracted.
    """
    files = _cached_metadata(record, cache_dir)
    if files is not None:
        entries = _check_metadata(record, files)
        _check_entry_links(record, _entry_dir(record, cache_dir), entries)
        return entries, True
    if files is None:
        url = urlsplit(record.url)
        if url.scheme == "file":
            _check_local_archive(record, unquote(url.path))
        try:
            if url.scheme == "file":
                archive = await PackageArchive.from_path(unquote(url.path))
                files = await archive.read_files(["info/index.json", "info/paths.json"])
            elif url.scheme in ("http", "https") and not offline and record.file_name.endswith(".conda"):
                reading = _read_remote_metadata(client, record.url)
                files = await asyncio.wait_for(reading, stall) if stall > 0 else await reading
            else:
                return None, False  # read whole by the installer anyway; checked once extracted
        except asyncio.TimeoutError as error:
            raise TransferAborted(f"timed out after {format_secs(stall)} s downloading {record.file_name}") from error
        except Exception:
            return None, False  # unreadable here: the installer reports it
    return _check_metadata(record, files), False


async def _read_remote_metadata(client: Any, url: str) -> dict[str, bytes | None]:
    archive = await PackageArchive.from_url(client, url, sparse="require")
    files: dict[str, bytes | None] = await archive.read_files(["info/index.json", "info/paths.json"])
    return files


async def _check_archives(
    records: Sequence[Any], cache_dir: Path, offline: bool, client: Any, stall: float
) -> dict[int, list[tuple[str, str]] | None]:
    """Refuse, before anything is linked, archives rattler would link outside the prefix, through a link, or panic on.

    Returns, by index into *records*, the packages not yet in the cache, with
    their checked ``paths.json`` entries when they could be read.
    """
    found = await asyncio.gather(*(_check_archive(record, cache_dir, offline, client, stall) for record in records))
    _check_nesting(
        [(record, entries) for record, (entries, _cached) in zip(records, found, strict=True) if entries is not None]
    )
    return {index: entries for index, (entries, cached) in enumerate(found) if not cached}


def _check_extracted(
    records: Sequence[Any], cache_dir: Path, extracted: dict[int, list[tuple[str, str]] | None]
) -> None:
    """After the install: the cache entries it extracted hold no undeclared links and nothing others can write.

    An archive whose files are links where ``paths.json`` declares files, or
    one read whole only by the installer, is caught here: the build directory
    is then discarded, never renamed in, and the next install refuses the
    cached entry before linking.
    """
    for index, known in extracted.items():
        record = records[index]
        entry_dir = _entry_dir(record, cache_dir)
        entries = known
        if entries is None:
            try:
                files = {name: (entry_dir / name).read_bytes() for name in ("info/index.json", "info/paths.json")}
            except OSError:
                continue
            entries = _check_metadata(record, dict(files))
        _check_entry_links(record, entry_dir, entries)
        restrict_modes(str(entry_dir))
