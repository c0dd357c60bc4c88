"""Giving a run its environment: "a prefix for this request or this lock", protected while the tool runs.

Tool mode and script mode describe what they need as an
:class:`EnvironmentSpec` (solved from a request, or installed from locked
packages, plus PyPI requirements) and call :func:`provide`, which

1. finds the complete environment in the store, or builds it: one builder
   per key, in a directory beside the final one, renamed in when complete
   (:mod:`ce.envs.store`); a build solves (or verifies the locked archives:
   :mod:`ce.envs.fetch`), installs, runs the after-install steps (PyPI
   packages with uv, byte-compilation) and records what it built;
2. takes the shared in-use lock that the tool inherits, building again if a
   concurrent cleanup removed the environment in between;
3. asks the runner for the exact process, and counts the run for automatic
   cleanup.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ce.backends.builtin import DEFAULT_RUNNER, DEFAULT_SOLVER, RUNNER, SOLVER, create_backend
from ce.base import (
    CachePaths,
    CleanSettings,
    LaunchPlan,
    bump_run_count,
    hold_shared,
    release,
    wait_for_gate,
)
from ce.envs.store import CleanResult, EnvCache, startable
from ce.errors import CacheError
from ce.interrupts import raise_if_interrupted
from ce.records import LockedPackage, PypiPackage, SolveRequest
from ce.urls import without_credentials

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ce.plugins.manager import BackendRegistry
    from ce.plugins.types import RunnerBackend, SolverBackend

#: How often a run rebuilds an environment that a concurrent cleanup removed under it.
MAX_BUILD_ATTEMPTS = 5
#: How long a run waits for a pending ``--refresh`` of its environment to take over (as the warm path).
REFRESH_WAIT_SECONDS = 5.0


@dataclass
class RunOptions:
    """Options that shape how a run builds and starts its environment."""

    solver: str = DEFAULT_SOLVER
    runner: str = DEFAULT_RUNNER
    refresh: bool = False
    offline: bool = False
    show_progress: bool = False
    verbose: bool = False
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass
class BuildReport:
    """What a cold run built, for the one-line summary."""

    env_name: str
    packages: int
    seconds: float


class Reporter:
    """Where orchestration sends its messages; the CLI decides what is shown."""

    def __init__(
        self,
        info: Callable[[str], None] = lambda _message: None,
        warn: Callable[[str], None] = lambda _message: None,
    ) -> None:
        self.info = info
        self.warn = warn


@dataclass(frozen=True)
class EnvironmentSpec:
    """What an environment is made of, and its name in the store.

    With *locked*, exactly those packages are installed (their archives
    verified against the lock first) and nothing is solved; otherwise
    *solve_request* is solved.  *pypi_requirements* are installed with uv
    afterwards, or, from a lock, exactly *locked_pypi*.  *metadata* is what
    ``--list`` shows about it.
    """

    env_name: str
    solve_request: SolveRequest
    metadata: dict[str, Any]
    locked: tuple[LockedPackage, ...] | None = None
    pypi_requirements: tuple[str, ...] = ()
    locked_pypi: tuple[PypiPackage, ...] | None = None


@dataclass
class Prepared:
    """A run ready to start: the process, and what was built or cleaned on the way."""

    plan: LaunchPlan
    report: BuildReport | None
    cleaned: CleanResult | None
    env_name: str


def create_solver(name: str, registry: Callable[[], BackendRegistry]) -> SolverBackend:
    """The solver called *name*; a built-in is created without scanning entry points."""
    solver: SolverBackend = create_backend(SOLVER, name, registry)  # type: ignore[assignment]
    return solver


def create_runner(name: str, registry: Callable[[], BackendRegistry]) -> RunnerBackend:
    """The runner called *name*; a built-in is created without scanning entry points."""
    runner: RunnerBackend = create_backend(RUNNER, name, registry)  # type: ignore[assignment]
    return runner


def solve_request_for(
    specs: tuple[str, ...], channels: tuple[str, ...], platform: str, options: RunOptions
) -> SolveRequest:
    """The solver's view of a run."""
    return SolveRequest(
        specs=specs, channels=channels, platform=platform, offline=options.offline, show_progress=options.show_progress
    )


def _packages_to_install(
    spec: EnvironmentSpec, solver: SolverBackend, options: RunOptions
) -> tuple[list[LockedPackage], Sequence[LockedPackage]]:
    """The packages to install, and the records whose own URLs ``conda-meta`` gets (without credentials).

    Packages installed from ce's store (a lock's, or a source without hashes) get their original URL back.
    """
    if spec.locked is None:
        from ce.envs.fetch import content_addressed

        solved = list(solver.solve(spec.solve_request))
        packages = content_addressed(solved, options.offline, options.show_progress)
        return packages, solved
    from ce.envs.fetch import verified_packages
    from ce.lockfiles import install_order

    channels = spec.solve_request.channels
    return install_order(verified_packages(spec.locked, options.offline, options.show_progress, channels)), spec.locked


