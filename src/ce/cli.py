"""The command line: the only place that prints or chooses an exit status.

``ce`` and ``conda exec`` share this parser; only ``prog`` differs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from functools import lru_cache

from ce import __version__
from ce.argv import split_argv, wants_verbose
from ce.backends.builtin import (
    ACTIVATE_RUNNER,
    CONDA_SOLVER,
    DEFAULT_LOCKFILE_FORMAT,
    DEFAULT_RUNNER,
    DEFAULT_SOLVER,
    RUNNER,
    SOLVER,
    builtin,
)
from ce.errors import EXIT_ERROR, CeError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ce.envs.provision import Prepared, RunOptions
    from ce.paths import CachePaths
    from ce.plugins.manager import BackendRegistry

SCRIPT_ONLY_OPTIONS = ("lock", "embed", "lock_format", "platform", "ignore_lock", "locked", "add")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser(prog: str = "ce") -> argparse.ArgumentParser:
    """The argument parser for ce's own options (TOOL and its arguments are split off first)."""
    parser = _Parser(
        prog=prog,
        allow_abbrev=False,
        description="Run a conda package's command, or a script with inline metadata, "
        "from a cached, isolated conda environment.",
        epilog="Everything after TOOL or SCRIPT is passed to it unchanged.",
    )
    parser.add_argument("tool", nargs="?", metavar="TOOL|SCRIPT", help="command to run, or a script file")
    parser.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="arguments for the tool")

    _add_environment_options(parser)
    _add_script_options(parser)
    _add_cache_options(parser)
    parser.add_argument("--backends", action="store_true", help="list solver, runner and lock-format backends")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more output; tracebacks on errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing of ce's own")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _add_environment_options(parser: argparse.ArgumentParser) -> None:
    env = parser.add_argument_group("environment")
    env.add_argument(
        "-c",
        "--channel",
        action="append",
        default=[],
        metavar="CH",
        help="channel: a name, a URL, or a directory written as a path (./x, /x, ~/x); repeatable, first has priority",
    )
    env.add_argument("--override-channels", action="store_true", help="use only the -c channels")
    env.add_argument(
        "--with",
        dest="with_specs",
        action="append",
        default=[],
        metavar="SPEC",
        help="also install this package (a conda MatchSpec); repeatable",
    )
    env.add_argument(
        "--from", dest="from_spec", metavar="SPEC", help="the package that provides TOOL, when their names differ"
    )
    env.add_argument("--refresh", action="store_true", help="solve again and recreate the environment")
    env.add_argument("--offline", action="store_true", help="use only cached repodata and packages")
    env.add_argument(
        "--solver",
        default=None,
        metavar="NAME",
        help=f"solver backend (default: {DEFAULT_SOLVER}; {CONDA_SOLVER} under conda exec)",
    )
    env.add_argument("--runner", default=None, metavar="NAME", help=f"runner backend (default: {DEFAULT_RUNNER})")
    env.add_argument(
        "--activate", action="store_true", help=f"run in a fully activated environment (--runner {ACTIVATE_RUNNER})"
    )


def _add_script_options(parser: argparse.ArgumentParser) -> None:
    scripts = parser.add_argument_group("scripts and locks")
    scripts.add_argument("--lock", action="store_true", help="write lock data for the script, then run it")
    scripts.add_argument("--embed", action="store_true", help="with --lock: embed the lock in the script")
    scripts.add_argument("--lock-format", metavar="NAME", help=f"lock format (default: {DEFAULT_LOCKFILE_FORMAT})")
    scripts.add_argument(
        "--platform", action="append", default=[], metavar="SUBDIR", help="also lock for this platform; repeatable"
    )
    scripts.add_argument("--ignore-lock", action="store_true", help="solve from the metadata, ignoring lock data")
    scripts.add_argument("--locked", action="store_true", help="run from fresh lock data or fail; never solve")
    scripts.add_argument(
        "--add",
        action="append",
        default=[],
        metavar="SPEC",
        help="add a conda dependency to the script's metadata (does not run it)",
    )


