"""Hook registering the built-in runners."""

from __future__ import annotations

from collections.abc import Iterator

from ce.plugins import CeRunner, hookimpl


def _path_runner() -> object:
    from ce.backends.path_runner import PathRunner

    return PathRunner()


def _activate_runner() -> object:
    from ce.backends.activate_runner import ActivateRunner

    return ActivateRunner()


@hookimpl
def ce_runners() -> Iterator[CeRunner]:
    """The ``path`` runner (default): PATH-prepend, then exec; ``activate``: full conda activation."""
    yield CeRunner(name="path", backend=_path_runner, summary="prepend the environment's bin dirs to PATH")  # type: ignore[arg-type]
    yield CeRunner(
        name="activate",
        backend=_activate_runner,  # type: ignore[arg-type]
        summary="full conda activation: CONDA_* variables, env_vars, activate.d scripts",
    )
