"""Tool mode: from a resolved request to the process to start.

``prepare_tool`` finds or builds the environment, protects it for as long as
the tool runs, and asks the runner for the exact process; the CLI starts it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ce.autoclean import CleanSettings, bump_run_count
from ce.cache import CleanResult, EnvCache
from ce.errors import CacheError
from ce.keys import ToolRequest
from ce.launch import LaunchPlan
from ce.locks import hold_shared, release
from ce.paths import CachePaths
from ce.records import LockedPackage, SolveRequest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ce.plugins.manager import BackendRegistry
    from ce.plugins.types import RunnerBackend, SolverBackend

DEFAULT_SOLVER = "rattler"
DEFAULT_RUNNER = "path"


@dataclass
class RunOptions:
    """Options that shape how a run builds and starts its environment."""

    solver: str = DEFAULT_SOLVER
    runner: str = DEFAULT_RUNNER
    refresh: bool = False
    offline: bool = False
    show_progress: bool = False
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


def create_solver(name: str, registry: Callable[[], BackendRegistry]) -> SolverBackend:
    """The solver called *name*.  Built-ins cannot be shadowed by plugins, so the
    default is created without scanning entry points (it keeps cold runs fast)."""
    if name == DEFAULT_SOLVER:
        from ce.backends.rattler_solver import RattlerSolver

        return RattlerSolver()
    solver: SolverBackend = registry().create("solver", name)
    return solver


def create_runner(name: str, registry: Callable[[], BackendRegistry]) -> RunnerBackend:
    """The runner called *name*; the default without scanning entry points."""
    if name == DEFAULT_RUNNER:
        from ce.backends.path_runner import PathRunner

        return PathRunner()
    runner: RunnerBackend = registry().create("runner", name)
    return runner


def ensure_environment(
    env_name: str,
    solve_request: SolveRequest,
    metadata: dict[str, object],
    options: RunOptions,
    registry: Callable[[], BackendRegistry],
    reporter: Reporter,
    cache: EnvCache,
    after_install: Callable[[str, str], None] | None = None,
    packages: Callable[[], Sequence[LockedPackage]] | None = None,
) -> tuple[str, BuildReport | None]:
    """The prefix of environment *env_name*, built (or rebuilt) when needed.

    The packages come from *packages* (a lock) when given, else from solving
    *solve_request*.  *after_install* ``(build_dir, final_prefix)`` runs after
    the conda packages are linked and before the environment is published.
    """
    if not options.refresh:
        prefix = cache.lookup(env_name)
        if prefix is not None:
            return prefix, None
    solver = create_solver(options.solver, registry)
    built: list[BuildReport] = []

    def create(build_dir: str, final_prefix: str) -> None:
        started = time.perf_counter()
        chosen = list(packages()) if packages is not None else solver.solve(solve_request)
        solver.install(chosen, build_dir, final_prefix, solve_request)
        if after_install is not None:
            after_install(build_dir, final_prefix)
        from ce.bytecode import compile_site_packages

        compile_site_packages(build_dir)
        built.append(BuildReport(env_name, len(chosen), time.perf_counter() - started))

    record = dict(metadata, channels=list(solve_request.channels), platform=solve_request.platform)
    record["solver"] = options.solver
    prefix = cache.build(env_name, create, record, refresh=options.refresh, on_wait=reporter.info)
    return prefix, (built[0] if built else None)


def maybe_auto_clean(cache: EnvCache, environ: Mapping[str, str], reporter: Reporter) -> CleanResult | None:
    """Count this run and clean up when the interval is reached."""
    settings = CleanSettings(dict(environ))
    for warning in settings.warnings:
        reporter.warn(warning)
    if not settings.enabled or not bump_run_count(cache.paths, settings.interval):
        return None
    return cache.auto_clean(settings.age_days)


def solve_request_for(
    specs: tuple[str, ...], channels: tuple[str, ...], platform: str, options: RunOptions
) -> SolveRequest:
    """The solver's view of a run."""
    return SolveRequest(
        specs=specs, channels=channels, platform=platform, offline=options.offline, show_progress=options.show_progress
    )


@dataclass
class Prepared:
    """A run ready to start: the process, and what was built or cleaned on the way."""

    plan: LaunchPlan
    report: BuildReport | None
    cleaned: CleanResult | None
    env_name: str


#: How often a run rebuilds an environment that a concurrent cleanup removed under it.
MAX_BUILD_ATTEMPTS = 5


def launch_from(
    cache: EnvCache,
    env_name: str,
    build: Callable[[], tuple[str, BuildReport | None]],
    argv: list[str],
    options: RunOptions,
    registry: Callable[[], BackendRegistry],
    reporter: Reporter,
) -> Prepared:
    """Find or *build* the environment, protect it for the tool's lifetime, and prepare the process.

    A shared in-use lock on the environment is taken and left open, so the
    tool inherits it when the CLI execs it.  An environment removed between
    the build and the lock (a concurrent ``--clean``) is built again.
    """
    for _attempt in range(MAX_BUILD_ATTEMPTS):
        prefix, report = build()
        cache.ensure()
        lock = hold_shared(cache.paths.in_use_lock(env_name))
        if cache.lookup(env_name) is None:
            release(lock)
            continue
        try:
            runner = create_runner(options.runner, registry)
            plan = runner.prepare(prefix, argv, options.environ)
            cleaned = maybe_auto_clean(cache, options.environ, reporter)
        except BaseException:
            release(lock)
            raise
        return Prepared(plan, report, cleaned, env_name)
    raise CacheError(
        f"environment {env_name} was removed {MAX_BUILD_ATTEMPTS} times while starting; is a cleanup looping?"
    )


def prepare_tool(
    request: ToolRequest,
    args: list[str],
    options: RunOptions,
    registry: Callable[[], BackendRegistry],
    reporter: Reporter,
) -> Prepared:
    """Find or build the tool's environment and return the process to start."""
    cache = EnvCache(CachePaths.from_environ(dict(options.environ)))
    metadata: dict[str, object] = {
        "kind": "tool",
        "command": request.command,
        "package": request.package,
        "specs": list(request.specs),
    }
    solve_request = solve_request_for(request.specs, request.channels, request.platform, options)

    def build() -> tuple[str, BuildReport | None]:
        return ensure_environment(request.env_name, solve_request, metadata, options, registry, reporter, cache)

    return launch_from(cache, request.env_name, build, [request.command, *args], options, registry, reporter)
