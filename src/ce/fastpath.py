"""The warm path: a cache hit decided by stat calls, then ``exec``.

:func:`run_warm` handles the common command lines (TOOL with ``-c``,
``--with``, ``--from``, ``--override-channels``, ``-q``, ``--offline``) when
the environment exists, and returns without doing anything otherwise; the
full command line (``ce.cli``) then takes over.  It imports no argparse,
rattler, asyncio, pluggy, json or re: see ``tests/test_startup.py``.
"""

from __future__ import annotations

import os
import time

from ce.argv import split_argv
from ce.autoclean import CleanSettings, bump_run_count
from ce.backends.path_runner import find_command, path_environ
from ce.errors import CeError
from ce.keys import resolve_tool_request
from ce.launch import LaunchPlan, launch
from ce.locks import hold_shared, release
from ce.paths import CachePaths
from ce.platforms import current_subdir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

TOUCH_INTERVAL_SECONDS = 3600.0


class _Fallback(Exception):
    """This command line is not for the warm path."""


def _value(options: list[str], index: int) -> str:
    if index + 1 >= len(options):
        raise _Fallback
    return options[index + 1]


def _parse(options: list[str]) -> tuple[list[str], list[str], str | None, bool]:
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
        elif option in ("--override-channels", "-q", "--quiet", "--offline") and not has_inline:
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
        elif value != "path":  # --runner: only the built-in default is warm
            raise _Fallback
    return channels, with_specs, from_spec, override


def _auto_clean(paths: CachePaths, age_days: float, quiet: bool) -> None:
    """The periodic cleanup, due on this run (rare: imports are fine here)."""
    import sys

    from ce.cache import EnvCache
    from ce.cli import describe_auto_clean

    result = EnvCache(paths).auto_clean(age_days)
    if result.removed and not quiet:
        print(f"ce: {describe_auto_clean(result)}", file=sys.stderr)


def run_warm(argv: list[str], environ: Mapping[str, str]) -> None:
    """Exec the tool if *argv* is a warm hit; return (having done nothing) otherwise.

    Raises :class:`CeError` only when the tool was found but could not start.
    """
    options, tool, tool_args = split_argv(argv)
    if tool is None or "/" in tool or os.sep in tool or os.path.isfile(tool):
        return
    try:
        channels, with_specs, from_spec, override = _parse(options)
        request = resolve_tool_request(
            tool, from_spec, with_specs, channels, override, current_subdir(environ), environ
        )
        settings = CleanSettings(environ)
    except (_Fallback, CeError):
        return
    if settings.warnings:
        return
    paths = CachePaths.from_environ(environ)
    history = paths.history(request.env_name)
    try:
        if not os.path.isfile(history):
            return
        lock = hold_shared(paths.in_use_lock(request.env_name))
    except OSError:
        return
    prefix = paths.env(request.env_name)
    executable = find_command(prefix, request.command, environ)
    if executable is None or not os.path.isfile(history) or not os.access(executable, os.X_OK):
        release(lock)
        return
    try:
        if time.time() - os.stat(history).st_mtime > TOUCH_INTERVAL_SECONDS:
            os.utime(history)
    except OSError:
        pass
    if settings.enabled and bump_run_count(paths, settings.interval):
        _auto_clean(paths, settings.age_days, quiet="-q" in options or "--quiet" in options)
    launch(LaunchPlan(executable, [request.command, *tool_args], path_environ(prefix, environ)))
