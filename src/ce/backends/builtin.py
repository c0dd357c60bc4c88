"""The built-in backends: the one table of their names, where they live and their lock sidecar names.

The registry (:mod:`ce.plugins.manager`) lists these beside the plugins'
backends; the warm and cold paths create a built-in backend straight from
this table, without importing pluggy or scanning entry points, since a
plugin can never shadow a built-in name.  No other module keeps its own list
of solvers, runners, lock formats or sidecar names.

On the warm path (the script index reads the sidecar names): no imports.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Final, Literal, Protocol

    BackendKind = Literal["solver", "runner", "lockfile-format"]

    class Registry(Protocol):
        """What :func:`create_backend` needs of :class:`ce.plugins.manager.BackendRegistry`."""

        def create(self, kind: BackendKind, name: str) -> object:
            """Instantiate the backend of *kind* called *name*."""


SOLVER: Final = "solver"
RUNNER: Final = "runner"
LOCKFILE_FORMAT: Final = "lockfile-format"
KINDS: tuple[BackendKind, ...] = (SOLVER, RUNNER, LOCKFILE_FORMAT)

#: The default solver of ``ce``.
DEFAULT_SOLVER = "rattler"
#: The default solver of ``conda exec`` (when conda's solver API can be imported).
CONDA_SOLVER = "conda"
DEFAULT_RUNNER = "path"
#: The runner ``--activate`` selects.
ACTIVATE_RUNNER = "activate"
DEFAULT_LOCKFILE_FORMAT = "rattler-lock-v6"


class BuiltinBackend:
    """One built-in backend: its kind, name, ``module:factory`` and, for lock formats, sidecar name patterns.

    Sidecar patterns (see :func:`sidecar_names`) are passed to a lock
    format's factory; the first one is the name written.
    """

    __slots__ = ("factory", "kind", "name", "requires", "sidecars", "summary")

    def __init__(
        self,
        kind: BackendKind,
        name: str,
        factory: str,
        summary: str,
        sidecars: tuple[str, ...] = (),
        requires: str = "",
    ) -> None:
        self.kind = kind
        self.name = name
        self.factory = factory
        self.summary = summary
        self.sidecars = sidecars
        self.requires = requires

    def unavailable_reason(self) -> str | None:
        """Why the backend cannot work here (a module it needs is not importable), or ``None``.

        Checked with :func:`importlib.util.find_spec`: the module is not imported.
        """
        if not self.requires:
            return None
        import importlib.util

        try:
            found = importlib.util.find_spec(self.requires) is not None
        except (ImportError, ValueError):
            found = False
        return None if found else f"{self.requires} is not importable"

    def create(self) -> object:
        """A new instance of the backend (its module is imported now)."""
        import importlib

        module_name, _, attribute = self.factory.partition(":")
        factory = getattr(importlib.import_module(module_name), attribute)
        return factory(self.sidecars) if self.kind == LOCKFILE_FORMAT else factory()

    def __repr__(self) -> str:
        return f"BuiltinBackend({self.kind!r}, {self.name!r})"


BUILTIN_BACKENDS = (
    BuiltinBackend(
        SOLVER, DEFAULT_SOLVER, "ce.backends.rattler_solver:RattlerSolver", "py-rattler: solve, download, link"
    ),
    BuiltinBackend(
        SOLVER,
        CONDA_SOLVER,
        "ce.backends.conda_solver:create_conda_solver",
        "conda's configured solver (libmamba, rattler or classic), channels, caches and transaction",
        requires="conda",
    ),
    BuiltinBackend(
        RUNNER, DEFAULT_RUNNER, "ce.backends.path_runner:PathRunner", "prepend the environment's bin dirs to PATH"
    ),
    BuiltinBackend(
        RUNNER,
        ACTIVATE_RUNNER,
        "ce.backends.activate_runner:ActivateRunner",
        "full conda activation: CONDA_* variables, env_vars, activate.d scripts",
    ),
    BuiltinBackend(
        LOCKFILE_FORMAT,
        DEFAULT_LOCKFILE_FORMAT,
        "ce.lockfiles.rattler_v6:RattlerLockV6",
        "pixi's lock v6 (conda-lockfiles reads it)",
        sidecars=("{name}.conda-exec.lock", "{stem}.conda-exec.lock"),
    ),
    BuiltinBackend(
        LOCKFILE_FORMAT,
        "conda-lock",
        "ce.lockfiles.conda_lock:CondaLock",
        "conda-lock v1 YAML",
        sidecars=("{name}.conda-lock.yml",),
    ),
    BuiltinBackend(
        LOCKFILE_FORMAT,
        "explicit",
        "ce.lockfiles.explicit:Explicit",
        "@EXPLICIT URL lists, one per platform",
        sidecars=("{name}.{platform}.explicit.txt",),
    ),
)


def builtin(kind: BackendKind, name: str) -> BuiltinBackend | None:
    """The built-in backend of *kind* called *name*, if there is one."""
    for backend in BUILTIN_BACKENDS:
        if backend.kind == kind and backend.name == name:
            return backend
    return None


def builtin_names(kind: BackendKind) -> list[str]:
    """The names of the built-in backends of *kind*, the default first."""
    return [backend.name for backend in BUILTIN_BACKENDS if backend.kind == kind]


def create_backend(kind: BackendKind, name: str, registry: Callable[[], Registry]) -> object:
    """The backend of *kind* called *name*: a built-in from this table, else from *registry* (plugins)."""
    found = builtin(kind, name)
    if found is not None:
        return found.create()
    return registry().create(kind, name)


def sidecar_names(patterns: tuple[str, ...], script_name: str, platform: str) -> list[str]:
    """Lock sidecar file names for the script called *script_name*, from a format's *patterns*.

    A pattern is formatted with ``name`` (the script's file name), ``stem``
    (without its last suffix) and ``platform``; a ``{stem}`` pattern is
    skipped for a script without a suffix.
    """
    stem = script_name.rsplit(".", 1)[0] if "." in script_name else script_name
    names: list[str] = []
    for pattern in patterns:
        if "{stem}" in pattern and stem == script_name:
            continue
        name = pattern.format(name=script_name, stem=stem, platform=platform)
        if name not in names:
            names.append(name)
    return names
