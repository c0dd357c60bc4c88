"""Hook registering the ``conda`` solver; conda is imported only when the solver is created."""

from __future__ import annotations

from collections.abc import Iterator

from ce.plugins import CeSolver, hookimpl


def _conda_solver() -> object:
    from ce.backends.conda_solver import create_conda_solver

    return create_conda_solver()


@hookimpl
def ce_solvers() -> Iterator[CeSolver]:
    """The ``conda`` solver (default for ``conda exec``): conda's configured solver and transaction."""
    yield CeSolver(
        name="conda",
        backend=_conda_solver,  # type: ignore[arg-type]
        summary="conda's configured solver (libmamba, rattler or classic), channels, caches and transaction",
    )
