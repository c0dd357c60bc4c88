"""The start of every run: split the command line, then try the warm path (the tool index, stat calls, ``exec``).

:func:`split_argv` separates ce's options from TOOL and the tool's arguments:
everything after TOOL belongs to the tool (``ce ruff --help`` is ruff's help, and one
leading ``--`` there is a separator, as in conda-exec), so the split happens before any
option parsing, and the full parser (``ce.cli``) uses the same split.  :func:`is_script_name`
says whether TOOL names a script (a path, or a script suffix) or a package's command.

:func:`run_warm` handles the common command lines (TOOL with ``-c``, ``--with``,
``--from``, ``--override-channels``, ``-q``, ``--offline``, ``--activate``) when
the environment exists, and returns without doing anything otherwise.  A tool is
found through the tool index (below), so a tool hit imports no configuration, spec
or platform module; a script through the script index (:mod:`ce.script.index`).

**The tool index.**  After a tool run that resolved without a warning, the full command
line records (:func:`record_tool`) which environment and command it used, under a key over
everything that could change that answer: the recipe and ce's version, the machine and user,
TOOL and ce's options exactly as given, the value (or absence) of every environment variable
the resolution reads (:data:`RESOLUTION_VARIABLES`), and the working directory when an option
value is a relative path.  The entry itself carries what the key cannot: a stat signature of
every condarc search-path entry (files, ``condarc.d`` directories and their listing, and
entries that did not exist), and the names and a hash of any other variable that a condarc
file, a variable's value or the search path refers to.  The warm path recomputes the key,
reads the entry (one small regular file), re-stats exactly the recorded paths and compares
(:func:`lookup_tool`); any difference (a new, changed or removed condarc file, a changed
variable) is a miss, and the full command line runs and records again: never a stale hit.

A cache hit is at Python's floor only if it imports almost nothing: no argparse,
rattler, asyncio, pluggy, json, re or ``__future__``, and of ce's own modules only
``ce``, this one and :mod:`ce.base` (each module costs 0.1-0.2 ms).
``tests/test_startup.py`` holds the exact list.
"""

import os
import stat
import sys
import time

