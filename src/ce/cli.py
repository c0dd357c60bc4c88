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
from ce.errors import EXIT_ERROR, CeError, ToolNotFoundError, UsageError
from ce.fastpath import (
    RESOLUTION_VARIABLES,
    SCRIPT_SUFFIXES,
    VALUE_OPTIONS,
    is_script_name,
    record_tool,
    snapshot_paths,
    split_argv,
    tool_key,
    wants_verbose,
    warm_option_values,
)
from ce.text import one_line, shown
from ce.urls import masked

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ce.base import CachePaths
    from ce.envs.provision import Prepared, RunOptions
    from ce.envs.store import EnvEntry
    from ce.plugins.manager import BackendRegistry
    from ce.tool_request import ToolRequest

SCRIPT_ONLY_OPTIONS = ("lock", "embed", "lock_format", "platform", "ignore_lock", "locked", "add")
#: Script options a tool run merely leaves unused: a warning, as conda-exec gives, rather than a refusal.
#: The others would not do what was meant (write a lock, edit a file, never solve), so a tool refuses them.
TOOL_UNUSED_OPTIONS = ("ignore_lock", "lock_format")
#: Options that only shape what one mode does (``--list``'s output, ``--clean``'s selection and
#: confirmation): anywhere else they are unused, and warned about as conda-exec does, not refused.
MODE_ONLY_OPTIONS = {"json": "list", "dry_run": "clean", "all": "clean", "older_than": "clean", "yes": "clean"}

EXAMPLES = (
    ("ce ruff check .", "run ruff (built once, then started from the cache)"),
    ("ce ruff@0.6.9 --version", "a pinned version; ruff@latest is the newest"),
    ("ce 'ruff>=0.6,<0.7' --version", "any conda MatchSpec"),
    ("ce --from hello-tool hello", "a command whose package has another name"),
    ("ce --with numpy python -c 'import numpy'", "extra packages in the environment"),
    ("ce script.py ARGS", "a script with inline metadata (PEP 723 or [tool.conda])"),
    ("ce --lock script.py", "write lock data beside the script, then run it"),
    ("ce --locked script.py", "run exactly the locked packages, or fail (CI)"),
    ("ce --add 'numpy>=2' script.py", "add a dependency to the script's metadata"),
    ("ce --list ruff", "the cached environments of ruff"),
    ("ce --clean --older-than 7", "remove environments unused for a week"),
    ('eval "$(ce --completion bash)"', "shell completion (bash, zsh, fish)"),
)
ENVIRONMENT_VARIABLES = (
    ("CONDA_EXEC_HOME", "cache home (default ~/.conda/exec)"),
    ("CONDA_EXEC_CLEAN_INTERVAL", "automatic cleanup every N runs (default 50)"),
    ("CONDA_EXEC_CLEAN_AGE", "automatic cleanup removes environments unused for N days (default 30)"),
    ("CONDA_EXEC_AUTO_CLEAN", "0 turns automatic cleanup off"),
    ("RATTLER_CACHE_DIR", "rattler's package and repodata cache, shared with pixi (default ~/.cache/rattler/cache)"),
    ("CONDA_PKGS_DIRS", "conda's package caches: the first writable one holds packages without RATTLER_CACHE_DIR"),
    ("CONDA_CHANNELS", "the configured channels, comma-separated (as conda reads it)"),
    ("CONDA_SUBDIR", "the platform to install for (default: this machine's)"),
    ("CONDA_OVERRIDE_*", "virtual package overrides (CONDA_OVERRIDE_GLIBC, _CUDA, _OSX)"),
    ("UV_*", "uv's settings, for scripts' PyPI dependencies"),
)
#: The rows that read otherwise under conda (``conda exec``), whose default solver is conda's: see help_epilog
CONDA_ENVIRONMENT_VARIABLES = (
    ("RATTLER_CACHE_DIR", "rattler's packages and repodata, for --solver rattler (default ~/.cache/rattler/cache)"),
    ("CONDA_PKGS_DIRS", "conda's package caches (pkgs_dirs), where the default conda solver keeps packages"),
)
CACHE_DEFAULT = (
    "~/.conda/exec (CONDA_EXEC_HOME); packages in rattler's cache (RATTLER_CACHE_DIR, else the first writable "
    "pkgs_dirs of your .condarc)"
)
CONDA_CACHE_DEFAULT = (
    "~/.conda/exec (CONDA_EXEC_HOME); packages in conda's package cache (pkgs_dirs, CONDA_PKGS_DIRS); "
    "with --solver rattler, in rattler's (RATTLER_CACHE_DIR)"
)
#: The exit status of a run that Ctrl-C ended before the tool started (128 + SIGINT, as a shell reports it).
EXIT_INTERRUPTED = 130
EXIT_CODES = (
    ("N", "the tool ran: its exit status, unchanged (128+N: killed by signal N)"),
    ("1", "ce's own error (solve, channel, install, cache, lock, script metadata)"),
    ("2", "usage error (options, names, specs)"),
    ("126", "the command exists in the environment but cannot be executed"),
    ("127", "the command is not in the environment; the message says which commands it has"),
    (str(EXIT_INTERRUPTED), "interrupted (Ctrl-C) before the tool started; nothing more was written"),
)