def _add_cache_options(parser: argparse.ArgumentParser) -> None:
    cache = parser.add_argument_group("cache")
    cache.add_argument("--list", action="store_true", help="list cached environments")
    cache.add_argument("--json", action="store_true", help="with --list: JSON output")
    cache.add_argument(
        "--clean",
        action="store_true",
        help="remove cached environments unused for CONDA_EXEC_CLEAN_AGE days (default 30)",
    )
    cache.add_argument("--all", action="store_true", help="with --clean: remove every environment")
    cache.add_argument("--older-than", type=float, metavar="DAYS", help="with --clean: unused for DAYS days")
    cache.add_argument("--dry-run", action="store_true", help="with --clean: show what would be removed")
    cache.add_argument("-y", "--yes", action="store_true", help="with --clean: do not ask for confirmation")


def parse_args(argv: Sequence[str], prog: str = "ce") -> argparse.Namespace:
    """Parse *argv*: ce's options, then TOOL and its untouched arguments."""
    options, tool, tool_args = split_argv(list(argv))
    namespace = build_parser(prog).parse_args([*options, "--", tool] if tool is not None else options)
    namespace.args = tool_args
    return namespace


def report_error(error: BaseException, verbose: bool, prog: str = "ce") -> int:
    """Print *error* as one line on stderr (with a traceback when verbose); return its exit code."""
    if verbose:
        import traceback

        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    message = " ".join(str(error).split()) or type(error).__name__
    print(f"{prog}: error: {message}", file=sys.stderr)
    return error.exit_code if isinstance(error, CeError) else EXIT_ERROR


def _format_age(timestamp: float) -> str:
    seconds = max(0.0, time.time() - timestamp)
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length:
            return f"{seconds / length:.0f}{unit} ago"
    return "just now"