from ce import __version__
from ce.base import (
    KEY_RECIPE,
    MAX_INDEX_ENTRY_BYTES,
    CachePaths,
    CleanSettings,
    LaunchPlan,
    bump_run_count,
    find_command,
    hold_shared,
    is_env_name,
    is_trusted,
    launch,
    path_environ,
    read_index_entry,
    release,
    script_argument,
    sha256_hex,
    trusted_dir,
    wait_for_gate,
    write_index_entry,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

# --- splitting the command line ----------------------------------------------------------------
# ``tests/test_fastpath.py`` keeps VALUE_OPTIONS equal to the full parser's options that take a value.

#: Options that consume the next argument (or ``--opt=value``).
VALUE_OPTIONS = frozenset(
    {
        "-c",
        "--channel",
        "--with",
        "--from",
        "--solver",
        "--runner",
        "--lock-format",
        "--platform",
        "--add",
        "--older-than",
        "--completion",
    }
)
#: Short options that take a value; the others are flags and may be clustered (``-vq``).
SHORT_VALUE_OPTIONS = frozenset(option[1] for option in VALUE_OPTIONS if len(option) == 2)


def split_argv(argv: list[str]) -> tuple[list[str], str | None, list[str]]:
    """Return ``(ce_options, tool, tool_args)``.

    TOOL is the first argument that is neither an option nor an option's
    value; ``--`` ends ce's options explicitly.  One ``--`` right after TOOL
    is a separator too, as conda-exec documents (``ce python -- -c 'print(1)'``):
    it is dropped, and only that one (``ce tool -- -- x`` gives the tool ``-- x``).
    """
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            if index + 1 < len(argv):
                return argv[:index], argv[index + 1], _tool_arguments(argv, index + 2)
            return argv[:index], None, []
        if arg.startswith("--"):
            takes_value = arg in VALUE_OPTIONS
            index += 2 if takes_value else 1
            continue
        if arg.startswith("-") and len(arg) > 1:
            index += 1
            for position, letter in enumerate(arg[1:], start=2):
                if letter in SHORT_VALUE_OPTIONS:
                    if position == len(arg):  # the value is the next argument
                        index += 1
                    break
            continue
        return argv[:index], arg, _tool_arguments(argv, index + 1)
    return argv, None, []


def _tool_arguments(argv: list[str], start: int) -> list[str]:
    """``argv[start:]``, without one leading ``--`` (the separator after TOOL)."""
    if start < len(argv) and argv[start] == "--":
        start += 1
    return argv[start:]


#: Suffixes that make TOOL a script's name (``ce build.sh``), whether or not the file exists: Python's
#: (the only ones conda-exec knows) and those of the interpreters a script's ``run-with`` names.
SCRIPT_SUFFIXES = (
    ".py", ".pyw", ".sh", ".bash", ".zsh", ".fish", ".R", ".r", ".jl", ".pl", ".rb", ".js", ".mjs", ".ts", ".lua",
    ".php", ".tcl", ".ps1", ".bat", ".cmd",
)  # fmt: skip


def is_script_name(tool: str) -> bool:
    """Whether TOOL names a script: it holds a path separator (``./ruff``, ``dir/x``, ``/dev/stdin``,
    and ``\\`` everywhere, as in conda-exec) or ends in a script suffix (:data:`SCRIPT_SUFFIXES`).

    A bare name is a package's command even when a file of that name is in the working
    directory: ``ce ruff`` in an untrusted checkout holding a file ``ruff`` runs the ruff
    package, never that file (``./ruff`` runs the file).  String checks only: no ``stat``.
    """
    return "/" in tool or "\\" in tool or tool.endswith(SCRIPT_SUFFIXES)  # os.sep is one of the two


def wants_verbose(argv: list[str]) -> bool:
    """Whether ce's own options (not the tool's) include ``-v``/``--verbose``: tracebacks on errors."""
    return any(option in ("-v", "--verbose") for option in split_argv(argv)[0])


def is_ce_error(error: BaseException) -> bool:
    """Whether *error* is one of ce's; the error classes load only now (a warm hit never needs them)."""
    from ce.errors import CeError

    return isinstance(error, CeError)


def write_missing_bytecode() -> None:
    """Write ce's ``.pyc`` files if this start compiled ce from source: it would on every start.

    That happens under ``PYTHONDONTWRITEBYTECODE`` when the installer wrote no bytecode (uv
    without ``--compile-bytecode``): about 30 ms a run.  Every front door calls this first;
    it costs one ``stat``, and only under that variable.
    """
    if not sys.dont_write_bytecode:
        return
    spec = __spec__
    cached = spec.cached if spec is not None else None
    if cached is None or os.path.exists(cached):
        return
    from ce.envs.bytecode import compile_ce_itself

    compile_ce_itself()


# --- the tool index ---------------------------------------------------------------------------

TOOL_INDEX_RECIPE = "ce-tool-index:2"
#: Options left out of the key: they change what ce prints, not what it resolves.
QUIET_FLAGS = ("-q", "--quiet")
#: Tool index entry file names start with this (script index entries are bare hashes).
TOOL_ENTRY_PREFIX = "tool-"

#: Every environment variable that resolving a tool request can read: conda's configuration
#: variables, the ones that find condarc files, the platform, the home directory.
#: ``tests/test_tool_index.py`` keeps it a superset of what ``ce.config`` declares.
RESOLUTION_VARIABLES = (
    "CONDA_CHANNELS",
    "CONDA_CHANNEL_ALIAS",
    "CONDA_DEFAULT_CHANNELS",
    "CONDA_OVERRIDE_CHANNELS_ENABLED",
    "CONDA_PKGS_DIRS",
    "CONDA_REMOTE_CONNECT_TIMEOUT_SECS",
    "CONDA_REMOTE_READ_TIMEOUT_SECS",
    "CONDA_REMOTE_MAX_RETRIES",
    "CONDA_REMOTE_BACKOFF_FACTOR",
    "CONDA_SSL_VERIFY",
    "CONDARC",
    "CONDA_ROOT",
    "_CONDA_ROOT",
    "CONDA_EXE",
    "CONDA_PYTHON_EXE",
    "CONDA_PREFIX",
    "XDG_CONFIG_HOME",
    "HOME",
    "USERPROFILE",
    "HOMEDRIVE",
    "HOMEPATH",
    "CONDA_SUBDIR",
    "PROCESSOR_ARCHITECTURE",
    "PROCESSOR_ARCHITEW6432",
    "CE_CONDARC_SEARCH_PATH",
    "CONDA_RESTRICT_RC_SEARCH_PATH",
    "RATTLER_CACHE_DIR",
    "PATHEXT",
)


def _is_relative(value: str) -> bool:
    """Whether an option value may name a path relative to the working directory."""
    if "://" in value:
        return False
    return value.startswith((".", "~")) or (("/" in value or os.sep in value) and not os.path.isabs(value))


def _variables_text(names: "Iterable[str]", environ: "Mapping[str, str]") -> str:
    return "\0".join(f"{name}\1{environ[name]}" if name in environ else f"{name}\2" for name in names)


def _variables_hash(names: "Iterable[str]", environ: "Mapping[str, str]") -> str:
    return sha256_hex(_variables_text(names, environ).encode("utf-8", "surrogatepass"))


def tool_key(
    tool: str, options: "Sequence[str]", values: "Sequence[str]", environ: "Mapping[str, str]", prog: str = "ce"
) -> str:
    """The index key of running *tool* with ce's *options* (*values*: the option values among them).

    ``-q``/``--quiet`` changes nothing that is resolved, so ``ce -q TOOL`` and ``ce TOOL`` share an entry.
    *prog* is the front door (``ce`` or ``conda exec``: channels behind ``-c`` differ) and ``sys.prefix``
    counts too (a conda base's condarc, read without any variable naming the base).
    Raises :class:`OSError` when a relative value needs a working directory that is gone.
    """
    options = [option for option in options if option not in QUIET_FLAGS]
    machine = os.uname() if hasattr(os, "uname") else None
    fields = [
        TOOL_INDEX_RECIPE,
        KEY_RECIPE,
        __version__,
        sys.platform,
        machine.sysname if machine else "",
        machine.machine if machine else "",
        str(os.getuid()) if hasattr(os, "getuid") else "",  # ``~`` without $HOME is this user's home
        prog,
        sys.prefix,
        tool,
        str(len(options)),
        *options,
        _variables_text(RESOLUTION_VARIABLES, environ),
        os.getcwd() if any(_is_relative(value) for value in values) else "",
    ]
    return sha256_hex("\0\0".join(fields).encode("utf-8", "surrogatepass"))[:32]


def path_signature(path: str) -> str:
    """What a recorded path looks like now: ``-`` when absent, else its type and stat fields.

    A directory's signature includes its sorted listing (a ``condarc.d`` with a new file).
    """
    try:
        if not os.access(path, os.F_OK):  # most condarc paths do not exist: no exception to raise and catch
            return "-"
        info = os.stat(path)
    except (OSError, ValueError):
        return "-"
    fields = f"{info.st_mtime_ns}:{info.st_ctime_ns}:{info.st_ino}:{info.st_dev}"
    if stat.S_ISREG(info.st_mode):
        return f"f:{info.st_size}:{fields}"
    if stat.S_ISDIR(info.st_mode):
        try:
            names = sorted(os.listdir(path))
        except OSError:
            return f"d?:{fields}"
        listing = sha256_hex("\0".join(names).encode("utf-8", "surrogatepass"))[:32]
        return f"d:{fields}:{listing}"
    return f"o:{info.st_mode}:{fields}"


def lookup_tool(paths: CachePaths, index_key: str, environ: "Mapping[str, str]") -> tuple[str, str, str, str] | None:
    """``(env_name, command, executable, argv0)`` recorded under *index_key*, if still valid.

    A corrupt entry, a changed condarc path or variable, or a linked ``.index`` is a miss.
    """
    data = read_index_entry(paths, TOOL_ENTRY_PREFIX + index_key)
    if data is None:
        return None
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    if len(lines) < 9 or lines[0] != TOOL_INDEX_RECIPE or lines[-2:] != ["end", ""]:
        return None
    env_name, command, executable, argv0, variables, variables_hash = lines[1:7]
    if not is_env_name(env_name):
        return None
    if not command or not executable or not argv0:
        return None
    names = variables.split("\0") if variables else []
    if _variables_hash(names, environ) != variables_hash:
        return None
    for line in lines[7:-2]:
        path, separator, recorded = line.partition("\0")
        if not separator or path_signature(path) != recorded:
            return None
    return env_name, command, executable, argv0


def snapshot_paths(watched: "Iterable[str]") -> list[tuple[str, str]]:
    """``(path, signature)`` of each of *watched*, taken before the resolution they feed."""
    return [(path, path_signature(path)) for path in dict.fromkeys(watched)]


def record_tool(
    paths: CachePaths,
    index_key: str,
    target: tuple[str, str, str, str],
    before: "Sequence[tuple[str, str]]",
    variables: "Iterable[str]",
    environ: "Mapping[str, str]",
) -> bool:
    """Remember that *index_key* runs ``(env_name, command, executable, argv0)`` (best effort).

    *before* is the :func:`snapshot_paths` of the condarc paths taken before resolving; if any of
    them changed since, nothing is recorded.  *variables* are further variables whose values
    must stay the same.  Nothing is written when ``envs/.index`` (or ``envs/``) is a symbolic
    link, or when a field cannot be stored.
    """
    if any(path_signature(path) != recorded for path, recorded in before):
        return False
    names = sorted(set(variables) - set(RESOLUTION_VARIABLES))
    fields = [*target, *names, *(path for path, _ in before)]
    if any("\n" in field or "\0" in field for field in fields) or not all(target):
        return False
    variables_hash = _variables_hash(names, environ)
    lines = [TOOL_INDEX_RECIPE, *target, "\0".join(names), variables_hash]
    lines.extend(f"{path}\0{recorded}" for path, recorded in before)
    text = "\n".join([*lines, "end", ""])
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # not a name the file system gave (a lone surrogate): never recorded
        return False
    if len(data) > MAX_INDEX_ENTRY_BYTES:
        return False
    return write_index_entry(paths, TOOL_ENTRY_PREFIX + index_key, data)


# --- the warm path -----------------------------------------------------------------------------

TOUCH_INTERVAL_SECONDS = 3600.0
#: Flags the warm path handles; a script run may also be ``--locked`` (recorded under its own index key).
_FLAGS = ("--override-channels", *QUIET_FLAGS, "--offline")
_SCRIPT_FLAGS = (*_FLAGS, "--locked")
#: How long a new run waits for a pending ``--refresh`` of its environment to take over.
REFRESH_WAIT_SECONDS = 5.0


class _Fallback(Exception):
    """This command line is not for the warm path."""


def _value(options: list[str], index: int) -> str:
    if index + 1 >= len(options):
        raise _Fallback
    return options[index + 1]


def _parse(options: list[str], script: bool = False) -> tuple[list[str], list[str], str | None, bool]:
    channels: list[str] = []
    with_specs: list[str] = []
    from_spec: str | None = None
    override = False
    index = 0
    while index < len(options):
        option = options[index]
        name, has_inline, inline = option.partition("=") if option.startswith("--") else (option, "", "")
        if name in ("-c", "--channel", "--with", "--from", "--runner"):
            value = inline if has_inline else _value(options, index)
            index += 1 if has_inline else 2
        elif option.startswith("-c") and not option.startswith("--"):
            name, value = "-c", option[2:]
            index += 1
        elif option in (_SCRIPT_FLAGS if script else _FLAGS):
            override = override or option == "--override-channels"
            index += 1
            continue
        else:
            raise _Fallback
        if name in ("-c", "--channel"):
            channels.append(value)
        elif name == "--with":
            with_specs.append(value)
        elif name == "--from":
            if from_spec is not None:
                raise _Fallback
            from_spec = value
        else:  # --runner: only the built-in default is warm
            from ce.backends.builtin import DEFAULT_RUNNER

            if value != DEFAULT_RUNNER:
                raise _Fallback
    return channels, with_specs, from_spec, override


def warm_option_values(options: list[str]) -> list[str] | None:
    """The values of ce's *options* for a tool run the warm path handles, or ``None`` if it handles none.

    ``--activate`` must already be removed (the warm path handles it separately).
    """
    try:
        channels, with_specs, from_spec, _ = _parse(options)
    except _Fallback:
        return None
    return [*channels, *with_specs, *([from_spec] if from_spec is not None else [])]


def _auto_clean(paths: CachePaths, age_days: float, quiet: bool, executable: str) -> None:
    """The periodic cleanup, due on this run (rare: imports are fine here), if the tool will start."""
    from ce.envs.store import EnvCache, startable

    if not startable(executable):
        return
    result = EnvCache(paths).auto_clean(age_days)
    if result.removed and not quiet:
        print(f"ce: {result.describe_auto_clean()}", file=sys.stderr)


def _script_target(
    script: str, options: list[str], environ: "Mapping[str, str]", paths: CachePaths
) -> tuple[str, str, list[str]] | None:
    """(env name, interpreter path, interpreter argv) of a script recorded in the index."""
    from ce.platforms import current_subdir
    from ce.script import index as scriptindex

    channels, with_specs, from_spec, override = _parse(options, script=True)
    if from_spec is not None:
        raise _Fallback
    data = scriptindex.read_script_bytes(script)
    if data is None:
        raise _Fallback
    locked = "--locked" in options  # a run that used a fresh lock: the same lock, never a solve
    key = scriptindex.fingerprint(
        script, data, channels, with_specs, override, current_subdir(environ), environ, locked
    )
    found = scriptindex.lookup(paths, key)
    if found is None:
        return None
    env_name, interpreter = found
    command = interpreter[0]
    if os.path.isabs(command):
        return env_name, command, interpreter
    executable = find_command(paths.env(env_name), command, environ)
    return (env_name, executable, interpreter) if executable is not None else None


def _tool_target(
    tool: str, tool_args: list[str], options: list[str], environ: "Mapping[str, str]", paths: CachePaths, prog: str
) -> tuple[str, str, list[str]] | None:
    """(env name, executable, process argv) of a tool whose environment exists, or ``None``."""
    if is_script_name(tool) and os.path.isfile(tool):
        target = _script_target(tool, options, environ, paths)
        if target is None:
            return None
        env_name, executable, interpreter = target
        return env_name, executable, [*interpreter, script_argument(tool), *tool_args]
    if "/" in tool or "\\" in tool:  # a path that is no file: the full path says why
        return None
    values = warm_option_values(options)
    if values is None:
        return None
    found = lookup_tool(paths, tool_key(tool, options, values, environ, prog), environ)
    if found is None:  # never recorded, or something it depends on changed: the full path resolves (and records)
        return None
    env_name, command, executable, argv0 = found
    for candidate in dict.fromkeys((command, command.lower())):  # as typed, then lowercase
        path = find_command(paths.env(env_name), candidate, environ)
        if path is not None:  # the same command the full path found, or a miss
            return (env_name, path, [candidate, *tool_args]) if (path, candidate) == (executable, argv0) else None
    return None


def _hold_complete(paths: CachePaths, env_name: str, executable: str) -> tuple[bool, int | None]:
    """Whether *env_name* is complete and runnable, and its in-use lock (left open for the tool).

    The lock is ``None`` where there is none to take (a read-only cache, Windows).  Complete means
    ce's record is there, written last by the build; every directory on the way is one stat whose
    result also says who controls it (:func:`ce.base.is_trusted`): on any doubt this is a miss, and
    the full path says why.  ``conda-meta/history`` records the last use by its mtime; a link there
    is touched itself, never its target.
    """
    record = paths.record(env_name)
    try:
        directories = ((paths.root, True), (paths.envs, False), (paths.env(env_name), False), (paths.locks, False))
        for path, follow in directories:
            if not trusted_dir(path, follow):
                return False, None
        if not _is_record(record):
            return False, None
        wait_for_gate(paths.refresh_lock(env_name), REFRESH_WAIT_SECONDS)
        lock = hold_shared(paths.in_use_lock(env_name))
    except OSError:
        return False, None
    if lock is None and os.name == "nt":  # pragma: no cover - Windows keeps the full path, as before
        return False, None
    if not _is_record(record) or not os.access(executable, os.X_OK):  # a cleanup removed it meanwhile
        release(lock)
        return False, None
    history = paths.history(env_name)
    try:
        # Also when the last use is ahead of the clock (a clock set back): it would never age otherwise.
        if abs(time.time() - os.lstat(history).st_mtime) > TOUCH_INTERVAL_SECONDS:
            os.utime(history, follow_symlinks=False)
    except (OSError, NotImplementedError):
        pass
    return True, lock


def _is_record(path: str) -> bool:
    """Whether ce's record of an environment is at *path*: a regular file that only this user (or root) controls."""
    try:
        info = os.lstat(path)
    except (OSError, ValueError):
        return False
    return stat.S_ISREG(info.st_mode) and is_trusted(info)


def run_warm(argv: list[str], environ: "Mapping[str, str]", prog: str = "ce") -> None:
    """Exec the tool (or script) if *argv* is a warm hit; return (having done nothing) otherwise.

    *prog* is the front door (``ce``, ``conda exec``), part of the tool index key.

    Raises :class:`CeError` only when the tool was found but could not start.
    """
    options, tool, tool_args = split_argv(argv)
    if tool is None:
        return
    activate = "--activate" in options  # the activate runner, from its cached activation
    if activate:
        if any(option.startswith("--runner") for option in options):
            return
        options = [option for option in options if option != "--activate"]
    paths = CachePaths.from_environ(environ)
    try:
        settings = CleanSettings(environ)
        target = None if settings.warnings else _tool_target(tool, tool_args, options, environ, paths, prog)
    except (_Fallback, OSError):
        return
    except Exception as error:  # a script's configuration error: the full command line reports it
        if is_ce_error(error):
            return
        raise
    if target is None:
        return
    env_name, executable, process_argv = target
    complete, _lock = _hold_complete(paths, env_name, executable)
    if not complete:
        return
    if settings.enabled and bump_run_count(paths, settings.interval):
        _auto_clean(paths, settings.age_days, any(option in QUIET_FLAGS for option in options), executable)
    prefix = paths.env(env_name)
    if activate:
        from ce.backends.activate_runner import activated_environ

        tool_environ = activated_environ(prefix, environ)
    else:
        tool_environ = path_environ(prefix, environ)
    condarc = sys.modules.get("ce.config.condarc")  # loaded by a script run, never by a tool hit
    if condarc is not None:
        condarc.save_pending()  # settings merged on this run (a changed condarc) are cached once it succeeds
    launch(LaunchPlan(executable, process_argv, tool_environ))


def _reopen_closed_standard_streams() -> None:
    """Give a closed stdin, stdout or stderr (``>&-``) ``/dev/null`` instead.

    Otherwise the next file ce opens (a lock file) would become fd 1 or 2 and
    the tool's output would land in it; and ``sys.stdout`` would be ``None``.
    """
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != fd:  # pragma: no cover - fds are allocated lowest first
                os.dup2(opened, fd)
                os.close(opened)
            if getattr(sys, name) is None:
                setattr(sys, name, open(fd, mode, closefd=False))  # noqa: SIM115 - lives as long as the process


def start(argv: list[str]) -> Exception | None:
    """The ``ce`` command's first step: exec the tool if *argv* is a cache hit (never returning then).

    Returns ``None`` when *argv* is not a cache hit, or the :class:`CeError` of a tool that was
    found but could not start; either way the caller (``launcher/ce``, ``ce.__main__``) goes on
    to the full command line, which reports that error.
    """
    _reopen_closed_standard_streams()
    write_missing_bytecode()
    try:
        # A plain dict: every os.environ lookup encodes and decodes, and a hit reads ~40 variables
        # and copies them all for the tool.
        run_warm(argv, dict(os.environ))
    except Exception as error:  # a tool found but unable to start
        if not is_ce_error(error):
            raise
        return error
    return None
