"""Backend records yielded by the hooks, and the protocols backends implement."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ce.errors import InvalidNameError

if TYPE_CHECKING:
    from ce.base import LaunchPlan
    from ce.lockfiles import LockData
    from ce.records import LockedPackage, SolveRequest

BACKEND_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[._-][a-z0-9]+)*$")
MAX_BACKEND_NAME = 64


def validate_backend_name(name: object) -> str:
    """Return *name* if it is a valid backend name (``rattler``, ``rattler-lock-v6``)."""
    if not isinstance(name, str) or len(name) > MAX_BACKEND_NAME or not BACKEND_NAME.match(name):
        raise InvalidNameError(
            f"invalid backend name {name!r}: use lowercase letters, digits and single '-', '_' or '.'"
        )
    return name


class SolverBackend(Protocol):
    """Solves a request into locked packages and installs them into a prefix."""

    def solve(self, request: SolveRequest) -> list[LockedPackage]:
        """The packages of an environment satisfying *request*."""

    def install(self, packages: Sequence[LockedPackage], prefix: str, final_prefix: str, request: SolveRequest) -> None:
        """Create an environment in *prefix* that will be used at *final_prefix*."""


class RunnerBackend(Protocol):
    """Turns (prefix, argv, environ) into the exact process to start."""

    def prepare(self, prefix: str, argv: Sequence[str], environ: Mapping[str, str]) -> LaunchPlan:
        """The process that runs ``argv`` (``argv[0]`` is the command) from *prefix*."""


class LockfileFormatBackend(Protocol):
    """Writes locked packages for one or more platforms and reads them back.

    The frontend adds (and checks) the input-digest first line; a format must
    accept a leading ``#`` comment line in what it reads.  A format that can
    hold PyPI distributions (``LockData.pypi``) sets a class attribute
    ``carries_pypi = True``; without it, ``--lock`` refuses scripts with PyPI
    dependencies rather than write a lock that omits them.
    """

    #: Whether one file holds every platform (else ce writes one file per platform).
    multi_platform: bool

    def sidecar_names(self, script_name: str, platform: str) -> list[str]:
        """Sidecar file names for script *script_name* (and *platform*), preferred first.

        Names must start with the script's file name or its stem, then a dot: ce loads
        plugins to look for locks only when such a file is beside the script.
        """

    def detect(self, text: str) -> bool:
        """Whether *text* is in this format (used for embedded locks)."""

    def dumps(self, lock: LockData) -> str:
        """Lock text for *lock*."""

    def loads(self, text: str) -> LockData:
        """Lock data from lock text; raise a ``CeError`` with one clear line when malformed."""


@dataclass(frozen=True)
class _Record:
    name: str
    backend: Callable[[], Any] = field(repr=False)
    summary: str = ""

    def __post_init__(self) -> None:
        validate_backend_name(self.name)
        if not callable(self.backend):
            raise TypeError(f"backend of {self.name!r} must be a callable returning the backend")


@dataclass(frozen=True)
class CeSolver(_Record):
    """A solver backend: ``backend()`` returns a :class:`SolverBackend`."""

    backend: Callable[[], SolverBackend] = field(repr=False)


@dataclass(frozen=True)
class CeRunner(_Record):
    """A runner backend: ``backend()`` returns a :class:`RunnerBackend`."""

    backend: Callable[[], RunnerBackend] = field(repr=False)


@dataclass(frozen=True)
class CeLockfileFormat(_Record):
    """A lock-file format backend: ``backend()`` returns a :class:`LockfileFormatBackend`."""

    backend: Callable[[], LockfileFormatBackend] = field(repr=False)