def _table(rows: Sequence[tuple[str, str]]) -> str:
    width = max(len(left) for left, _right in rows)
    return "\n".join(f"  {left:<{width}}  {right}" for left, right in rows)


def under_conda(prog: str) -> bool:
    """Whether *prog* is a conda subcommand (``conda exec``, ``conda exec-ce``): conda's solver is the default."""
    return prog.startswith("conda ")


def environment_variables(prog: str = "ce") -> tuple[tuple[str, str], ...]:
    """The environment variables ``--help`` lists for *prog* (under conda, packages go to conda's caches)."""
    if not under_conda(prog):
        return ENVIRONMENT_VARIABLES
    replaced = dict(CONDA_ENVIRONMENT_VARIABLES)
    return tuple((name, replaced.get(name, text)) for name, text in ENVIRONMENT_VARIABLES)


def help_epilog(prog: str = "ce") -> str:
    """The part of ``--help`` after the options: examples, defaults, environment variables, exit codes."""
    from ce.config.channels import DEFAULT_CHANNELS

    examples = [(command.replace("ce ", f"{prog} ", 1), text) for command, text in EXAMPLES]
    return (
        "Everything after TOOL or SCRIPT is passed to it unchanged, except one leading --, a separator\n"
        f"({prog} python -- -c 'print(1)'; -- -- passes a literal --). SCRIPT is a path (./x, dir/x)\n"
        f"or a name with a script suffix:\n  {' '.join(SCRIPT_SUFFIXES)}\n"
        f"any other name is a package's command, even with a file of that name here ({prog} ./x runs it).\n\n"
        f"examples:\n{_table(examples)}\n\n"
        "defaults:\n"
        + _table(
            (
                ("channel", f"{', '.join(DEFAULT_CHANNELS)}, or the channels of your .condarc (-c to choose)"),
                ("cache", CONDA_CACHE_DEFAULT if under_conda(prog) else CACHE_DEFAULT),
            )
        )
        + f"\n\nenvironment variables:\n{_table(environment_variables(prog))}\n\nexit codes:\n{_table(EXIT_CODES)}\n"
    )