def _build(spec: EnvironmentSpec, options: RunOptions, registry: Callable[[], BackendRegistry]) -> Callable[..., None]:
    """The function that creates *spec*'s environment in a build directory (see :meth:`EnvCache.build`)."""
    solver = create_solver(options.solver, registry)

    def create(build_dir: str, final_prefix: str, report: list[BuildReport]) -> None:
        started = time.perf_counter()
        packages, own_urls = _packages_to_install(spec, solver, options)
        solver.install(packages, build_dir, final_prefix, spec.solve_request)
        from ce.envs.fetch import record_lock_urls

        # the lock's or channel's URLs, not ce's store; and never a channel's credentials
        record_lock_urls(build_dir, own_urls)
        if spec.locked is not None and spec.locked_pypi is not None:
            from ce.envs.pypi import install_locked_pypi

            install_locked_pypi(
                build_dir, final_prefix, spec.locked_pypi, options.environ, options.offline, quiet=not options.verbose
            )
        elif spec.pypi_requirements:
            from ce.envs.pypi import install_pypi

            install_pypi(
                build_dir,
                final_prefix,
                spec.pypi_requirements,
                options.environ,
                options.offline,
                quiet=not options.verbose,
            )
        from ce.envs.bytecode import compile_site_packages

        compile_site_packages(build_dir)
        report.append(BuildReport(spec.env_name, len(packages), time.perf_counter() - started))

    return create


def ensure_environment(
    spec: EnvironmentSpec,
    options: RunOptions,
    registry: Callable[[], BackendRegistry],
    reporter: Reporter,
    cache: EnvCache,
) -> tuple[str, BuildReport | None]:
    """The prefix of *spec*'s environment, built (or, with ``refresh``, rebuilt) when needed."""
    if not options.refresh:
        prefix = cache.lookup(spec.env_name)
        if prefix is not None:
            return prefix, None
    create = _build(spec, options, registry)
    built: list[BuildReport] = []
    record = dict(
        spec.metadata,
        channels=[without_credentials(channel) for channel in spec.solve_request.channels],
        platform=spec.solve_request.platform,
        solver=options.solver,
    )
    prefix = cache.build(
        spec.env_name,
        lambda build_dir, final: create(build_dir, final, built),
        record,
        refresh=options.refresh,
        on_wait=reporter.info,
    )
    return prefix, (built[0] if built else None)


def maybe_auto_clean(
    cache: EnvCache, environ: Mapping[str, str], reporter: Reporter, executable: str | None = None
) -> CleanResult | None:
    """Count this run and clean up when the interval is reached and the run starts its *executable*."""
    settings = CleanSettings(dict(environ))
    for warning in settings.warnings:
        reporter.warn(warning)
    if not settings.enabled or not bump_run_count(cache.paths, settings.interval):
        return None
    if executable is not None and not startable(executable):
        return None  # a run that fails to start its tool is no success to clean after
    return cache.auto_clean(settings.age_days)


def provide(
    spec: EnvironmentSpec,
    argv: Sequence[str] | Callable[[str], Sequence[str]],
    options: RunOptions,
    registry: Callable[[], BackendRegistry],
    reporter: Reporter,
) -> Prepared:
    """Find or build *spec*'s environment, protect it for the tool's lifetime, and prepare *argv*'s process.

    *argv* may be a function of the environment's prefix, for a command name
    that depends on what the environment provides.

    A shared in-use lock on the environment is taken and left open, so the
    tool inherits it when the CLI execs it.  An environment removed between
    the build and the lock (a concurrent ``--clean``) is built again.
    """
    cache = EnvCache(CachePaths.from_environ(dict(options.environ)))
    for _attempt in range(MAX_BUILD_ATTEMPTS):
        prefix, report = ensure_environment(spec, options, registry, reporter, cache)
        try:
            cache.ensure()
        except CacheError:
            # A complete environment in a cache this user may only read still runs.
            if cache.lookup(spec.env_name) is None or os.path.islink(cache.paths.locks):
                raise
        if not options.refresh:
            wait_for_gate(
                cache.paths.refresh_lock(spec.env_name),
                REFRESH_WAIT_SECONDS,
                on_wait=lambda held: reporter.info(f"waiting for a --refresh of {spec.env_name}: {held}"),
            )
        lock = hold_shared(
            cache.paths.in_use_lock(spec.env_name),
            on_wait=lambda held: reporter.info(f"waiting for {spec.env_name} to be replaced or removed: {held}"),
        )
        if cache.lookup(spec.env_name) is None:
            release(lock)
            continue
        try:
            runner = create_runner(options.runner, registry)
            plan = runner.prepare(prefix, argv(prefix) if callable(argv) else argv, options.environ)
            cleaned = maybe_auto_clean(cache, options.environ, reporter, plan.executable)
            raise_if_interrupted()  # a Ctrl-C swallowed on the way: the caller records and starts nothing
        except BaseException:
            release(lock)
            raise
        return Prepared(plan, report, cleaned, spec.env_name)
    raise CacheError(
        f"environment {spec.env_name} was removed {MAX_BUILD_ATTEMPTS} times while starting; is a cleanup looping?"
    )
