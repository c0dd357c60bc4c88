"""Script mode: from a script, its metadata and its locks to the process to start.

A run uses, in this order: a lock written now (``--lock``), a fresh lock
found beside or inside the script (unless ``--ignore-lock`` or
``--refresh``), or the metadata, solved.  ``--locked`` accepts only a fresh
lock.  The environment itself comes from :func:`ce.envs.provision.provide`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ce.backends.builtin import DEFAULT_LOCKFILE_FORMAT
from ce.base import script_argument
from ce.envs.provision import EnvironmentSpec, Prepared, Reporter, RunOptions, provide, solve_request_for
from ce.errors import CeError, ToolNotFoundError, UsageError
from ce.lockfiles import LockData, LockError
from ce.platforms import validate_subdir
from ce.records import SolveRequest
from ce.script import embed as embedding
from ce.script.lockfile_io import (
    check_carries_pypi,
    check_sidecar_names,
    discover,
    lock_format,
    locked_env_name,
    required_names,
    script_digest,
    select,
    solve_platforms,
    write_lock,
)
from ce.script.request import ScriptRequest, script_metadata
from ce.urls import with_credentials_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ce.plugins.manager import BackendRegistry


@dataclass(frozen=True)
class LockOptions:
    """The command line's lock options for a script run."""

    cli_channels: list[str] = field(default_factory=list)
    with_specs: list[str] = field(default_factory=list)
    lock: bool = False
    embed: bool = False
    format_name: str | None = None
    extra_platforms: list[str] = field(default_factory=list)
    ignore_lock: bool = False
    locked: bool = False

    def check(self) -> None:
        """Refuse combinations that cannot mean anything."""
        if self.locked and (self.ignore_lock or self.lock):
            raise UsageError("--locked cannot be combined with --ignore-lock or --lock")
        if self.extra_platforms and not self.lock:
            raise UsageError("--platform goes with --lock")


def _from_metadata(request: ScriptRequest, options: RunOptions) -> EnvironmentSpec:
    return EnvironmentSpec(
        env_name=request.env_name,
        solve_request=solve_request_for(request.conda_specs, request.channels, request.platform, options),
        metadata=script_metadata(request, locked=False),
        pypi_requirements=request.pypi_requirements,
    )


def _from_lock(request: ScriptRequest, data: LockData, options: RunOptions) -> EnvironmentSpec:
    """The environment the lock describes for this platform: installed as locked, never solved.

    A lock holds no credentials: its channels get back those of the run's
    configured channel at the same URL (a conda token, ``user:password@``),
    and its archives are fetched with them.
    """
    channels = tuple(with_credentials_of(channel, request.channels) for channel in data.channels)
    return EnvironmentSpec(
        env_name=locked_env_name(request, data),
        solve_request=SolveRequest(
            specs=request.conda_specs, channels=channels, platform=request.platform, offline=options.offline
        ),
        metadata=script_metadata(request, locked=True),
        locked=data.packages[request.platform],
        pypi_requirements=request.pypi_requirements,
        locked_pypi=data.pypi_for(request.platform),
    )


def _write_new_lock(
    request: ScriptRequest,
    script_text: str,
    digest: str,
    lock_options: LockOptions,
    options: RunOptions,
    registry: Callable[[], BackendRegistry],
    reporter: Reporter,
) -> LockData:
    """``--lock``: the script's own fresh lock when it covers every platform, else solve and write one."""
    name = lock_options.format_name or DEFAULT_LOCKFILE_FORMAT
    backend = lock_format(name, registry)
    check_carries_pypi(name, backend, request.pypi_requirements)
    platforms = list(dict.fromkeys([request.platform, *(validate_subdir(p) for p in lock_options.extra_platforms)]))
    if lock_options.embed:
        embedding.check_embeddable(script_text, request.path)  # before solving, not after
    else:
        first = [platforms[0]] if backend.multi_platform else platforms
        check_sidecar_names(request.path, backend, first)  # before solving, not after
    if not (options.refresh or lock_options.ignore_lock):  # --ignore-lock: solve anew, whatever lock is there
        own = [
            source
            for source in discover(request.path, script_text, name, request.platform, registry, lambda _m: None)
            if source.embedded == lock_options.embed
        ]
        chosen = select(
            own, digest, request.platform, lambda _m: None, required_names(request), request.pypi_requirements
        )
        if chosen is not None and set(platforms) <= set(chosen[1].platforms):
            return chosen[1]
    data = solve_platforms(request, platforms, options, registry)
    for path, written in write_lock(
        request.path,
        data,
        digest,
        name,
        backend,
        lock_options.embed,
        lambda held: reporter.info(f"waiting for another edit of the script: {held}"),
    ):
        reporter.info(f"wrote {name} lock for {', '.join(written)}: {path}")
    return data


