"""Hook registering the built-in lock-file formats."""

from __future__ import annotations

from collections.abc import Iterator

from ce.plugins import CeLockfileFormat, hookimpl

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ce.plugins.types import LockfileFormatBackend


def _rattler_v6() -> LockfileFormatBackend:
    from ce.lockfiles.rattler_v6 import RattlerLockV6

    return RattlerLockV6()


def _conda_lock() -> LockfileFormatBackend:
    from ce.lockfiles.conda_lock import CondaLock

    return CondaLock()


def _explicit() -> LockfileFormatBackend:
    from ce.lockfiles.explicit import Explicit

    return Explicit()


@hookimpl
def ce_lockfile_formats() -> Iterator[CeLockfileFormat]:
    """rattler-lock-v6 (default), conda-lock and explicit."""
    yield CeLockfileFormat(
        name="rattler-lock-v6", backend=_rattler_v6, summary="pixi's lock v6 (conda-lockfiles reads it)"
    )
    yield CeLockfileFormat(name="conda-lock", backend=_conda_lock, summary="conda-lock v1 YAML")
    yield CeLockfileFormat(name="explicit", backend=_explicit, summary="@EXPLICIT URL lists, one per platform")
