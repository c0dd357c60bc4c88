"""Hook registering the ``rattler`` solver; py-rattler is imported only when it is used."""

from __future__ import annotations

from collections.abc import Iterator

from ce.plugins import CeSolver, hookimpl


def _rattler_solver() -> object:
    from ce.backends.rattler_solver import RattlerSolver

    return RattlerSolver()


@hookimpl
def ce_solvers() -> Iterator[CeSolver]:
    """The ``rattler`` solver (default for ``ce``): py-rattler solves and installs."""
    yield CeSolver(name="rattler", backend=_rattler_solver, summary="py-rattler: solve, download, link")  # type: ignore[arg-type]
