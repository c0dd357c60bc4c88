"""A script's lock files: find them, check them against the script, and write them.

* Reading: the embedded ``# /// conda-exec-lock`` block first, then every
  format's sidecar files (the default format first).  A lock is used when its
  input digest matches the script's dependency input and it has the current
  platform; a stale lock, or one without this platform, gets a warning naming
  it.  Unreadable lock data (not text, not in its format, or not loadable) is
  an error naming it and the fix when its turn comes (:func:`unreadable_lock`).
* Writing (``--lock``): solve every requested platform and write the lock,
  as a sidecar or embedded in the script (``--embed``).

The formats themselves are :mod:`ce.lockfiles`; running from a lock is
:mod:`ce.script.run`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TypeVar

from ce.backends.builtin import (
    DEFAULT_LOCKFILE_FORMAT,
    LOCKFILE_FORMAT,
    builtin,
    builtin_names,
    create_backend,
    sidecar_names,
)
from ce.base import EUID, env_name_from_parts, is_trusted
from ce.envs.provision import RunOptions, create_solver
from ce.errors import CeError, ScriptError, UsageError
from ce.fileio import write_atomically
from ce.interrupts import raise_if_interrupted
from ce.lockfiles import (
    LockData,
    LockError,
    content_digest,
    input_digest,
    read_header,
    unlocked_requirements,
    with_header,
)
from ce.platforms import KNOWN_SUBDIRS, typical_virtual_packages
from ce.records import SolveRequest
from ce.script import embed as embedding
from ce.script.edit import edit_script
from ce.script.request import SCRIPT_ENV_PREFIX, ScriptRequest, needs_python
from ce.text import shown

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ce.plugins.manager import BackendRegistry
    from ce.plugins.types import LockfileFormatBackend


_T = TypeVar("_T")


def lock_format(name: str, registry: Callable[[], BackendRegistry]) -> LockfileFormatBackend:
    """The format called *name*; built-ins without scanning entry points."""
    backend: LockfileFormatBackend = create_backend(LOCKFILE_FORMAT, name, registry)  # type: ignore[assignment]
    return backend


@dataclass(frozen=True)
class LockSource:
    """Lock text found for a script, and where it came from."""

    description: str
    text: str
    format_name: str
    format: LockfileFormatBackend
    #: Why this lock may not be used (another user's, or anyone's to write): an error if it is reached.
    refused: str | None = None
    #: Why this lock cannot be read (not UTF-8 text, too large, not readable): an error if it is reached.
    unreadable: str | None = None

    @property
    def embedded(self) -> bool:
        """Whether this lock is the script's embedded block."""
        return self.description.endswith("(embedded)")


def unreadable_lock(source: LockSource, reason: object) -> LockError:
    """The error for unreadable lock data: it names the lock and both ways out.

    One rule for every case (embedded or sidecar, metadata or none, with or
    without ``--locked``): lock data the user keeps beside or inside a script
    and that cannot be read is never passed over silently, since a run would
    otherwise solve something else than what was locked (or, without
    metadata, run without the locked packages).
    """
    rewrite = "--lock --refresh"
    if source.embedded:
        rewrite = "--lock --embed --refresh"
    elif source.format_name != DEFAULT_LOCKFILE_FORMAT:
        rewrite = f"--lock --lock-format {source.format_name} --refresh"
    return LockError(
        f"unreadable lock {source.description}: {reason}; "
        f"use --ignore-lock to solve from the metadata, or {rewrite} to rewrite it"
    )


def script_digest(request: ScriptRequest, cli_channels: list[str], with_specs: list[str]) -> str:
    """The input digest of this run (the first line of a fresh lock).

    It hashes the metadata values as written, as conda-exec does, so a lock
    either tool writes is fresh for the other; solving uses the stripped values.
    """
    written = request.metadata.digest_input()
    return input_digest(
        cli_channels,
        written.conda_channels,
        written.conda_dependencies,
        written.pypi_dependencies,
        written.requires_python,
        with_specs,
    )


