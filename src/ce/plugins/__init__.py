"""The plugin API: hook specifications, backend records and the registry.

A plugin is a module with functions decorated by :data:`hookimpl`, registered
through the ``ce`` entry-point group::

    [project.entry-points.ce]
    mything = "mypkg.ce_plugin"

Each hook yields records (:class:`CeSolver`, :class:`CeRunner`,
:class:`CeLockfileFormat`) whose ``backend`` is a zero-argument factory, so
the plugin module itself stays cheap to import.  The protocols a backend
implements and the data it exchanges with ce are exported here too.
"""

from __future__ import annotations

from ce.base import LaunchPlan, executable_dirs, resolve_command
from ce.lockfiles import LockData
from ce.plugins.hookspec import hookimpl
from ce.plugins.types import (
    CeLockfileFormat,
    CeRunner,
    CeSolver,
    LockfileFormatBackend,
    RunnerBackend,
    SolverBackend,
)
from ce.records import LockedPackage, SolveRequest

__all__ = [
    "CeLockfileFormat",
    "CeRunner",
    "CeSolver",
    "LaunchPlan",
    "LockData",
    "LockedPackage",
    "LockfileFormatBackend",
    "RunnerBackend",
    "SolveRequest",
    "SolverBackend",
    "executable_dirs",
    "hookimpl",
    "resolve_command",
]
