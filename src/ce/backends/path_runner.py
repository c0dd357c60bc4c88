"""The ``path`` runner: prepend the environment's executable directories to PATH.

This module is on the warm path: it imports nothing beyond ``os`` and ``sys``.
"""

from __future__ import annotations

import os
import sys

from ce.errors import ToolNotExecutableError, ToolNotFoundError
from ce.launch import LaunchPlan

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

WINDOWS = sys.platform == "win32"


def executable_dirs(prefix: str, windows: bool = WINDOWS) -> list[str]:
    """The directories of *prefix* that hold commands, in lookup order."""
    if windows:
        parts = (
            ("Library", "mingw-w64", "bin"),
            ("Library", "usr", "bin"),
            ("Library", "bin"),
            ("Scripts",),
            ("bin",),
            (),
        )
        return [os.path.join(prefix, *part) for part in parts]
    return [os.path.join(prefix, "bin")]


def _windows_suffixes(environ: Mapping[str, str]) -> list[str]:
    pathext = environ.get("PATHEXT", ".COM;.EXE;.BAT;.CMD")
    return [""] + [ext.lower() for ext in pathext.split(";") if ext]


def find_command(prefix: str, command: str, environ: Mapping[str, str] | None = None) -> str | None:
    """Path of *command* in *prefix*'s executable directories, or ``None``."""
    env = os.environ if environ is None else environ
    suffixes = _windows_suffixes(env) if WINDOWS else [""]
    for directory in executable_dirs(prefix):
        for suffix in suffixes:
            candidate = os.path.join(directory, command + suffix)
            if os.path.isfile(candidate):
                return candidate
    return None


def list_commands(prefix: str) -> list[str]:
    """Every executable file name in *prefix*'s executable directories, sorted."""
    names: set[str] = set()
    for directory in executable_dirs(prefix):
        try:
            entries = os.scandir(directory)
        except OSError:
            continue
        with entries:
            for entry in entries:
                if entry.is_file() and (WINDOWS or os.access(entry.path, os.X_OK)):
                    names.add(entry.name)
    return sorted(names)


def command_not_found(prefix: str, command: str) -> ToolNotFoundError:
    """The 127 error, listing what the environment does provide."""
    available = list_commands(prefix)
    shown = ", ".join(available[:40]) + (f" (and {len(available) - 40} more)" if len(available) > 40 else "")
    hint = f"it provides: {shown}" if available else "it provides no commands"
    return ToolNotFoundError(
        f"command {command!r} not found in the environment ({hint}); use --from PACKAGE if another package provides it"
    )


def path_environ(prefix: str, environ: Mapping[str, str]) -> dict[str, str]:
    """*environ* with *prefix*'s executable directories in front of PATH."""
    env = dict(environ)
    dirs = executable_dirs(prefix)
    current = env.get("PATH", "")
    env["PATH"] = os.pathsep.join(dirs + ([current] if current else []))
    return env


def resolve_command(prefix: str, command: str, environ: Mapping[str, str]) -> str:
    """Path of *command*, or the 127/126 error that explains why it cannot run."""
    executable = find_command(prefix, command, environ)
    if executable is None:
        raise command_not_found(prefix, command)
    if not WINDOWS and not os.access(executable, os.X_OK):
        raise ToolNotExecutableError(f"{executable} is in the environment but is not executable")
    return executable


class PathRunner:
    """Start the command with the environment's executable directories on PATH."""

    name = "path"

    def prepare(self, prefix: str, argv: Sequence[str], environ: Mapping[str, str]) -> LaunchPlan:
        """The process for ``argv`` (``argv[0]`` is the command) run from *prefix*."""
        executable = resolve_command(prefix, argv[0], environ)
        return LaunchPlan(executable, argv, path_environ(prefix, environ))
