"""The three plural hooks through which backends are registered."""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from ce.plugins.types import CeLockfileFormat, CeRunner, CeSolver

PROJECT_NAME = "ce"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: Decorate a plugin's hook functions with this.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class CeSpecs:
    """Hook specifications: each hook yields any number of backend records."""

    @hookspec
    def ce_solvers(self) -> Iterable[CeSolver]:  # type: ignore[empty-body]
        """Yield :class:`CeSolver` records: backends that solve and install environments."""

    @hookspec
    def ce_lockfile_formats(self) -> Iterable[CeLockfileFormat]:  # type: ignore[empty-body]
        """Yield :class:`CeLockfileFormat` records: formats that write and read script locks."""

    @hookspec
    def ce_runners(self) -> Iterable[CeRunner]:  # type: ignore[empty-body]
        """Yield :class:`CeRunner` records: backends that turn (prefix, argv, environ) into a process."""