class _Version(argparse.Action):
    """``--version``: ce's version, and who owns ``conda exec`` when conda-exec does (looked up only when asked)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kwargs: object) -> None:
        from ce.conda_owner import ownership_note

        note = ownership_note()
        print(f"{parser.prog} {__version__}" + (f"\n{note}" if note else ""))
        parser.exit()


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see {self.prog} --help)")


def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
    return [option for action in parser._actions for option in action.option_strings]


def check_unknown_options(options: Sequence[str], parser: argparse.ArgumentParser) -> None:
    """Refuse an option ce does not have, suggesting the nearest one (``--lsit``: ``--list``)."""
    known = _option_strings(parser)
    index = 0
    while index < len(options):
        option = options[index]
        index += 1
        if option == "--":
            return
        if not option.startswith("--"):
            continue
        name = option.partition("=")[0]
        if name in VALUE_OPTIONS and "=" not in option:
            index += 1  # its value
        elif name not in known:
            import difflib

            long_options = [known_option for known_option in known if known_option.startswith("--")]
            # an abbreviation first (argparse's are off: the warm path could not agree), then a typo
            close = [known_option for known_option in long_options if known_option.startswith(name)]
            if len(close) != 1:
                close = difflib.get_close_matches(name, long_options, n=1, cutoff=0.75)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise UsageError(f"unknown option {name}{hint} (see {parser.prog} --help)")


def build_parser(prog: str = "ce") -> argparse.ArgumentParser:
    """The argument parser for ce's own options (TOOL and its arguments are split off first)."""
    parser = _Parser(
        prog=prog,
        allow_abbrev=False,
        description="Run a conda package's command, or a script with inline metadata, "
        "from a cached, isolated conda environment.",
        epilog=help_epilog(prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "tool", nargs="?", metavar="TOOL|SCRIPT", help="command to run, or a script (a path or a script suffix)"
    )
    parser.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="arguments for the tool")

    _add_environment_options(parser)
    _add_script_options(parser)
    _add_cache_options(parser)
    parser.add_argument("--backends", action="store_true", help="list solver, runner and lock-format backends")
    parser.add_argument(
        "--completion", choices=("bash", "zsh", "fish"), metavar="SHELL", help="print a completion script for SHELL"
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more output; tracebacks on errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing of ce's own")
    parser.add_argument("--version", action=_Version, help="show program's version number and exit")
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
    cache.add_argument(
        "--list",
        action="store_true",
        help="list cached environments (of TOOL or SCRIPT, if given); sizes are "
        "what removal frees, apart from files shared with the package cache",
    )
    cache.add_argument("--json", action="store_true", help="with --list: JSON, conda-exec's fields too (docs/cache.md)")
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
    parser = build_parser(prog)
    check_unknown_options(options, parser)
    namespace = parser.parse_args([*options, "--", tool] if tool is not None else options)
    namespace.args = tool_args
    namespace.ce_options = options
    namespace.defaults = {
        action.dest: action.default
        for action in parser._actions
        if action.option_strings and action.default is not argparse.SUPPRESS
    }
    namespace.option_names = {
        action.dest: max(action.option_strings, key=len) for action in parser._actions if action.option_strings
    }
    return namespace


def printable(text: str) -> str:
    """*text* as ce prints a message: one line, control characters escaped, no URL with its credentials."""
    return masked(one_line(text))


def report_error(error: BaseException, verbose: bool, prog: str = "ce") -> int:
    """Print *error* as one line on stderr (with a traceback when verbose); return its exit code.

    Every message goes through :func:`ce.text.one_line`: names, paths and metadata from outside
    in it reach the terminal with their control characters escaped (the traceback's too).
    """
    if verbose:
        import traceback

        for line in "".join(traceback.format_exception(type(error), error, error.__traceback__)).split("\n"):
            print(shown(line), file=sys.stderr)
    if isinstance(error, OSError) and error.strerror:  # "PATH: Not a directory", not "[Errno 20] ..."
        names = [str(name) for name in (error.filename, error.filename2) if name is not None]
        text = f"{' -> '.join(names)}: {error.strerror}" if names else error.strerror
    else:
        text = str(error)
    message = printable(text) or type(error).__name__
    print(f"{prog}: error: {message}", file=sys.stderr)
    excerpt = error.excerpt if isinstance(error, CeError) else None
    if excerpt is not None and (verbose or sys.stderr.isatty()):
        for line in excerpt_lines(*excerpt):
            print(line, file=sys.stderr)
    return error.exit_code if isinstance(error, CeError) else EXIT_ERROR


def excerpt_lines(number: int, source: str, column: int) -> list[str]:
    """The source line an error points at and a caret under *column* (1-based), as uv shows them.

    Only for a person: the error itself stays one line, so a log or a program reading stderr
    gets one line per error; on a terminal or with ``-v`` these two follow it. The source line
    is escaped as a message is (each character kept in its place, a tab shown as ``\\t``), and
    the caret counts the escaped width of what precedes the column.
    """
    gutter = str(number)
    shown_line = masked(shown(source))
    before = masked(shown(source[: max(column - 1, 0)]))
    return [f"{gutter} | {shown_line}", f"{' ' * len(gutter)} | {' ' * min(len(before), len(shown_line))}^"]


def _format_age(timestamp: float) -> str:
    seconds = max(0.0, time.time() - timestamp)
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length:
            return f"{seconds / length:.0f}{unit} ago"
    return "just now"


def _list_row(entry: EnvEntry) -> dict[str, object]:
    """One environment as ``--list`` shows it (and ``--list --json`` prints it)."""
    own, shared = entry.sizes()
    meta = entry.metadata
    kind = meta.get("kind", "unknown")
    return {
        # conda-exec's fields (its `--list --json`), with its meaning and format (see docs/cache.md)
        "tool": entry.package,
        "key": entry.name,
        "prefix": entry.path,
        "created": _iso8601(entry.created),
        "last_used": _iso8601(entry.last_used),
        "size_bytes": None if own is None or shared is None else own + shared,
        "packages": entry.package_count(),
        # ce's own
        "name": entry.name,
        "path": entry.path,
        "kind": kind,
        "command": meta.get("command"),
        "package": meta.get("package", entry.package if kind == "tool" else None),
        "script": meta.get("script"),
        "locked": bool(meta.get("locked", False)),
        "specs": meta.get("specs", []),
        "pypi": meta.get("pypi", []),
        "channels": meta.get("channels", []),
        "platform": meta.get("platform"),
        "own_bytes": own,
        "shared_bytes": shared,
        "last_used_timestamp": entry.last_used,
    }


def _iso8601(timestamp: float | None) -> str | None:
    """*timestamp* as conda-exec prints a time: ISO 8601 in UTC (``2026-01-02T03:04:05.678901+00:00``), or None."""
    if not timestamp:
        return None
    from datetime import datetime, timezone

    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat()


def _check_working_directory() -> None:
    """Refuse, in one line, to build or lock from a working folder that was removed.

    Relative paths need it, and importing rattler reads it: the bare ``No such file or
    directory`` that follows names nothing.  (A warm hit never gets here: it still runs.)
    """
    try:
        os.getcwd()
    except FileNotFoundError:
        raise UsageError("the working directory no longer exists (removed?): cd to an existing one") from None


def _no_such_script(path: str) -> str:
    """``no such script: PATH``, with the nearest file of that directory if one is close."""
    if os.path.isdir(path):
        return f"{shown(path)} is a directory, not a script"
    if os.path.exists(path):  # a FIFO, a device, a terminal (ce /dev/stdin at a prompt)
        return f"{shown(path)} is not a regular file, nor a pipe such as /dev/stdin (cat s.py | ce /dev/stdin)"
    if os.path.islink(path):  # dangling, or a loop
        return f"no such script: {shown(path)} is a symbolic link to nothing ({shown(os.readlink(path))})"
    directory, name = os.path.split(path)
    try:
        neighbours = [entry for entry in os.listdir(directory or ".") if not entry.startswith(".") and entry != name]
    except OSError:
        neighbours = []
    import difflib

    close = difflib.get_close_matches(name, neighbours, n=1, cutoff=0.6)
    if close:
        suggestion = os.path.join(directory, close[0])
        if not is_script_name(suggestion):  # a bare name would be a package's command: ./NAME is the file
            suggestion = os.path.join(os.curdir, suggestion)
        return f"no such script: {shown(path)}; did you mean {shown(suggestion)}?"
    if directory:
        return f"no such script: {shown(path)}"
    return f"no such script: {shown(path)} (for a command of that name: --from PACKAGE {shown(path)})"


class Cli:
    """One invocation of the command line."""

    def __init__(self, namespace: argparse.Namespace, prog: str) -> None:
        self.ns = namespace
        self.prog = prog
        self.warned = False
        self.piped = False
        #: Options given where they do nothing (warned about once, then ignored).
        self.unused: set[str] = set()

    def info(self, message: str) -> None:
        """A status line on stderr, unless quiet."""
        if not self.ns.quiet:
            print(f"{self.prog}: {printable(message)}", file=sys.stderr)

    def warn(self, message: str) -> None:
        """A warning on stderr, even when quiet."""
        self.warned = True
        print(f"{self.prog}: warning: {printable(message)}", file=sys.stderr)

    @lru_cache(maxsize=1)  # noqa: B019 - one Cli per process
    def registry(self) -> BackendRegistry:
        """The backend registry, loaded on first use; broken plugins are reported once."""
        from ce.plugins.manager import BackendRegistry

        registry = BackendRegistry()
        for broken in registry.broken:
            self.warn(str(broken))
        return registry

    def _used(self) -> list[str]:
        """The ce options given on this command line (by destination), in the parser's order."""
        ns = self.ns
        return [dest for dest, default in ns.defaults.items() if getattr(ns, dest) != default]

    def _only(self, mode: str, allowed: set[str], tool: bool = False, args: bool = False) -> None:
        """Refuse options (and TOOL, and arguments after it) that *mode* would silently ignore."""
        ns = self.ns
        for dest in self._used():
            if dest not in allowed | self.unused | {mode, "verbose", "quiet"}:
                raise UsageError(f"{ns.option_names[dest]} does not go with {ns.option_names[mode]}")
        if ns.tool is not None and not tool:
            raise UsageError(f"{ns.option_names[mode]} takes no TOOL or SCRIPT (got {ns.tool!r})")
        if ns.args and not args:
            raise UsageError(f"{ns.option_names[mode]} takes one TOOL or SCRIPT (got also {' '.join(ns.args)!r})")

    def run(self) -> int:
        ns = self.ns
        modes = [name for name in ("list", "clean", "backends", "completion") if getattr(ns, name)]
        if len(modes) > 1:
            raise UsageError(f"--{modes[0]} and --{modes[1]} cannot be combined")
        for dest, home in MODE_ONLY_OPTIONS.items():
            if getattr(ns, dest) != ns.defaults[dest] and not getattr(ns, home):
                self.unused.add(dest)
                self.warn(f"{ns.option_names[dest]} is only used with {ns.option_names[home]}; ignoring it")
        if ns.embed and not ns.lock:
            raise UsageError("--embed goes with --lock")
        if ns.backends:
            self._only("backends", set())
            return self.backends()
        if ns.completion:
            self._only("completion", set())
            return self.completion()
        if ns.list:
            self._only("list", {"json"}, tool=True)
            return self.list_envs()
        if ns.clean:
            self._only("clean", {"all", "older_than", "dry_run", "yes"}, tool=True)
            return self.clean()
        if ns.tool is None:
            raise UsageError(f"missing TOOL or SCRIPT (see {self.prog} --help)")
        _check_working_directory()
        if not is_script_name(ns.tool):  # a bare name is a command, even beside a file of that name
            return self.tool()
        if ns.tool.startswith(("/dev/", "/proc/")) and not os.path.isfile(ns.tool):
            from ce.script.metadata import hold_piped_script

            self.piped = hold_piped_script(ns.tool)  # cat s.py | ce /dev/stdin: now a file
        if os.path.isfile(ns.tool):
            return self.script()
        if ns.from_spec is None:
            raise UsageError(_no_such_script(ns.tool))
        return self.tool()  # --from PACKAGE x.py: a command of that name

    def _paths(self) -> CachePaths:
        from ce.base import CachePaths

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
                # names, providers and summaries come from plugins' distributions: one line each, escaped
                summary = f"  {one_line(backend.record.summary)}" if backend.record.summary else ""
                table_entry = builtin(kind, name)
                reason = table_entry.unavailable_reason() if table_entry is not None else None
                unavailable = f"  [unavailable here: {one_line(reason)}]" if reason else ""
                print(f"  {shown(name):<20} {shown(backend.provider)}{summary}{unavailable}")
        from ce.conda_owner import ownership_note

        note = ownership_note()
        if note is not None:
            print(f"conda subcommand:\n  {note}")
        return 0

    def completion(self) -> int:
        from ce.completion import completion_script

        print(completion_script(self.ns.completion, build_parser(self.prog)), end="")
        return 0

    def _filter(self) -> Callable[[EnvEntry], bool] | None:
        """With a TOOL or SCRIPT after --list or --clean: which environments it means."""
        tool = self.ns.tool
        if tool is None:
            return None
        if is_script_name(tool):
            if not os.path.isfile(tool):
                raise UsageError(_no_such_script(tool))
            script = os.path.abspath(tool)
            return lambda entry: entry.metadata.get("script") == script
        from ce.specs import spec_package_name, tool_argument_spec

        command, spec = tool_argument_spec(tool)
        package = spec_package_name(spec)
        commands = {command, command.lower()}
        return lambda entry: entry.package == package or entry.metadata.get("command") in commands

    def list_envs(self) -> int:
        from ce.envs.store import EnvCache, format_size

        entries = EnvCache(self._paths()).entries()
        wanted = self._filter()
        if wanted is not None:
            entries = [entry for entry in entries if wanted(entry)]
        rows = [_list_row(entry) for entry in entries]
        if self.ns.json:
            import json

            print(json.dumps(rows, indent=2))
            return 0
        if not entries:
            self.info("no cached environments" + (f" of {shown(self.ns.tool)}" if self.ns.tool else ""))
            return 0
        header = ("KIND", "TOOL OR SCRIPT", "SPECS", "SIZE", "SHARED", "LAST USED", "ENVIRONMENT")
        table: list[tuple[str, ...]] = [header]
        for row in rows:
            kind = str(row["kind"])
            if kind == "script" and row["locked"]:
                kind = "script, locked"
            what = row["script"] if kind.startswith("script") else row["command"] or row["package"]
            cells = (
                kind,
                str(what or "?"),
                ", ".join(row["specs"]) or "?",  # type: ignore[arg-type]
                format_size(row["own_bytes"]),  # type: ignore[arg-type]
                format_size(row["shared_bytes"]),  # type: ignore[arg-type]
                _format_age(float(row["last_used_timestamp"])),  # type: ignore[arg-type]
                str(row["name"]),
            )
            # a script's path, a command and specs are names from outside (JSON escapes them itself)
            table.append(tuple(shown(cell) for cell in cells))
        widths = [max(len(line[column]) for line in table) for column in range(len(table[0]))]
        right = {3, 4}  # sizes
        for line in table:
            padded = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(line)]
            print("  ".join(padded).rstrip())
        return 0

    def clean(self) -> int:
        from ce.base import CleanSettings
        from ce.envs.store import EnvCache, describe_freed, format_size, shared_files, shared_total

        ns = self.ns
        if ns.all and ns.older_than is not None:
            raise UsageError("--all and --older-than cannot be combined")
        if ns.older_than is not None and not ns.older_than >= 0:
            raise UsageError("--older-than needs a number of days >= 0")
        settings = CleanSettings(os.environ)
        for warning in settings.warnings:
            self.warn(warning)
        age = None if ns.all else (ns.older_than if ns.older_than is not None else settings.age_days)
        wanted = self._filter()
        cache = EnvCache(self._paths())
        selected = [entry for entry in cache.select(age) if wanted is None or wanted(entry)]
        what = "every" if age is None else f"unused for {age:g} days:"
        if not selected:
            print(f"nothing to remove ({'no environments' if age is None else 'no environment ' + what[:-1]})")
            if not ns.dry_run:
                cache.sweep()
            return 0
        if not ns.dry_run:
            cache.check_writable()  # one line before listing what could not be removed
        for entry in selected:
            own, shared = entry.sizes()
            extra = f", {format_size(shared)} shared" if shared else ""
            print(f"{'would remove' if ns.dry_run else 'remove'} {shown(entry.name)} ({format_size(own)}{extra})")
        if not (ns.yes or ns.dry_run) and not sys.stdin.isatty():
            # no one to ask (a pipe, cron): deleting needs -y, as apt does; the automatic cleanup never gets here
            raise CeError(
                f"not removing {len(selected)} environment(s) without confirmation: "
                "stdin is not a terminal to ask on; add -y (--yes) to remove them"
            )
        # the environments link the same package cache files: the total counts each of them once
        shared_by = {entry.name: shared_files(entry.path) for entry in selected}  # measured before any removal
        if ns.dry_run:
            own_total = sum(entry.sizes()[0] or 0 for entry in selected)
            shared_bytes = shared_total(shared_by.values())
            print(f"{describe_freed(own_total, shared_bytes, 'would free')} in {len(selected)} environment(s)")
            return 0
        if not ns.yes:
            try:
                answer = input(f"Remove {len(selected)} environment(s)? [y/N] ")
            except EOFError:  # Ctrl-D: no answer is a no
                print()
                answer = ""
            if answer.strip().lower() not in ("y", "yes"):
                print("aborted: nothing removed")
                return EXIT_ERROR  # as conda-exec: a declined cleanup is not a success a script may assume
        result = cache.clean_entries(selected)
        for entry in result.in_use:
            self.warn(f"kept {entry.name}: a running tool is using it")
        shared_bytes = shared_total(shared_by[entry.name] for entry in result.removed)
        print(f"removed {len(result.removed)} environment(s), {describe_freed(result.freed_bytes, shared_bytes)}")
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
            raise UsageError(_no_such_script(path))
        if self.piped and (ns.add or ns.lock):
            option = "--add" if ns.add else "--lock"
            raise UsageError(f"{option} writes into or beside a script file; {shown(path)} is a pipe: save it first")
        if ns.add:
            self._only("add", set(), tool=True)
            return self.add(path)
        if ns.from_spec is not None:
            raise UsageError("--from names the package of a TOOL; a script lists its packages in its metadata")
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
        from ce.base import CachePaths
        from ce.platforms import current_subdir
        from ce.script import index as scriptindex

        ns = self.ns
        # --locked is recorded (its key differs): the same fresh lock gives the same environment, never a solve.
        lock_options = (ns.lock, ns.ignore_lock, ns.refresh, ns.lock_format, ns.platform, ns.embed)
        if any(lock_options) or options.runner != DEFAULT_RUNNER or self.warned:
            return
        # The text was read (and decoded as UTF-8) once already: its bytes are what the warm path reads.
        data = text.encode("utf-8")
        if len(data) > scriptindex.MAX_SCRIPT_BYTES:
            return
        key = scriptindex.fingerprint(
            path, data, ns.channel, ns.with_specs, ns.override_channels, current_subdir(), os.environ, ns.locked
        )
        scriptindex.record(CachePaths.from_environ(), key, env_name, interpreter)

    def add(self, path: str) -> int:
        from ce.script.edit import add_dependencies

        for change in add_dependencies(path, self.ns.add, lambda held: self.info(f"waiting for another edit: {held}")):
            print(one_line(change))
        return 0

    def tool(self) -> int:
        from ce.envs.provision import Reporter
        from ce.platforms import current_subdir
        from ce.tool import prepare_tool
        from ce.tool_request import resolve_tool_request

        ns = self.ns
        used = [name for name in SCRIPT_ONLY_OPTIONS if getattr(ns, name) != ns.defaults[name]]
        refused = [name for name in used if name not in TOOL_UNUSED_OPTIONS]
        if refused:
            raise UsageError(f"{ns.option_names[refused[0]]} only applies to scripts")
        for name in used:
            self.warn(f"{ns.option_names[name]} is only used with scripts; ignoring it")
        options = self._run_options()
        index_state = self._tool_index_state(options)  # before resolving: what the resolution reads
        request = resolve_tool_request(
            ns.tool, ns.from_spec, ns.with_specs, ns.channel, ns.override_channels, current_subdir(), os.environ
        )
        try:
            prepared = prepare_tool(request, ns.args, options, self.registry, Reporter(self.info, self.warn))
        except ToolNotFoundError as error:
            hint = self._not_found_hint(request.env_name, request.package, request.command, str(error))
            raise ToolNotFoundError(hint) from error
        if index_state is not None:
            self._remember_tool(index_state, request, prepared, options)
        return self.start(prepared)

    def _tool_index_state(self, options: RunOptions) -> tuple[str, list[tuple[str, str]], set[str]] | None:
        """The tool index key of this command line, a snapshot of the condarc paths, and their variables.

        ``None`` when the warm path would not handle this command line (it would never look the key up).
        """
        from ce.config.condarc import watched_paths

        ns = self.ns
        if options.runner != (ACTIVATE_RUNNER if ns.activate else DEFAULT_RUNNER):
            return None
        ce_options = [option for option in ns.ce_options if option != "--activate"]  # as the warm path sees them
        values = warm_option_values(ce_options)
        if values is None:
            return None
        try:
            key = tool_key(ns.tool, ce_options, values, os.environ, self.prog)
        except OSError:  # no working directory to resolve a relative path against: never recorded
            return None
        watched, variables = watched_paths(os.environ)
        return key, snapshot_paths(watched), variables

    def _remember_tool(
        self,
        state: tuple[str, list[tuple[str, str]], set[str]],
        request: ToolRequest,
        prepared: Prepared,
        options: RunOptions,
    ) -> None:
        """Record this run in the tool index, so the next one can skip straight to exec.

        Only a run without a warning, whose channels do not depend on the working directory
        through the configuration, and whose command the warm path finds the same way.
        """
        from ce.base import find_command, read_regular
        from ce.config.channels import configuration_depends_on_cwd
        from ce.config.condarc import MAX_CACHE_BYTES, find_files, variables_in
        from ce.specs import command_candidates

        key, before, variables = state
        if self.warned or configuration_depends_on_cwd(os.environ):
            return
        variables = set(variables)
        for path, _, _ in find_files(os.environ):  # a condarc value may name any variable
            data = read_regular(path, MAX_CACHE_BYTES)
            if data is None or len(data) > MAX_CACHE_BYTES:
                return
            variables |= variables_in(data.decode("utf-8", "surrogateescape"))
        for name in RESOLUTION_VARIABLES:
            variables |= variables_in(os.environ.get(name, ""))
        paths = self._paths()
        prefix = paths.env(request.env_name)
        for command in command_candidates(request.command):
            executable = find_command(prefix, command, os.environ)
            if executable is not None:
                break
        else:
            return
        plan = prepared.plan
        if options.runner == DEFAULT_RUNNER and (plan.executable, plan.argv[0]) != (executable, command):
            return
        target = (request.env_name, request.command, executable, command)
        record_tool(paths, key, target, before, variables, os.environ)

    def _not_found_hint(self, env_name: str, package: str, typed: str, message: str) -> str:
        """The 127 message, naming the exact command line to run what the package does provide."""
        import shlex

        from ce.tool import package_commands

        commands = package_commands(self._paths().env(env_name), package)
        if not commands:
            return message
        ns = self.ns
        options: list[str] = []
        skip = False
        for option in ns.ce_options:  # the user's own options, without --from
            if skip:
                skip = False
            elif option == "--from":
                skip = True
            elif not option.startswith("--from="):
                options.append(option)
        source = ns.from_spec or package
        command = commands[0] if len(commands) == 1 else "COMMAND"
        run = shown(f"{self.prog} {shlex.join([*options, '--from', source, command])}")
        listed = [shown(name) for name in commands]
        provides = f"provides one command: {listed[0]}" if len(listed) == 1 else f"provides {', '.join(listed)}"
        return f"command {typed!r} not found: package {shown(package)} {provides}; run: {run}"

    def start(self, prepared: Prepared) -> int:
        """Report what was built or cleaned, then start the process."""
        from ce.base import launch
        from ce.config.condarc import save_pending
        from ce.interrupts import raise_if_interrupted

        report, cleaned, plan = prepared.report, prepared.cleaned, prepared.plan
        if report is not None:
            plural = "s" if report.packages != 1 else ""
            self.info(f"created {report.env_name} ({report.packages} package{plural}) in {report.seconds:.2f}s")
        if cleaned is not None and cleaned.removed:
            self.info(cleaned.describe_auto_clean())
        if self.ns.verbose:
            self.info(f"running {plan.executable}")
        raise_if_interrupted()  # a Ctrl-C that foreign code swallowed: nothing is cached or started
        save_pending()  # the run succeeded: now cache the condarc settings it merged
        return launch(plan)


def main(argv: Sequence[str] | None = None, prog: str = "ce") -> int:
    """Run the full command line; return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = wants_verbose(args)
    from ce.interrupts import catch_interrupts, interrupted

    catch_interrupts()
    try:
        namespace = parse_args(args, prog)
        return Cli(namespace, prog).run()
    except KeyboardInterrupt:
        pass
    except BaseException as error:  # a bug, or a backend's panic: still one line without -v
        if isinstance(error, SystemExit):
            raise
        if not interrupted():  # after Ctrl-C, an error is its consequence (a cut transfer...): 130 below
            return report_error(error, verbose, prog)
    print(f"{prog}: interrupted", file=sys.stderr)
    return EXIT_INTERRUPTED