def _existing_lock(
    request: ScriptRequest,
    script_text: str,
    digest: str,
    lock_options: LockOptions,
    registry: Callable[[], BackendRegistry],
    reporter: Reporter,
) -> LockData | None:
    """A fresh lock found for the script, or ``None`` to solve from the metadata.

    Unreadable lock data reached before a usable lock is an error, in every
    case (:func:`ce.script.lockfile_io.unreadable_lock`).
    """
    warnings: list[str] = []
    sources = discover(request.path, script_text, lock_options.format_name, request.platform, registry, warnings.append)
    try:
        chosen = select(
            sources, digest, request.platform, warnings.append, required_names(request), request.pypi_requirements
        )
    except CeError:  # unreadable or refused: the locks passed over before it are still reported
        for warning in warnings:
            reporter.warn(warning)
        raise
    if chosen is None and lock_options.locked:
        # the run fails on a stale lock rather than ignoring it: say "stale lock", not "ignoring stale lock"
        reasons = [warning.removeprefix("ignoring ") for warning in warnings]
        reason = "; ".join(reasons) if reasons else f"no lock found for {request.path}"
        raise LockError(f"--locked: {reason}")
    for warning in warnings:
        reporter.warn(warning)
    if chosen is not None:
        return chosen[1]
    if sources and request.metadata.source == "none":
        raise LockError(f"{request.path} has no usable lock for {request.platform} and no metadata to solve from")
    return None


def prepare_script(
    request: ScriptRequest,
    script_text: str,
    args: list[str],
    lock_options: LockOptions,
    options: RunOptions,
    registry: Callable[[], BackendRegistry],
    reporter: Reporter,
) -> Prepared:
    """Find or build the script's environment (from a lock or its metadata) and return the process."""
    lock_options.check()
    if lock_options.format_name is not None and lock_options.ignore_lock and not lock_options.lock:
        reporter.warn("--lock-format is unused with --ignore-lock (no lock is read or written); ignoring it")
    digest = script_digest(request, lock_options.cli_channels, lock_options.with_specs)
    data: LockData | None = None
    if lock_options.lock:
        data = _write_new_lock(request, script_text, digest, lock_options, options, registry, reporter)
    elif not (lock_options.ignore_lock or (options.refresh and not lock_options.locked)):
        # --locked --refresh rebuilds from the lock, and never solves
        data = _existing_lock(request, script_text, digest, lock_options, registry, reporter)
    spec = _from_metadata(request, options) if data is None else _from_lock(request, data, options)
    argv = [*request.interpreter, script_argument(request.path), *args]
    try:
        return provide(spec, argv, options, registry, reporter)
    except ToolNotFoundError as error:
        raise _interpreter_not_found(request, error) from None


def _interpreter_not_found(request: ScriptRequest, error: ToolNotFoundError) -> ToolNotFoundError:
    """The 127 error of a script whose interpreter is missing: the fix is in the script, not ``--from``.

    Scripts refuse ``--from``; the package that provides the interpreter belongs
    in the script's dependencies (or, for one run, ``--with PACKAGE``).
    """
    message = str(error)
    message = message.removesuffix("; use --from PACKAGE if another package provides it")
    where = "env:" if request.metadata.source == "conda-execute" else "[tool.conda] dependencies"
    return ToolNotFoundError(
        f"{message}; add the package that provides it to the script's {where} (or, for one run, --with PACKAGE)"
    )