MAX_LOCK_BYTES = 64 * 1024 * 1024


def _refuse_untrusted(path: str, info: os.stat_result, script_owner: int | None) -> None:
    """Refuse a sidecar lock another user wrote or could write: it decides what runs, like the script.

    A lock is found by its place beside the script, and a sticky world-writable
    folder such as /tmp lets anyone create one there.  So it must be one
    :func:`ce.base.is_trusted` accepts (this user's, or root's), or the script's
    own owner's that others cannot write: running their script with their lock
    runs what they wrote.
    """
    if is_trusted(info) or (info.st_uid == script_owner and not info.st_mode & stat.S_IWOTH):
        return
    if info.st_uid not in (EUID, 0, script_owner):
        raise ScriptError(
            f"refusing the lock {path}: it is owned by another user (uid {info.st_uid}); remove it or use --ignore-lock"
        )
    who, bits = ("every user", "o-w") if info.st_mode & stat.S_IWOTH else ("its group", "g-w")
    raise ScriptError(f"refusing the lock {path}: {who} can write it; chmod {bits} to use it, or use --ignore-lock")


def _script_owner(script: str) -> int | None:
    """The uid of the script (the real file behind a link), whose own locks are as good as the script."""
    try:
        return os.stat(script).st_uid
    except OSError:
        return None


def _read(path: str, script: str) -> tuple[str | None, str | None]:
    """The text of *path* (a sidecar of *script*), or ``None`` and why it cannot be read.

    ``(None, None)`` when it is gone.  A lock :func:`_refuse_untrusted` refuses is an error.
    """
    try:
        with open(path, "rb") as handle:
            if EUID is not None:  # the file opened, not its name: nothing swapped in between
                _refuse_untrusted(path, os.fstat(handle.fileno()), _script_owner(script))
            data = handle.read(MAX_LOCK_BYTES + 1)
    except OSError as error:
        return None, (error.strerror or str(error)) if os.path.exists(path) else None
    if len(data) > MAX_LOCK_BYTES:
        return None, f"larger than {MAX_LOCK_BYTES // (1024 * 1024)} MiB"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "not UTF-8 text"


def _unclaimed_siblings(script: str) -> bool:
    """Whether a regular file beside *script* could be a third-party format's sidecar.

    A sidecar's name is the script's file name or stem, a dot, then anything
    (the plugin contract, docs/plugins.md): ``s.py.mylock`` or ``s.mylock`` beside
    ``s.py``, never ``setup.cfg``.  The built-in formats' own names (for every
    platform) are not counted, nor is anything that is not a regular file.
    """
    directory, name = os.path.split(os.path.abspath(script))
    stem = name.rsplit(".", 1)[0] if "." in name else name
    prefixes = tuple(dict.fromkeys((name + ".", stem + ".")))
    known = {
        sidecar
        for format_name in builtin_names(LOCKFILE_FORMAT)
        for platform in KNOWN_SUBDIRS
        for sidecar in sidecar_names(builtin(LOCKFILE_FORMAT, format_name).sidecars, name, platform)  # type: ignore[union-attr]
    }
    try:
        with os.scandir(directory or ".") as entries:
            return any(
                entry.name.startswith(prefixes) and entry.name != name and entry.name not in known and entry.is_file()
                for entry in entries
            )
    except OSError:
        return False


