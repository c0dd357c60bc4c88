"""The plugin API: hook specifications, backend records and the registry.

A plugin is a module with functions decorated by :data:`hookimpl`, registered
through the ``ce`` entry-point group::

    [project.entry-points.ce]
    mything = "mypkg.ce_plugin"

Each hook yields records (:class:`CeSolver`, :class:`CeRunner`,
:class:`CeLockfileFormat`) whose ``backend`` is a zero-argument factory, so
the plugin module itself stays cheap to import.
"""

from __future__ import annotations

from ce.plugins.hookspec import hookimpl
from ce.plugins.types import CeLockfileFormat, CeRunner, CeSolver

__all__ = ["CeLockfileFormat", "CeRunner", "CeSolver", "hookimpl"]
