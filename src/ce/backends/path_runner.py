"""The ``path`` runner: prepend the environment's executable directories to PATH.

The command lookup itself lives in :mod:`ce.base` (the warm path uses it
without this module); the names are re-exported here for plugins.
"""

from __future__ import annotations

from ce.base import (
    LaunchPlan,
    command_not_found,
    executable_dirs,
    find_command,
    list_commands,
    path_environ,
    resolve_command,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "PathRunner",
    "command_not_found",
    "executable_dirs",
    "find_command",
    "list_commands",
    "path_environ",
    "resolve_command",
]


class PathRunner:
    """Start the command with the environment's executable directories on PATH."""

    def prepare(self, prefix: str, argv: Sequence[str], environ: Mapping[str, str]) -> LaunchPlan:
        """The process for ``argv`` (``argv[0]`` is the command) run from *prefix*."""
        executable = resolve_command(prefix, argv[0], environ)
        return LaunchPlan(executable, argv, path_environ(prefix, environ))