def _other_formats(
    script: str, registry: Callable[[], BackendRegistry], warn: Callable[[str], None]
) -> dict[str, LockfileFormatBackend]:
    """Third-party formats, loaded only when a file beside the script could be theirs.

    Plugins are loaded (and imported) only then, so a broken or slow plugin never
    touches a run whose folder holds nothing it could read.  A format that cannot
    be created, or whose ``sidecar_names``/``detect`` fails, is skipped with a
    warning: the run did not ask for it.
    """
    if not _unclaimed_siblings(script):
        return {}
    from ce.plugins.manager import plugin_output_to_stderr

    builtins = builtin_names(LOCKFILE_FORMAT)
    formats: dict[str, LockfileFormatBackend] = {}
    for format_name, registered in registry().backends(LOCKFILE_FORMAT).items():
        if format_name in builtins:
            continue
        try:
            formats[format_name] = _Probed(
                format_name, registered.provider, lock_format(format_name, registry), plugin_output_to_stderr
            )
        except CeError as error:
            warn(f"skipping lock format {format_name!r}: {error}")
    return formats


class _Probed:
    """A third-party lock format probed for a run that did not name it: its failures skip it, with a warning."""

    def __init__(
        self,
        name: str,
        provider: str,
        backend: LockfileFormatBackend,
        quiet: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self._name = name
        self._provider = provider
        self._backend = backend
        self._quiet = quiet
        self.failure: str | None = None
        self.multi_platform = bool(self._call(lambda: backend.multi_platform, True))

    def _call(self, function: Callable[[], _T], default: _T) -> _T:
        if self.failure is not None:
            return default
        try:
            with self._quiet():
                return function()
        except BaseException as error:  # SystemExit too; KeyboardInterrupt still interrupts
            if isinstance(error, KeyboardInterrupt):
                raise
            lines = str(error).strip().splitlines()
            self.failure = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
            return default

    def sidecar_names(self, script_name: str, platform: str) -> list[str]:
        """The format's sidecar names (none once it has failed)."""
        return self._call(lambda: [str(n) for n in self._backend.sidecar_names(script_name, platform)], [])

    def detect(self, text: str) -> bool:
        """Whether *text* is in this format (``False`` once it has failed)."""
        return self._call(lambda: bool(self._backend.detect(text)), False)

    def dumps(self, lock: LockData) -> str:
        """The format's own ``dumps``."""
        return self._backend.dumps(lock)

    def loads(self, text: str) -> LockData:
        """The format's own ``loads`` (its lock was found: the run uses it now)."""
        return self._backend.loads(text)

    def report(self, warn: Callable[[str], None]) -> None:
        """Warn once if the format failed while probed."""
        if self.failure is not None:
            warn(f"skipping lock format {self._name!r} from {self._provider!r}: {self.failure}")


def discover(
    script: str,
    text: str,
    format_name: str | None,
    platform: str,
    registry: Callable[[], BackendRegistry],
    warn: Callable[[str], None],
) -> list[LockSource]:
    """Every lock for *script*, in the order they are tried.

    With *format_name*, only that format; else the built-in formats, then the
    plugins' formats when a file beside the script could be theirs (:func:`_other_formats`).
    """
    if format_name:
        formats = {format_name: lock_format(format_name, registry)}
    else:
        formats = {name: lock_format(name, registry) for name in builtin_names(LOCKFILE_FORMAT)}
        formats.update(_other_formats(script, registry, warn))
    try:
        return _discover(script, text, format_name, platform, formats, warn)
    finally:
        for backend in formats.values():
            if isinstance(backend, _Probed):
                backend.report(warn)


def _discover(
    script: str,
    text: str,
    format_name: str | None,
    platform: str,
    formats: dict[str, LockfileFormatBackend],
    warn: Callable[[str], None],
) -> list[LockSource]:
    sources: list[LockSource] = []
    block = embedding.embedded_lock(text, script)
    if block is not None:
        content = block.content
        matching = [name for name, backend in formats.items() if backend.detect(content)]
        if matching:
            sources.append(
                LockSource(f"{script}:{block.start_line} (embedded)", content, matching[0], formats[matching[0]])
            )
        elif not format_name:  # with --lock-format, only that format's locks are looked at
            sources.append(
                LockSource(
                    f"{script}:{block.start_line} (embedded)",
                    content,
                    "",
                    next(iter(formats.values())),
                    unreadable="not in a known lock format",
                )
            )
    directory, name = os.path.split(script)
    for format_name_, backend in formats.items():
        for sidecar in backend.sidecar_names(name, platform):
            path = os.path.join(directory, sidecar)
            if not os.path.isfile(path):
                continue
            try:
                found, reason = _read(path, script)
            except ScriptError as error:  # an earlier lock (the embedded one) may still be the one used
                sources.append(LockSource(path, "", format_name_, backend, refused=str(error)))
                continue
            if found is not None or reason is not None:
                sources.append(LockSource(path, found or "", format_name_, backend, unreadable=reason))
        if not backend.multi_platform and not any(
            os.path.isfile(os.path.join(directory, sidecar)) for sidecar in backend.sidecar_names(name, platform)
        ):
            others = [
                other
                for other in sorted(KNOWN_SUBDIRS)
                if other != platform
                and any(os.path.isfile(os.path.join(directory, s)) for s in backend.sidecar_names(name, other))
            ]
            if others:
                warn(f"{format_name_} locks of {script} exist for {', '.join(others)} but not for {platform}")
    return sources


def required_names(request: ScriptRequest) -> tuple[str, ...]:
    """The packages a lock must hold beyond what its digest covers: ``python`` when ce adds it.

    The digest (conda-exec's) covers the script's declared dependencies, not
    the ``python`` ce adds for a Python interpreter: a lock written for
    ``run-with = ["bash"]`` stays fresh by its digest after ``run-with``
    becomes ``python``, yet has no Python.  This catches it.
    """
    return ("python",) if needs_python(request.metadata, request.interpreter) else ()


def select(
    sources: list[LockSource],
    digest: str,
    platform: str,
    warn: Callable[[str], None],
    required: tuple[str, ...] = (),
    pypi_requirements: tuple[str, ...] = (),
) -> tuple[LockSource, LockData] | None:
    """The first fresh, readable lock that has *platform*, every *required* package and its PyPI half.

    The stale ones before it, and those without this platform, are warned
    about; a refused or unreadable one reached before a usable one is an error.
    """
    for source in sources:
        if source.refused is not None:
            raise ScriptError(source.refused)
        if source.unreadable is not None:
            raise unreadable_lock(source, source.unreadable)
        if read_header(source.text) != digest:
            warn(
                f"ignoring stale lock {source.description}: the script's dependencies changed since it was "
                "written; update it with --lock --refresh"
            )
            continue
        try:
            data = source.format.loads(source.text)
        except CeError as error:
            raise unreadable_lock(source, error) from None
        if platform not in data.packages:
            warn(f"lock {source.description} has no packages for {platform}")
            continue
        locked = {package.name.lower() for package in data.packages[platform]}
        missing = [name for name in required if name not in locked]
        if missing:
            warn(
                f"ignoring stale lock {source.description}: it has no {', '.join(missing)}, which this run needs "
                "(run-with changed?); update it with --lock --refresh"
            )
            continue
        missing = unlocked_requirements(pypi_requirements, data, platform)
        if missing:
            warn(
                f"lock {source.description} does not lock the PyPI dependencies {', '.join(missing)} "
                f"for {platform}; update it with --lock --refresh"
            )
            continue
        return source, data
    return None


def solve_platforms(
    request: ScriptRequest, platforms: list[str], options: RunOptions, registry: Callable[[], BackendRegistry]
) -> LockData:
    """Solve the script's conda dependencies for every platform in *platforms*, then lock its PyPI ones."""
    solver = create_solver(options.solver, registry)
    locked = {}
    pypi = {}
    for platform in platforms:
        solve_request = SolveRequest(
            specs=request.conda_specs,
            channels=request.channels,
            platform=platform,
            offline=options.offline,
            show_progress=options.show_progress,
            virtual_packages=None if platform == request.platform else typical_virtual_packages(platform),
        )
        try:
            locked[platform] = tuple(solver.solve(solve_request))
        except CeError as error:
            raise type(error)(f"for {platform}: {error}") from error
        if request.pypi_requirements:
            from ce.envs.pypi import lock_pypi

            pypi[platform] = lock_pypi(
                request.pypi_requirements,
                locked[platform],
                platform,
                platform == request.platform,
                options.environ,
                options.offline,
            )
    return LockData(request.channels, locked, pypi)


def write_lock(
    script: str,
    data: LockData,
    digest: str,
    format_name: str,
    backend: LockfileFormatBackend,
    embed: bool,
    on_wait: Callable[[str], None] | None = None,
) -> list[tuple[str, tuple[str, ...]]]:
    """Write *data* as *format_name* (never with credentials); return each file written with its platforms.

    *on_wait* hears of a long wait for the script's lock (``--embed``, see :func:`ce.script.edit.edit_script`).
    """
    check_carries_pypi(format_name, backend, data.pypi and any(data.pypi.values()))
    data = data.without_credentials()
    if embed:
        if not backend.multi_platform and len(data.platforms) > 1:
            raise UsageError(f"--embed with {format_name} holds one platform; use rattler-lock-v6 or conda-lock")
        lock_text = with_header(digest, backend.dumps(data))
        edit_script(script, lambda text: embedding.embed(text, lock_text, script), on_wait)
        return [(f"{script} (embedded)", data.platforms)]
    directory, name = os.path.split(script)
    groups = [data] if backend.multi_platform else [data.only([platform]) for platform in data.platforms]
    check_sidecar_names(script, backend, [group.platforms[0] for group in groups])
    written = []
    for group in groups:
        path = os.path.join(directory, backend.sidecar_names(name, group.platforms[0])[0])
        raise_if_interrupted()  # after Ctrl-C no lock is written
        write_atomically(path, with_header(digest, backend.dumps(group)))
        written.append((path, group.platforms))
    return written


def check_sidecar_names(script: str, backend: LockfileFormatBackend, platforms: list[str]) -> None:
    """Refuse, in one line, a lock file name beside *script* that its file system cannot hold.

    A script's name may be as long as the file system allows; its lock's name adds a suffix
    (the format's sidecar pattern), and writing it would fail with a bare "File name too long".
    Called before solving, so that nothing is solved for a lock that cannot be written.
    """
    directory, name = os.path.split(script)
    try:
        limit = os.pathconf(directory or os.curdir, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows), or no answer: the usual limit
        limit = 255
    for platform in platforms:
        sidecar = backend.sidecar_names(name, platform)[0]
        size = len(os.fsencode(sidecar))
        if size > limit:
            raise LockError(
                f"cannot write the lock {shown(os.path.join(directory, sidecar))}: file name too long ({size} bytes; "
                f"the file system allows {limit}); shorten the script's name or use --lock --embed"
            )


def check_carries_pypi(format_name: str, backend: LockfileFormatBackend, has_pypi: object) -> None:
    """Refuse to lock PyPI dependencies in a format that cannot hold them (rather than omit them)."""
    if has_pypi and not getattr(backend, "carries_pypi", False):
        raise UsageError(
            f"the {format_name} lock format cannot hold the script's PyPI dependencies: "
            "use --lock-format rattler-lock-v6 or conda-lock"
        )


def locked_env_name(request: ScriptRequest, data: LockData) -> str:
    """``script--<hash16>`` derived from the lock's content for this platform, both halves."""
    digest = content_digest(data.packages[request.platform], data.channels)
    parts = {"lock": [digest], "pypi": sorted(request.pypi_requirements)}
    pypi = data.pypi_for(request.platform)
    if pypi:  # scripts without PyPI packages keep the key they had
        parts["pypi-lock"] = sorted(f"{package.url} {package.sha256 or ''}" for package in pypi)
    return env_name_from_parts(SCRIPT_ENV_PREFIX, parts)