class Cli:
    """One invocation of the command line."""

    def __init__(self, namespace: argparse.Namespace, prog: str) -> None:
        self.ns = namespace
        self.prog = prog
        self.warned = False

    def info(self, message: str) -> None:
        """A status line on stderr, unless quiet."""
        if not self.ns.quiet:
            print(f"{self.prog}: {message}", file=sys.stderr)

    def warn(self, message: str) -> None:
        """A warning on stderr, even when quiet."""
        self.warned = True
        print(f"{self.prog}: warning: {message}", file=sys.stderr)

    @lru_cache(maxsize=1)  # noqa: B019 - one Cli per process
    def registry(self) -> BackendRegistry:
        """The backend registry, loaded on first use; broken plugins are reported once."""
        from ce.plugins.manager import BackendRegistry

        registry = BackendRegistry()
        for broken in registry.broken:
            self.warn(str(broken))
        return registry

    def run(self) -> int:
        ns = self.ns
        modes = [name for name in ("list", "clean", "backends") if getattr(ns, name)]
        if len(modes) > 1:
            raise UsageError(f"--{modes[0]} and --{modes[1]} cannot be combined")
        if ns.json and not ns.list:
            raise UsageError("--json goes with --list")
        if not ns.clean and (ns.all or ns.older_than is not None or ns.dry_run or ns.yes):
            raise UsageError("--all, --older-than, --dry-run and -y go with --clean")
        if ns.embed and not ns.lock:
            raise UsageError("--embed goes with --lock")
        if ns.backends:
            return self.backends()
        if ns.list:
            return self.list_envs()
        if ns.clean:
            return self.clean()
        if ns.tool is None:
            raise UsageError(f"missing TOOL or SCRIPT (see {self.prog} --help)")
        if os.path.isfile(ns.tool) or os.sep in ns.tool or "/" in ns.tool:
            return self.script()
        return self.tool()

    def _paths(self) -> CachePaths:
        from ce.paths import CachePaths

        return CachePaths.from_environ()

    def backends(self) -> int:
        registry = self.registry()
        from ce.plugins.manager import KINDS

        for kind in KINDS:
            found = registry.backends(kind)
            print(f"{kind}s:")
            if not found:
                print("  (none)")
            for name, backend in sorted(found.items()):
                summary = f"  {backend.record.summary}" if backend.record.summary else ""
                print(f"  {name:<20} {backend.provider}{summary}")
        return 0

    def list_envs(self) -> int:
        from ce.envs.store import EnvCache, format_size

        entries = EnvCache(self._paths()).entries()
        if self.ns.json:
            import json

            rows = [
                {
                    "name": entry.name,
                    "path": entry.path,
                    "kind": entry.metadata.get("kind", "unknown"),
                    "command": entry.metadata.get("command"),
                    "specs": entry.metadata.get("specs", []),
                    "channels": entry.metadata.get("channels", []),
                    "platform": entry.metadata.get("platform"),
                    "size_bytes": entry.size,
                    "last_used": entry.last_used,
                }
                for entry in entries
            ]
            print(json.dumps(rows, indent=2))
            return 0
        if not entries:
            self.info("no cached environments")
            return 0
        for entry in entries:
            specs = ", ".join(entry.metadata.get("specs", [])) or "?"
            print(f"{entry.name:<40} {specs:<40} {format_size(entry.size):>9}  {_format_age(entry.last_used)}")
        return 0

    def clean(self) -> int:
        from ce.envs.autoclean import CleanSettings
        from ce.envs.store import EnvCache, format_size

        ns = self.ns
        if ns.all and ns.older_than is not None:
            raise UsageError("--all and --older-than cannot be combined")
        if ns.older_than is not None and not ns.older_than >= 0:
            raise UsageError("--older-than needs a number of days >= 0")
        settings = CleanSettings(os.environ)
        for warning in settings.warnings:
            self.warn(warning)
        age = None if ns.all else (ns.older_than if ns.older_than is not None else settings.age_days)
        package = None
        if ns.tool is not None:
            from ce.specs import tool_argument_spec

            package = tool_argument_spec(ns.tool)[0]
        cache = EnvCache(self._paths())
        selected = cache.select(age, package)
        what = "every" if age is None else f"unused for {age:g} days:"
        if not selected:
            print(f"nothing to remove ({'no environments' if age is None else 'no environment ' + what[:-1]})")
            if not ns.dry_run:
                cache.sweep()
            return 0
        for entry in selected:
            print(f"{'would remove' if ns.dry_run else 'remove'} {entry.name} ({format_size(entry.size)})")
        if ns.dry_run:
            total = sum(entry.size or 0 for entry in selected)
            print(f"would free {format_size(total)} in {len(selected)} environment(s)")
            return 0
        if not ns.yes and sys.stdin.isatty():
            answer = input(f"Remove {len(selected)} environment(s)? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing removed")
                return 0
        result = cache.clean(age, package)
        for entry in result.in_use:
            self.warn(f"kept {entry.name}: a running tool is using it")
        print(f"removed {len(result.removed)} environment(s), freed {format_size(result.freed_bytes)}")
        return 0

    def _run_options(self) -> RunOptions:
        from ce.envs.provision import RunOptions

        ns = self.ns
        if ns.activate and ns.runner not in (None, ACTIVATE_RUNNER):
            raise UsageError("--activate and --runner cannot be combined")
        runner = ACTIVATE_RUNNER if ns.activate else (ns.runner or DEFAULT_RUNNER)
        solver = ns.solver or DEFAULT_SOLVER
        if builtin(SOLVER, solver) is None:
            self.registry().get(SOLVER, solver)
        if builtin(RUNNER, runner) is None:
            self.registry().get(RUNNER, runner)
        return RunOptions(
            solver=solver,
            runner=runner,
            refresh=ns.refresh,
            offline=ns.offline,
            show_progress=sys.stderr.isatty() and not ns.quiet,
            verbose=bool(ns.verbose),
            environ=dict(os.environ),
        )

    def script(self) -> int:
        from ce.envs.provision import Reporter
        from ce.platforms import current_subdir
        from ce.script.metadata import parse_metadata, read_script
        from ce.script.request import resolve_script_request
        from ce.script.run import LockOptions, prepare_script

        ns = self.ns
        path = ns.tool
        if not os.path.isfile(path):
            raise UsageError(f"no such script: {path}")
        if ns.add:
            return self.add(path)
        text = read_script(path)
        metadata = parse_metadata(text, path)
        for warning in metadata.warnings:
            self.warn(warning)
        options = self._run_options()
        if ns.override_channels:
            from ce.config.channels import check_override_allowed

            check_override_allowed(os.environ)
        request = resolve_script_request(
            path, metadata, ns.with_specs, ns.channel, ns.override_channels, current_subdir(), os.environ
        )
        reporter = Reporter(info=self.info, warn=self.warn)
        lock_options = LockOptions(
            cli_channels=ns.channel,
            with_specs=ns.with_specs,
            lock=ns.lock,
            embed=ns.embed,
            format_name=ns.lock_format,
            extra_platforms=ns.platform,
            ignore_lock=ns.ignore_lock,
            locked=ns.locked,
        )
        prepared = prepare_script(request, text, ns.args, lock_options, options, self.registry, reporter)
        self._remember_script(path, text, request.interpreter, prepared.env_name, options)
        return self.start(prepared)

    def _remember_script(
        self, path: str, text: str, interpreter: tuple[str, ...], env_name: str, options: RunOptions
    ) -> None:
        """Record this run in the script index, so the next one can skip straight to exec.

        Only runs that the warm path would resolve the same way are recorded:
        no lock options, the default runner, and no warning to repeat.
        """
        from ce.paths import CachePaths
        from ce.platforms import current_subdir
        from ce.script import index as scriptindex

        ns = self.ns
        lock_options = (ns.lock, ns.ignore_lock, ns.locked, ns.refresh, ns.lock_format, ns.platform, ns.embed)
        if any(lock_options) or options.runner != DEFAULT_RUNNER or self.warned:
            return
        # The text was read (and decoded as UTF-8) once already: its bytes are what the warm path reads.
        data = text.encode("utf-8")
        if len(data) > scriptindex.MAX_SCRIPT_BYTES:
            return
        key = scriptindex.fingerprint(
            path, data, ns.channel, ns.with_specs, ns.override_channels, current_subdir(), os.environ
        )
        scriptindex.record(CachePaths.from_environ(), key, env_name, interpreter)

    def add(self, path: str) -> int:
        from ce.script.edit import add_dependencies

        for change in add_dependencies(path, self.ns.add):
            print(change)
        return 0

    def tool(self) -> int:
        from ce.envs.provision import Reporter
        from ce.platforms import current_subdir
        from ce.tool import prepare_tool
        from ce.tool_request import resolve_tool_request

        ns = self.ns
        used = [name for name in SCRIPT_ONLY_OPTIONS if getattr(ns, name)]
        if used:
            raise UsageError(f"--{used[0].replace('_', '-')} only applies to scripts")
        options = self._run_options()
        request = resolve_tool_request(
            ns.tool, ns.from_spec, ns.with_specs, ns.channel, ns.override_channels, current_subdir(), os.environ
        )
        prepared = prepare_tool(request, ns.args, options, self.registry, Reporter(info=self.info, warn=self.warn))
        return self.start(prepared)

    def start(self, prepared: Prepared) -> int:
        """Report what was built or cleaned, then start the process."""
        from ce.config.condarc import save_pending
        from ce.launch import launch

        report, cleaned, plan = prepared.report, prepared.cleaned, prepared.plan
        if report is not None:
            plural = "s" if report.packages != 1 else ""
            self.info(f"created {report.env_name} ({report.packages} package{plural}) in {report.seconds:.2f}s")
        if cleaned is not None and cleaned.removed:
            self.info(cleaned.describe_auto_clean())
        if self.ns.verbose:
            self.info(f"running {plan.executable}")
        save_pending()  # the run succeeded: now cache the condarc settings it merged
        return launch(plan)


def main(argv: Sequence[str] | None = None, prog: str = "ce") -> int:
    """Run the full command line; return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = wants_verbose(args)
    try:
        namespace = parse_args(args, prog)
        return Cli(namespace, prog).run()
    except CeError as error:
        return report_error(error, verbose, prog)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BaseException as error:  # a bug, or a backend's panic: still one line without -v
        if isinstance(error, SystemExit):
            raise
        return report_error(error, verbose, prog)
