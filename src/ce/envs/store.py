"""The environment store: lookup, atomic builds, listing and cleanup of ``envs/``.

An environment becomes visible under its name only when complete: it is built
in ``envs/.build-<name>.<random>``, ce's record (``.ce-env.json``) is written
last, and it is renamed into place.  Only the record makes it complete, and
only if nobody else controls it (:func:`ce.base.is_trusted`): an environment
made by an older ce (its record in ``conda-meta``) is rebuilt on first use.  One process
builds a given name at a time (a build lock); the others wait and reuse it.
Removal takes the in-use lock exclusively without waiting, so an environment
that a tool is running from is never removed (see :mod:`ce.base`, locks).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ce import __version__
from ce.base import (
    BUILD_PREFIX,
    EUID,
    RECORD_FILENAME,
    TRASH_PREFIX,
    VERIFIED_STORE_DIRNAME,
    CachePaths,
    hold_exclusive,
    is_env_name,
    is_trusted,
    lock_descriptor,
    rattler_cache_root,
    read_index_entry,
    read_regular,
    release,
    remove_if_free,
    try_exclusive,
)
from ce.errors import CacheError, CeError, InstallError, UntrustedCacheError
from ce.fileio import (
    STALE_TEMPORARY_SECONDS,
    is_temporary,
    remove_stale_temporaries,
    restrict_modes,
    write_atomically,
)
from ce.interrupts import raise_if_interrupted

#: Keys of ``.ce-env.json``: bytes only the environment holds, and bytes shared with the package cache.
OWN_BYTES_KEY = "own_bytes"
SHARED_BYTES_KEY = "shared_bytes"
#: Sizes measured on demand (environments recorded without them), per prefix, for this process.
_MEASURED: dict[str, tuple[int, int]] = {}
SECONDS_PER_DAY = 86400.0
#: A last use further ahead of the clock than this is not one ce recorded on a sane clock (see :func:`last_use`).
FUTURE_TOLERANCE_SECONDS = 3600.0
#: rattler extracts a package into ``.<name>-<version>-<build><6 random characters>`` in the
#: package cache, beside the entry's ``<name>-<version>-<build>.lock``, and renames it into place.
RATTLER_EXTRACTION = re.compile(r"\.(?P<entry>.+-[^-]+-[^-]+)[A-Za-z0-9]{6}")
#: The lock rattler holds exclusively on the whole package cache while it fills an entry.
RATTLER_CACHE_LOCK = ".cache.lock"
#: An extraction directory younger than this is never swept, even with every lock free:
#: another rattler version (pixi's) may extract without taking the locks ce checks.
STALE_EXTRACTION_SECONDS = 600.0
_OPEN_LOCK_FLAGS = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


#: An environment record larger than this is ignored (a real one is well under 10 KB).
MAX_RECORD_BYTES = 1024 * 1024
#: A package's ``conda-meta`` record larger than this is left out of the history (its file list is in it).
MAX_PACKAGE_RECORD_BYTES = 64 * 1024 * 1024
#: The record fields ce reads, and their type (``list`` means a list of strings).
RECORD_FIELDS: dict[str, type] = {
    "kind": str,
    "command": str,
    "package": str,
    "platform": str,
    "specs": list,
    "channels": list,
    "size_bytes": int,
}


def _field_ok(value: object, kind: type) -> bool:
    if kind is list:
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def read_record(path: str) -> dict[str, Any]:
    """The JSON record at *path* with only well-typed fields; ``{}`` when it is missing or corrupt.

    Only a regular file is read (a FIFO never blocks), at most :data:`MAX_RECORD_BYTES`;
    JSON too deep to parse counts as corrupt.
    """
    data = read_regular(path, MAX_RECORD_BYTES, follow_symlinks=False)
    if data is None or len(data) > MAX_RECORD_BYTES:
        return {}
    try:
        record = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return {}
    if not isinstance(record, dict):
        return {}
    return {
        key: value
        for key, value in record.items()
        if isinstance(key, str) and (key not in RECORD_FIELDS or _field_ok(value, RECORD_FIELDS[key]))
    }


#: conda's default channel alias: a channel under it is named by its name in conda's history.
CONDA_CHANNEL_ALIAS = "https://conda.anaconda.org/"
#: A line of conda's history that names a request (``conda/history.py``: ``com_pat``).
_HISTORY_COMMAND = re.compile(r"^#\s*cmd:", re.MULTILINE)


def _dist_str(record: dict[str, Any]) -> str | None:
    """conda's ``PackageRecord.dist_str()`` of a ``conda-meta`` record: ``channel/subdir::name-version-build``.

    The channel is named as conda names one under its default alias (``conda-forge``), else by its URL.
    """
    fields = [record.get(key) for key in ("name", "version", "build")]
    if not all(isinstance(value, str) and value and value.strip() == value for value in fields):
        return None
    channel, subdir = record.get("channel"), record.get("subdir")
    channel = channel.rstrip("/") if isinstance(channel, str) else ""
    subdir = subdir if isinstance(subdir, str) else ""
    if subdir and channel.endswith("/" + subdir):
        channel = channel[: -len(subdir) - 1]
    if channel.startswith(CONDA_CHANNEL_ALIAS):
        channel = channel[len(CONDA_CHANNEL_ALIAS) :]
    if any(char.isspace() for char in channel + subdir):
        return None
    return f"{channel}{'/' + subdir if subdir else ''}::{'-'.join(fields)}"  # type: ignore[arg-type]


def linked_dists(meta_dir: str) -> list[str]:
    """The ``+`` lines conda writes in its history for the packages whose records are in *meta_dir*, sorted."""
    dists = []
    for entry in _list_real_dir(meta_dir):
        if not entry.name.endswith(".json") or entry.name.startswith("._"):
            continue
        data = read_regular(entry.path, MAX_PACKAGE_RECORD_BYTES, follow_symlinks=False)
        try:
            record = json.loads(data.decode("utf-8")) if data is not None else None
        except (ValueError, RecursionError):
            continue
        dist = _dist_str(record) if isinstance(record, dict) else None
        if dist is not None:
            dists.append(dist)
    return sorted(dists)


def history_entry(meta_dir: str, specs: object, written: str = "") -> str:
    """What ce adds to ``conda-meta/history`` (holding *written*) when it completes an environment.

    conda keeps the packages its history says were asked for (``# update specs:``, in an entry with a
    ``# cmd:`` line) and removes whatever else nothing needs, so a history without them loses the tool
    at the first ``conda remove -p`` of another package.  The entry is the one ``conda create`` writes
    (``conda/history.py``): the date, the command, the linked packages and the specs asked for; ce
    writes no ``# conda version:``, which conda only compares between its own versions.  A history
    that already names a request (conda's transaction wrote one) only gets ce's comment.
    """
    stamp = f"# created by ce {__version__}\n"
    if _HISTORY_COMMAND.search(written):
        return ("" if not written or written.endswith("\n") else "\n") + stamp
    asked = [spec for spec in specs if isinstance(spec, str)] if isinstance(specs, list) else []
    lines = [
        f"==> {time.strftime('%Y-%m-%d %H:%M:%S')} <==",
        "# cmd: ce " + " ".join(" ".join(spec.split()) for spec in asked),
        stamp.rstrip("\n"),
        *(f"+{dist}" for dist in linked_dists(meta_dir)),
    ]
    if asked:
        lines.append(f"# update specs: {asked!r}")
    return ("" if not written or written.endswith("\n") else "\n") + "\n".join(lines) + "\n"


@dataclass(frozen=True)
class EnvEntry:
    """One complete cached environment."""

    name: str
    path: str
    last_used: float
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def package(self) -> str:
        """The tool's package name, or ``script`` for script environments."""
        return self.name.rsplit("--", 1)[0]

    @property
    def created(self) -> float | None:
        """When ce built the environment: its record's ``created`` time, else the record's mtime; None if neither."""
        value = self.metadata.get("created")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < float("inf"):
            return float(value)
        try:
            return os.lstat(os.path.join(self.path, RECORD_FILENAME)).st_mtime
        except OSError:
            return None

    def package_count(self) -> int:
        """The conda packages installed, as conda counts them: the ``*.json`` records in ``conda-meta``."""
        try:
            with os.scandir(os.path.join(self.path, "conda-meta")) as found:
                return sum(1 for item in found if item.name.endswith(".json") and item.is_file(follow_symlinks=False))
        except OSError:
            return 0

    @property
    def size(self) -> int | None:
        """Bytes that removing the environment frees (see :meth:`sizes`)."""
        return self.sizes()[0]

    def sizes(self) -> tuple[int | None, int | None]:
        """``(own, shared)``: bytes only this environment holds, and bytes hard-linked from the package cache.

        Recorded when the environment was built; environments recorded by an
        older ce (which counted shared files as its own) are measured now.
        ``(None, None)`` when neither works.
        """
        own, shared = self.metadata.get(OWN_BYTES_KEY), self.metadata.get(SHARED_BYTES_KEY)
        if isinstance(own, int) and isinstance(shared, int):
            return own, shared
        cached = _MEASURED.get(self.path)
        if cached is None:
            if not os.path.isdir(self.path) or os.path.islink(self.path):
                return None, None
            cached = _MEASURED[self.path] = tree_sizes(self.path)
        return cached


@dataclass(frozen=True)
class CleanResult:
    """What a cleanup removed (or would remove), and what it skipped because it was in use."""

    removed: list[EnvEntry]
    in_use: list[EnvEntry]

    @property
    def freed_bytes(self) -> int:
        """Bytes freed (or that would be): files not shared with the package cache."""
        return sum(entry.sizes()[0] or 0 for entry in self.removed)

    @property
    def shared_bytes(self) -> int:
        """Bytes of the removed environments that stay on disk in the package cache."""
        return sum(entry.sizes()[1] or 0 for entry in self.removed)

    def describe_freed(self) -> str:
        """``freed 1.6 MB (59.4 MB shared with the package cache stays)``."""
        return describe_freed(self.freed_bytes, self.shared_bytes)

    def describe_auto_clean(self) -> str:
        """The one line an automatic cleanup reports."""
        return f"auto-clean removed {len(self.removed)} unused environment(s), {self.describe_freed()}"


def describe_freed(freed: int, shared: int, verb: str = "freed") -> str:
    """*freed* bytes for people, with the part shared with the package cache (which stays) after it."""
    text = f"{verb} {format_size(freed)}"
    return f"{text} ({format_size(shared)} shared with the package cache stays)" if shared else text


def format_size(size: int | None) -> str:
    """*size* in bytes for people (``59.4 MB``); ``?`` when unknown."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def tree_sizes(path: str) -> tuple[int, int]:
    """``(own, shared)`` bytes of the files under *path*, each inode counted once, symlinks not followed.

    A file with more hard links than *path* holds (``st_nlink`` above the links
    found under *path*) is shared, typically with the package cache that
    installed it: removing *path* does not free it.  Everything else is own.
    """
    own = shared = 0
    for size, links, seen in _inodes(path).values():
        if links > seen:
            shared += size
        else:
            own += size
    return own, shared


def _inodes(path: str) -> dict[tuple[int, int], list[int]]:
    """``(dev, ino) -> [size, links, links found under path]`` of the files under *path* (symlinks not followed)."""
    inodes: dict[tuple[int, int], list[int]] = {}
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                info = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            found = inodes.get((info.st_dev, info.st_ino))
            if found is None:
                inodes[(info.st_dev, info.st_ino)] = [info.st_size, info.st_nlink, 1]
            else:
                found[2] += 1
    return inodes


def shared_files(path: str) -> dict[tuple[int, int], int]:
    """``(dev, ino) -> size`` of the files under *path* that are shared (see :func:`tree_sizes`)."""
    return {key: size for key, (size, links, seen) in _inodes(path).items() if links > seen}


def shared_total(shared: Iterable[dict[tuple[int, int], int]]) -> int:
    """Bytes of the shared files of several environments, each inode counted once.

    The environments of one cache link the same package cache files (python's
    files in every one of them): adding their per-environment figures counts
    those files once per environment, several times what stays on disk.
    """
    union: dict[tuple[int, int], int] = {}
    for files in shared:
        union.update(files)
    return sum(union.values())


def tree_size(path: str) -> int:
    """Bytes that removing *path* would free (see :func:`tree_sizes`)."""
    return tree_sizes(path)[0]


def _remove_tree(path: str) -> None:
    """Remove *path* without ever following a symlink out of it (best effort).

    Directories without read or search permission (which ce itself may have
    created from a package's modes) are made accessible and the removal
    retried; entries that vanish meanwhile (a concurrent sweep) are fine.
    """
    if os.path.islink(path):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return

    def make_accessible(_function: Callable[..., Any], failed: str, _info: Any) -> None:
        for target in (failed, os.path.dirname(failed)):
            with contextlib.suppress(OSError):
                if stat.S_ISDIR(os.lstat(target).st_mode):  # never chmod through a link
                    os.chmod(target, stat.S_IRWXU)

    import shutil  # only when removing: shutil (with tempfile) is a few ms of every cold run otherwise

    for _attempt in range(4):
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=make_accessible)
        else:  # pragma: no cover - Python < 3.12
            shutil.rmtree(path, onerror=make_accessible)
        if not os.path.lexists(path):
            return


def _list_real_dir(path: str) -> list[os.DirEntry[str]]:
    """The entries of directory *path*; none when it is missing, unreadable or a symbolic link."""
    if os.path.islink(path):
        return []
    try:
        with os.scandir(path) as entries:
            return list(entries)
    except OSError:
        return []


def make_private_dir(parent: str, prefix: str) -> str:
    """A new directory ``<parent>/<prefix><random>``, private to the user (like ``tempfile.mkdtemp``)."""
    for _attempt in range(100):
        path = os.path.join(parent, prefix + os.urandom(6).hex())
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return path
    raise CacheError(f"cannot create a unique directory in {parent}")


def distrust(path: str, info: os.stat_result, what: str = "cache directory") -> str | None:
    """Why the *what* at *path*, whose stat result is *info*, is not trusted (:func:`ce.base.is_trusted`), or ``None``.

    One line: the path, the owner or mode that is wrong, and the fix.
    """
    if is_trusted(info):
        return None
    import shlex  # only on this rare path

    mode = stat.S_IMODE(info.st_mode)
    quoted = shlex.quote(path)
    if info.st_uid not in (EUID, 0):
        fix = "remove it, or " if what == "environment" else ""
        return (
            f"ce runs nothing from a cache another user controls: {what} {path} is owned by another user "
            f"(uid {info.st_uid}); {fix}set CONDA_EXEC_HOME to a directory of your own"
        )
    who, bits = ("others", "o-w") if info.st_uid == EUID else ("its group or others", "go-w")
    return (
        f"ce runs nothing from a cache another user could change: {what} {path} is writable by {who} "
        f"(mode {mode:04o}); run chmod {bits} {quoted}, or set CONDA_EXEC_HOME to a directory of your own"
    )


def check_trusted(path: str, what: str, follow_symlinks: bool = False) -> None:
    """Raise :class:`UntrustedCacheError` if *path* exists and another user controls it (see :func:`distrust`)."""
    try:
        info = os.stat(path, follow_symlinks=follow_symlinks)
    except OSError:
        return  # missing: created by ce (private) when needed; other problems are reported where it is used
    if not stat.S_ISDIR(info.st_mode):
        return  # a link or a file: never used as a directory, and reported as such where it is used
    problem = distrust(path, info, what)
    if problem is not None:
        raise UntrustedCacheError(problem)


def last_use(history_mtime: float, created: float, now: float) -> float:
    """An environment's last use: its history's mtime, unless that is ahead of the clock.

    Every run touches the history (at most hourly, and at once when it is ahead), so a time
    still in the future means no run since the clock went back: the last use is unknown and
    the environment counts as used when it was created (its record's mtime), or, if that is
    ahead too, as never used, so that cleanup by age can remove it.
    """
    if history_mtime <= now + FUTURE_TOLERANCE_SECONDS:
        return history_mtime
    return created if created <= now + FUTURE_TOLERANCE_SECONDS else 0.0


def _lock_if_free(path: str) -> tuple[bool, int | None]:
    """``(free, fd)``: take the existing lock file *path* without waiting (never creating it or following a link).

    A missing lock is free (``fd`` is ``None``); a lock someone holds is not.
    """
    try:
        fd = os.open(path, os.O_RDONLY | _OPEN_LOCK_FLAGS)
    except FileNotFoundError:
        return True, None
    except OSError:
        return False, None
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode) and lock_descriptor(fd, wait=False):
            return True, fd
    except OSError:
        pass
    os.close(fd)
    return False, None


def remove_stale_extractions(cache_dir: str, max_age: float = STALE_EXTRACTION_SECONDS) -> int:
    """Remove rattler's temporary extraction directories in the package cache *cache_dir* that a killed
    process left (SIGTERM or SIGKILL mid-extraction); return how many.

    A directory is abandoned when it is older than *max_age*, the cache's ``.cache.lock`` is free
    (rattler holds it while it extracts) and so is its entry's ``.lock``: flocks die with their
    process, so a live extraction always holds one.  Both stay held while the directory is removed.
    Only names of rattler's pattern whose entry lock exists are touched (a package cache may be
    conda's), never a symbolic link, nothing in a *cache_dir* that is one.
    """
    candidates = []
    cutoff = time.time() - max_age
    for entry in _list_real_dir(cache_dir):
        match = RATTLER_EXTRACTION.fullmatch(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISDIR(info.st_mode) or info.st_mtime >= cutoff:
                continue
            lock = os.lstat(os.path.join(cache_dir, match["entry"] + ".lock"))
        except OSError:
            continue
        if stat.S_ISREG(lock.st_mode):
            candidates.append((entry.path, os.path.join(cache_dir, match["entry"] + ".lock")))
    if not candidates:
        return 0
    free, cache_lock = _lock_if_free(os.path.join(cache_dir, RATTLER_CACHE_LOCK))
    if not free:
        return 0  # an install is filling the cache now: its directory may be among these
    removed = 0
    try:
        for path, entry_lock in candidates:
            free, fd = _lock_if_free(entry_lock)
            if not free:
                continue
            try:
                _remove_tree(path)
                removed += 1
            finally:
                release(fd)
    finally:
        release(cache_lock)
    return removed


class EnvCache:
    """The cached environments under one cache home."""

    def __init__(self, paths: CachePaths) -> None:
        self.paths = paths

    def ensure(self) -> None:
        """Create the cache directories, private to the user."""
        self.check_trusted()  # before writing anything into them
        for directory in (self.paths.root, self.paths.envs, self.paths.locks):
            if directory != self.paths.root and os.path.islink(directory):
                raise CacheError(f"cache path {directory} is a symbolic link; ce does not build or clean through links")
            try:
                os.makedirs(directory, mode=0o700, exist_ok=True)
            except FileExistsError:
                raise CacheError(f"cache path {directory} exists and is not a directory") from None
            except OSError as error:
                raise CacheError(f"cannot create cache directory {directory}: {error.strerror}") from error
            if not os.path.isdir(directory):
                raise CacheError(f"cache path {directory} is not a directory")
            if not os.access(directory, os.W_OK | os.X_OK):
                raise CacheError(f"cache directory {directory} is not writable; set CONDA_EXEC_HOME elsewhere")

    def check_trusted(self, name: str | None = None) -> None:
        """Raise :class:`UntrustedCacheError` if another user controls the cache's directories (or *name*'s)."""
        check_trusted(self.paths.root, "cache directory", follow_symlinks=True)
        for path in (self.paths.envs, self.paths.locks, self.paths.index):
            check_trusted(path, "cache directory")
        if name is not None:
            check_trusted(self.paths.env(name), "environment")

    def is_complete(self, name: str) -> bool:
        """Whether *name* is a complete environment: a real directory holding ce's record, both trusted."""
        try:
            info = os.lstat(self.paths.env(name))
            record = os.lstat(self.paths.record(name))
        except OSError:
            return False
        return stat.S_ISDIR(info.st_mode) and stat.S_ISREG(record.st_mode) and is_trusted(info) and is_trusted(record)

    def lookup(self, name: str) -> str | None:
        """The prefix of complete environment *name*, or ``None`` (a symbolic link is never one).

        Raises :class:`UntrustedCacheError` when another user controls the cache or the environment.
        """
        self.check_trusted(name)
        return self.paths.env(name) if self.is_complete(name) else None

    def build(
        self,
        name: str,
        create: Callable[[str, str], None],
        metadata: dict[str, Any],
        refresh: bool = False,
        on_wait: Callable[[str], None] | None = None,
    ) -> str:
        """Return the prefix of *name*, building it with ``create(build_dir, final_prefix)`` if needed.

        With *refresh*, a new environment replaces the existing one once no
        tool runs from it.
        """
        self.ensure()
        final = self.paths.env(name)
        waited = None
        if on_wait is not None:
            report = on_wait

            def waited(held: str) -> None:
                report(f"waiting for another ce process that is building {name}: {held}")

        build_lock = hold_exclusive(self.paths.build_lock(name), on_wait=waited)
        try:
            if not refresh and self.is_complete(name):
                return final
            self._sweep_builds(name)
            self.sweep_package_cache()  # what killed installs left there, before this one adds to it
            build_dir = make_private_dir(self.paths.envs, f"{BUILD_PREFIX}{name}.")
            try:
                create(build_dir, final)
                raise_if_interrupted()  # an environment built after Ctrl-C is not published
                self._finish(build_dir, metadata)
                self._publish(name, build_dir, final, on_wait)
            except BaseException:
                _remove_tree(build_dir)
                raise
            return final
        finally:
            release(build_lock)

    def _finish(self, build_dir: str, metadata: dict[str, Any]) -> None:
        # Whatever wrote the environment (an installer keeping archive modes, uv, byte-compilation),
        # nothing in it stays writable by other users; files linked from the package cache share the fix.
        restrict_modes(build_dir)
        meta_dir = os.path.join(build_dir, "conda-meta")
        if os.path.islink(meta_dir):
            raise InstallError("a package installed conda-meta as a symbolic link; nothing was installed")
        os.makedirs(meta_dir, exist_ok=True)
        # conda needs the history: what was asked for (conda keeps it through `conda remove` of another
        # package), and its mtime is the last use.  A package's link there (inside the build directory) is
        # removed, never followed.
        history = os.path.join(meta_dir, "history")
        if os.path.islink(history):
            os.unlink(history)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        with os.fdopen(os.open(history, flags, 0o644), "a+", encoding="utf-8", errors="replace") as handle:
            handle.seek(0)
            written = handle.read(MAX_RECORD_BYTES)
            handle.write(history_entry(meta_dir, metadata.get("specs"), written))
        record = dict(metadata, created=time.time(), ce_version=__version__)
        own, shared = tree_sizes(build_dir)
        # size_bytes (the apparent total) is all that older ce recorded and read; ce now reads the two parts.
        record.update({"size_bytes": own + shared, OWN_BYTES_KEY: own, SHARED_BYTES_KEY: shared})
        # ce's record marks the environment complete: written last, outside conda's conda-meta, as a new
        # file in place of anything at that name (a link is replaced, never followed).
        write_atomically(os.path.join(build_dir, RECORD_FILENAME), json.dumps(record, indent=2, sort_keys=True), 0o644)

    def _publish(self, name: str, build_dir: str, final: str, on_wait: Callable[[str], None] | None) -> None:
        if not os.path.lexists(final):
            os.rename(build_dir, final)
            return
        in_use_lock = self.paths.in_use_lock(name)
        fd = try_exclusive(in_use_lock)
        gate = None
        if fd is None:
            if on_wait is not None:
                on_wait(f"waiting for running tools to exit before replacing {name}")
            gate = hold_exclusive(self.paths.refresh_lock(name))  # new runs pause (see base.wait_for_gate)
            fd = hold_exclusive(in_use_lock)
        trash = None
        try:
            if os.path.lexists(final):  # a cleanup may have removed it while this waited for the lock
                trash = self._move_to_trash(name, final)
            os.rename(build_dir, final)
        finally:
            release(fd)
            release(gate)
        if trash is not None:
            _remove_tree(trash)

    def _move_to_trash(self, name: str, prefix: str) -> str:
        """Make environment *name* disappear at once: move *prefix* into a new ``.trash-<name>.<random>``.

        The caller holds *name*'s in-use lock exclusively (which :meth:`sweep` relies on);
        the returned directory is deleted after the lock is released.
        """
        trash = make_private_dir(self.paths.envs, f"{TRASH_PREFIX}{name}.")
        os.rename(prefix, os.path.join(trash, "env"))
        return trash

    def _sweep_builds(self, name: str) -> int:
        """Remove leftovers of interrupted builds of *name* (the caller holds its build lock).

        Its ``.trash-`` directories are left to :meth:`sweep`: a removal may be filling one now.
        """
        removed = 0
        for entry in self._scan():
            if entry.name.startswith(f"{BUILD_PREFIX}{name}."):
                _remove_tree(entry.path)
                removed += 1
        return removed

    def _scan(self) -> list[os.DirEntry[str]]:
        self.check_trusted()
        if os.path.islink(self.paths.envs):
            raise CacheError(
                f"cache path {self.paths.envs} is a symbolic link; ce does not build or clean through links"
            )
        try:
            with os.scandir(self.paths.envs) as entries:
                return list(entries)
        except FileNotFoundError:
            return []
        except NotADirectoryError:
            raise CacheError(f"cache path {self.paths.envs} is not a directory") from None

    def entries(self) -> list[EnvEntry]:
        """Every complete environment (see :meth:`is_complete`), sorted by name."""
        found = []
        now = time.time()
        for entry in self._scan():
            if entry.name.startswith(".") or "--" not in entry.name or not self.is_complete(entry.name):
                continue
            try:
                created = os.lstat(os.path.join(entry.path, RECORD_FILENAME)).st_mtime
            except OSError:
                continue
            try:
                used = os.stat(os.path.join(entry.path, "conda-meta", "history"), follow_symlinks=False).st_mtime
            except OSError:
                used = created
            found.append(EnvEntry(entry.name, entry.path, last_use(used, created, now), self._metadata(entry.path)))
        return sorted(found, key=lambda item: item.name)

    @staticmethod
    def _metadata(prefix: str) -> dict[str, Any]:
        """The environment's record, read defensively: a bad record is an empty one, never an error."""
        return read_record(os.path.join(prefix, RECORD_FILENAME))

    def select(self, older_than_days: float | None, package: str | None = None) -> list[EnvEntry]:
        """Environments unused for *older_than_days* (all with ``None``), of *package* if given."""
        now = time.time()  # entries() puts a last use ahead of the clock in the past (see last_use)
        return [
            entry
            for entry in self.entries()
            if (package is None or entry.package == package)
            and (older_than_days is None or now - entry.last_used >= older_than_days * SECONDS_PER_DAY)
        ]

    def remove(self, entry: EnvEntry) -> bool:
        """Remove *entry* unless a tool is running from it; return whether it was removed."""
        entry.sizes()  # an environment recorded without its sizes is measured while it still exists
        fd = try_exclusive(self.paths.in_use_lock(entry.name))
        if fd is None:
            return False
        try:
            if not os.path.isdir(entry.path) or os.path.islink(entry.path):
                return False
            trash = self._move_to_trash(entry.name, entry.path)
        finally:
            release(fd)
        _remove_tree(trash)
        return True

    def sweep(self) -> int:
        """Remove leftovers of interrupted builds, removals and small writes nobody is working on."""
        removed = self._sweep_temporary_files()
        for entry in self._scan():
            # A .trash- directory is created and filled under the environment's in-use lock,
            # a .build- directory under its build lock: whoever holds the lock is still at work.
            if entry.name.startswith(TRASH_PREFIX):
                lock_path = self.paths.in_use_lock(entry.name[len(TRASH_PREFIX) :].rpartition(".")[0])
            elif entry.name.startswith(BUILD_PREFIX):
                lock_path = self.paths.build_lock(entry.name[len(BUILD_PREFIX) :].rpartition(".")[0])
            elif self._is_incomplete_own(entry):
                removed += self._remove_incomplete(entry)
                continue
            else:
                continue
            try:
                lock = try_exclusive(lock_path)
            except OSError:  # a lock this user cannot create: not this user's leftover to remove
                continue
            if lock is None:
                continue
            try:
                _remove_tree(entry.path)
                removed += 1
            finally:
                release(lock)
        return removed

    def _remove_incomplete(self, entry: os.DirEntry[str]) -> int:
        """Remove an environment made by an older ce (its record in conda-meta), or never finished.

        It would be rebuilt on its next use anyway.  Moved to the trash under its in-use lock, so
        never while a tool runs from it, and looked at again once locked: a rebuild may just have
        replaced it.
        """
        try:
            lock = try_exclusive(self.paths.in_use_lock(entry.name))
        except OSError:
            return 0
        if lock is None:
            return 0
        try:
            if not self._is_incomplete_own(entry):
                return 0
            trash = self._move_to_trash(entry.name, entry.path)
        except OSError:
            return 0
        finally:
            release(lock)
        _remove_tree(trash)
        return 1

    def _is_incomplete_own(self, entry: os.DirEntry[str]) -> bool:
        """Whether *entry* is an environment's directory, this user's own, but not complete."""
        if not is_env_name(entry.name) or "--" not in entry.name or self.is_complete(entry.name):
            return False
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            return False
        return stat.S_ISDIR(info.st_mode) and info.st_uid == EUID

    def _prune_locks_and_index(self) -> int:
        """Lock files and index entries (scripts and tools) of environments that no longer exist.

        A lock file is deleted only while nobody holds it (see :func:`ce.base.remove_if_free`);
        nothing is done inside a ``.locks`` or ``.index`` that is a symbolic link.
        """
        names = {entry.name for entry in self._scan()}
        busy = {
            entry_name[len(prefix) :].rpartition(".")[0]
            for entry_name in names
            for prefix in (BUILD_PREFIX, TRASH_PREFIX)
            if entry_name.startswith(prefix)
        }
        removed = 0
        for entry in _list_real_dir(self.paths.locks):
            if not entry.name.endswith(".lock") or is_temporary(entry.name):
                continue
            name = entry.name.removesuffix(".lock").removesuffix(".build").removesuffix(".refresh")
            if name in names or name in busy:
                continue
            if entry.is_symlink():
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
            elif remove_if_free(entry.path):
                removed += 1
        for entry in _list_real_dir(self.paths.index):
            if is_temporary(entry.name) or not (entry.is_symlink() or entry.is_file(follow_symlinks=False)):
                continue
            data = None if entry.is_symlink() else read_index_entry(self.paths, entry.name)
            lines = data.split(b"\n") if data is not None else []
            env_name = lines[1].decode("utf-8", "replace") if len(lines) > 1 else ""
            if not is_env_name(env_name) or not self.is_complete(env_name):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed += 1
        return removed

    def _sweep_temporary_files(self) -> int:
        """Temporaries that killed processes left: atomic writes (counter, index entries, settings cache,
        lock downloads, activation caches) and rattler's extraction directories in the package cache."""
        from ce.config.condarc import CACHE_DIR

        directories = [
            self.paths.root,
            self.paths.locks,
            self.paths.index,
            os.path.join(self.paths.root, CACHE_DIR),
            os.path.join(rattler_cache_root(), VERIFIED_STORE_DIRNAME),
        ]
        for entry in self.entries():  # the record and activation cache live in the prefix, conda's files in conda-meta
            directories += [entry.path, os.path.join(entry.path, "conda-meta")]
        removed = sum(remove_stale_temporaries(directory, STALE_TEMPORARY_SECONDS) for directory in directories)
        return removed + self.sweep_package_cache()

    @staticmethod
    def sweep_package_cache() -> int:
        """Remove abandoned extraction directories from the package cache (see :func:`remove_stale_extractions`)."""
        from ce.config.condarc import package_cache

        try:
            cache_dir = package_cache(os.environ)
        except (CeError, OSError):  # a condarc that cannot be read: its cleanup waits for a run that can
            return 0
        return remove_stale_extractions(cache_dir)

    def clean(self, older_than_days: float | None, package: str | None = None) -> CleanResult:
        """Remove the selected environments (see :meth:`select`), skipping those in use; sweep leftovers."""
        return self.clean_entries(self.select(older_than_days, package))

    def clean_entries(self, selected: list[EnvEntry]) -> CleanResult:
        """Remove *selected* (from :meth:`entries`), skipping those in use; sweep leftovers."""
        self.check_writable()
        removed: list[EnvEntry] = []
        in_use: list[EnvEntry] = []
        for entry in selected:
            (removed if self.remove(entry) else in_use).append(entry)
        self.sweep()
        self._prune_locks_and_index()
        return CleanResult(removed, in_use)

    def check_writable(self) -> None:
        """Raise :class:`CacheError` (one line) when this user may not remove anything from the cache.

        Removing takes each environment's lock and renames it within ``envs/``: without write access to
        both directories (another user's cache, read-only here) each removal would fail on its own.
        """
        for directory in (self.paths.envs, self.paths.locks):
            if os.path.isdir(directory) and not os.access(directory, os.W_OK | os.X_OK):
                try:
                    owner = f"its owner (uid {os.stat(directory).st_uid})"
                except OSError:
                    owner = "its owner"
                raise CacheError(
                    f"cannot clean {directory}: it is read-only for this user; clean it as {owner}, "
                    "or set CONDA_EXEC_HOME to a cache of your own"
                )

    def auto_clean(self, age_days: float) -> CleanResult:
        """The periodic cleanup: environments unused for *age_days*, plus leftovers."""
        try:
            return self.clean(age_days)
        except (OSError, CacheError):
            return CleanResult([], [])


def startable(executable: str) -> bool:
    """Whether exec'ing *executable* will start it: an executable file whose ``#!`` interpreter, if any, exists.

    Automatic cleanup runs only on a run that starts its tool (conda-exec cleans only after a
    successful run; ce execs the tool, so its exit status is never known): a due run whose exec
    would fail skips it.  Called on due runs only, and kept off the warm path's modules, so a
    warm hit pays nothing for it.
    """
    try:
        if not os.access(executable, os.X_OK):
            return False
        with open(executable, "rb") as handle:
            head = handle.read(512)
    except OSError:
        return False
    if not head.startswith(b"#!"):
        return True
    words = head[2:].split(b"\n", 1)[0].split()
    return bool(words) and os.access(os.fsdecode(words[0]), os.X_OK)
