"""Hook registering the built-in runners."""

from __future__ import annotations

from collections.abc import Iterator

from ce.plugins import CeRunner, hookimpl


def _path_runner() -> object:
    from ce.backends.path_runner import PathRunner

    return PathRunner()


@hookimpl
def ce_runners() -> Iterator[CeRunner]:
    """The ``path`` runner (default): PATH-prepend, then exec."""
    yield CeRunner(name="path", backend=_path_runner, summary="prepend the environment's bin dirs to PATH")  # type: ignore[arg-type]
