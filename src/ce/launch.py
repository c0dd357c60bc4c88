"""Starting the tool: the last step of every run.

On POSIX the tool replaces the ce process (``exec``), so signals, the
terminal and the exit status are the tool's own.  On Windows the tool runs as
a child and its exit code is returned.
"""

from __future__ import annotations

import errno
import os
import sys

from ce.condarc import save_pending
from ce.errors import ToolNotExecutableError, ToolNotFoundError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


class LaunchPlan:
    """The exact process to start: executable path, full argv, environment, cwd."""

    __slots__ = ("argv", "cwd", "env", "executable")

    def __init__(self, executable: str, argv: Sequence[str], env: Mapping[str, str], cwd: str | None = None) -> None:
        self.executable = executable
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd

    def __repr__(self) -> str:
        return f"LaunchPlan({self.executable!r}, argv={self.argv!r})"


def exit_status(returncode: int) -> int:
    """A child's return code as a shell reports it: 128+N when killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def launch(plan: LaunchPlan) -> int:
    """Start *plan*: never returns on POSIX; returns the exit status on Windows."""
    save_pending()  # the run succeeded: now cache the condarc settings it merged
    if plan.cwd is not None:
        os.chdir(plan.cwd)
    if sys.platform == "win32":  # pragma: no cover - Windows
        import subprocess

        try:
            return exit_status(subprocess.call([plan.executable, *plan.argv[1:]], env=plan.env))
        except OSError as error:
            raise ToolNotExecutableError(f"cannot run {plan.executable}: {error.strerror}") from error
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(plan.executable, plan.argv, plan.env)
    except OSError as error:
        if error.errno == errno.ENOENT and not os.path.exists(plan.executable):
            raise ToolNotFoundError(f"{plan.executable}: no such file") from error
        reason = error.strerror or str(error)
        if error.errno == errno.ENOENT:
            reason = "its interpreter (#! line) does not exist"
        raise ToolNotExecutableError(f"cannot execute {plan.executable}: {reason}") from error
    raise AssertionError("unreachable")  # pragma: no cover
