"""Finding a command in an environment and starting it: the last step of every run.

On POSIX the tool replaces the ce process (``exec``), so signals, the
terminal and the exit status are the tool's own.  On Windows the tool runs as
a child and its exit code is returned.  The warm path uses this module
directly, so it imports nothing beyond ``os`` and ``sys``; the errors load only when raised.
"""

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ce.errors import ToolNotFoundError

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


def _windows_suffixes(environ: "Mapping[str, str]") -> list[str]:
    pathext = environ.get("PATHEXT", ".COM;.EXE;.BAT;.CMD")
    return [""] + [ext.lower() for ext in pathext.split(";") if ext]


def find_command(prefix: str, command: str, environ: "Mapping[str, str] | None" = None) -> str | None:
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


def command_not_found(prefix: str, command: str) -> "ToolNotFoundError":
    """The 127 error, listing what the environment does provide."""
    from ce.errors import ToolNotFoundError

    available = list_commands(prefix)
    shown = ", ".join(available[:40]) + (f" (and {len(available) - 40} more)" if len(available) > 40 else "")
    hint = f"it provides: {shown}" if available else "it provides no commands"
    return ToolNotFoundError(
        f"command {command!r} not found in the environment ({hint}); use --from PACKAGE if another package provides it"
    )


def path_environ(prefix: str, environ: "Mapping[str, str]") -> dict[str, str]:
    """*environ* with *prefix*'s executable directories in front of PATH."""
    env = dict(environ)
    dirs = executable_dirs(prefix)
    current = env.get("PATH", "")
    env["PATH"] = os.pathsep.join(dirs + ([current] if current else []))
    return env


def resolve_command(prefix: str, command: str, environ: "Mapping[str, str]") -> str:
    """Path of *command*, or the 127/126 error that explains why it cannot run."""
    executable = find_command(prefix, command, environ)
    if executable is None:
        raise command_not_found(prefix, command)
    if not WINDOWS and not os.access(executable, os.X_OK):
        from ce.errors import ToolNotExecutableError

        raise ToolNotExecutableError(f"{executable} is in the environment but is not executable")
    return executable


class LaunchPlan:
    """The exact process to start: executable path, full argv, environment, cwd."""

    __slots__ = ("argv", "cwd", "env", "executable")

    def __init__(
        self, executable: str, argv: "Sequence[str]", env: "Mapping[str, str]", cwd: str | None = None
    ) -> None:
        self.executable = executable
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd

    def __repr__(self) -> str:
        return f"LaunchPlan({self.executable!r}, argv={self.argv!r})"


def exit_status(returncode: int) -> int:
    """A child's return code as a shell reports it: 128+N when killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def launch(plan: "LaunchPlan") -> int:
    """Start *plan*: never returns on POSIX; returns the exit status on Windows."""
    if plan.cwd is not None:
        os.chdir(plan.cwd)
    if sys.platform == "win32":  # pragma: no cover - Windows
        import subprocess

        from ce.errors import ToolNotExecutableError

        try:
            return exit_status(subprocess.call([plan.executable, *plan.argv[1:]], env=plan.env))
        except OSError as error:
            raise ToolNotExecutableError(f"cannot run {plan.executable}: {error.strerror}") from error
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(plan.executable, plan.argv, plan.env)
    except OSError as error:
        import errno

        from ce.errors import ToolNotExecutableError, ToolNotFoundError

        if error.errno == errno.ENOENT and not os.path.exists(plan.executable):
            raise ToolNotFoundError(f"{plan.executable}: no such file") from error
        reason = error.strerror or str(error)
        if error.errno == errno.ENOENT:
            reason = "its interpreter (#! line) does not exist"
        raise ToolNotExecutableError(f"cannot execute {plan.executable}: {reason}") from error
    raise AssertionError("unreachable")  # pragma: no cover
