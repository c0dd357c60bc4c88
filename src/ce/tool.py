"""Tool mode: from a resolved request to the process to start.

``prepare_tool`` finds or builds the environment, protects it for as long as
the tool runs, and asks the runner for the exact process; the CLI starts it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ce.autoclean import CleanSettings, bump_run_count
from ce.cache import CleanResult, EnvCache
from ce.keys import ToolRequest
from ce.launch import LaunchPlan
from ce.locks import hold_shared, release
from ce.paths import CachePaths
from ce.records import SolveRequest

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
    request: ToolRequest,
    options: RunOptions,
    registry: Callable[[], BackendRegistry],
    reporter: Reporter,
    cache: EnvCache,
) -> tuple[str, BuildReport | None]:
    """The prefix of *request*'s environment, built (or rebuilt) when needed."""
    if not options.refresh:
        prefix = cache.lookup(request.env_name)
        if prefix is not None:
            return prefix, None
    solver = create_solver(options.solver, registry)
    solve_request = SolveRequest(
        specs=request.specs,
        channels=request.channels,
        platform=request.platform,
        offline=options.offline,
        show_progress=options.show_progress,
    )
    built: list[BuildReport] = []

    def create(build_dir: str, final_prefix: str) -> None:
        started = time.perf_counter()
        packages = solver.solve(solve_request)
        solver.install(packages, build_dir, final_prefix, solve_request)
        built.append(BuildReport(request.env_name, len(packages), time.perf_counter() - started))

    metadata = {
        "kind": "tool",
        "command": request.command,
        "package": request.package,
        "specs": list(request.specs),
        "channels": list(request.channels),
        "platform": request.platform,
        "solver": options.solver,
    }
    prefix = cache.build(request.env_name, create, metadata, refresh=options.refresh, on_wait=reporter.info)
    return prefix, (built[0] if built else None)


def maybe_auto_clean(cache: EnvCache, environ: Mapping[str, str], reporter: Reporter) -> CleanResult | None:
    """Count this run and clean up when the interval is reached."""
    settings = CleanSettings(dict(environ))
    for warning in settings.warnings:
        reporter.warn(warning)
    if not settings.enabled or not bump_run_count(cache.paths, settings.interval):
        return None
    return cache.auto_clean(settings.age_days)


def prepare_tool(
    request: ToolRequest,
    args: list[str],
    options: RunOptions,
    registry: Callable[[], BackendRegistry],
    reporter: Reporter,
) -> tuple[LaunchPlan, BuildReport | None, CleanResult | None]:
    """Find or build the environment and return the process to start.

    A shared in-use lock on the environment is taken and left open, so it is
    inherited by the tool when the CLI execs it.
    """
    cache = EnvCache(CachePaths.from_environ(dict(options.environ)))
    prefix, report = ensure_environment(request, options, registry, reporter, cache)
    cache.ensure()
    lock = hold_shared(cache.paths.in_use_lock(request.env_name))
    try:
        runner = create_runner(options.runner, registry)
        plan = runner.prepare(prefix, [request.command, *args], options.environ)
        cleaned = maybe_auto_clean(cache, options.environ, reporter)
    except BaseException:
        release(lock)
        raise
    return plan, report, cleaned
