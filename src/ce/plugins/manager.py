"""The backend registry: built-in backends plus third-party plugins.

Third-party plugins come from the ``ce`` entry-point group, and the registry
is loaded only when a run needs them (see :mod:`ce.backends.builtin` and
:func:`ce.script.lockfile_io.discover`).  A plugin that fails to import
(``sys.exit()`` included), whose hook or factory raises, or that yields
something that is not a valid record is reported in one line naming its
distribution and entry point, and skipped.  Plugin code runs with its
standard output sent to standard error (:func:`plugin_output_to_stderr`): the
tool's stdout carries nothing of a plugin's.  ``KeyboardInterrupt`` still
interrupts.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

from ce import __version__
from ce.backends.builtin import BUILTIN_BACKENDS, LOCKFILE_FORMAT, RUNNER, SOLVER
from ce.errors import BackendNotFoundError, CeError
from ce.plugins.hookspec import PROJECT_NAME, CeSpecs
from ce.plugins.types import CeLockfileFormat, CeRunner, CeSolver

if TYPE_CHECKING:
    from ce.backends.builtin import BackendKind

ENTRY_POINT_GROUP = "ce"

#: hook name and record type of each kind of backend
KINDS: dict[BackendKind, tuple[str, type[Any]]] = {
    SOLVER: ("ce_solvers", CeSolver),
    RUNNER: ("ce_runners", CeRunner),
    LOCKFILE_FORMAT: ("ce_lockfile_formats", CeLockfileFormat),
}
BUILTIN_PROVIDER = f"ce {__version__} (built-in)"


@dataclass(frozen=True)
class RegisteredBackend:
    """A backend record together with what provides it."""

    kind: BackendKind
    record: CeSolver | CeRunner | CeLockfileFormat
    provider: str

    @property
    def name(self) -> str:
        """The backend's name, as given to ``--solver``/``--runner``/``--lock-format``."""
        return self.record.name


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that was skipped, and why: *plugin* is its entry point's name, *provider* its distribution."""

    plugin: str
    provider: str
    reason: str

    def __str__(self) -> str:
        return f"plugin {self.plugin!r} from {self.provider!r} skipped: {self.reason}"


def _distribution_label(entry_point: importlib.metadata.EntryPoint) -> str:
    dist = entry_point.dist
    return f"{dist.name} {dist.version}" if dist is not None else "an unknown distribution"


def _error_text(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"it called sys.exit({error.code!r})"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _plugin_failure(error: BaseException) -> bool:
    """Whether *error*, raised by plugin code, is the plugin's failure rather than the user's interrupt.

    ``SystemExit`` from a plugin is its failure (ce decides when ce exits), as is a
    ``BaseException`` such as py-rattler's ``PanicException``; ``KeyboardInterrupt``
    is the user's and still interrupts.
    """
    return not isinstance(error, KeyboardInterrupt)


@contextlib.contextmanager
def plugin_output_to_stderr() -> Iterator[None]:
    """Run plugin code with its standard output on standard error.

    The tool's stdout belongs to the tool: a plugin that prints while it is
    imported or called (``print``, or C code writing to descriptor 1) must not
    put anything into it.  Both ``sys.stdout`` and descriptor 1 are pointed
    at stderr, and restored afterwards.
    """
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no stdout at all: nothing to protect at the descriptor level
        saved = -1
    try:
        if saved >= 0:
            try:
                os.dup2(2, 1)
            except OSError:  # no stderr either: keep stdout rather than lose the run
                os.close(saved)
                saved = -1
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        if saved >= 0:
            os.dup2(saved, 1)
            os.close(saved)


class BackendRegistry:
    """All registered backends, by kind and name."""

    def __init__(self, plugins: Iterable[tuple[object, str]] = (), entry_points: bool = True) -> None:
        """The built-ins (:mod:`ce.backends.builtin`), then *plugins* (``(module, provider)``), then entry points."""
        self._manager = pluggy.PluginManager(PROJECT_NAME)
        self._manager.add_hookspecs(CeSpecs)
        self._providers: dict[str, tuple[str, str]] = {}  # pluggy name -> (label, distribution)
        self.broken: list[BrokenPlugin] = []
        self._backends: dict[BackendKind, dict[str, RegisteredBackend]] = {kind: {} for kind in KINDS}
        for builtin in BUILTIN_BACKENDS:
            record = KINDS[builtin.kind][1](name=builtin.name, backend=builtin.create, summary=builtin.summary)
            self._backends[builtin.kind][builtin.name] = RegisteredBackend(builtin.kind, record, BUILTIN_PROVIDER)
        for plugin, provider in plugins:
            self._register(plugin, getattr(plugin, "__name__", repr(plugin)), provider)
        if entry_points:
            self._load_entry_points()
        for kind in KINDS:
            self._collect(kind)

    def _register(self, plugin: object, name: str, provider: str, label: str | None = None) -> None:
        """Register *plugin* with pluggy as *name*; *label* is how messages name it (its entry point)."""
        label = label or name
        try:
            self._manager.register(plugin, name=name)
        except BaseException as error:  # pluggy validation errors, duplicate registration, a hostile __getattr__
            if not _plugin_failure(error):
                raise
            self.broken.append(BrokenPlugin(label, provider, _error_text(error)))
            return
        try:
            self._manager.check_pending()  # a ce_* hook that no spec declares (a typo)
        except Exception as error:
            self._manager.unregister(name=name)
            self.broken.append(BrokenPlugin(label, provider, _error_text(error)))
            return
        self._providers[name] = (label, provider)

    def _load_entry_points(self) -> None:
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            provider = _distribution_label(entry_point)
            try:
                with plugin_output_to_stderr():
                    plugin = entry_point.load()
            except BaseException as error:  # SystemExit and PanicException too: a plugin's failure is not ce's
                if not _plugin_failure(error):
                    raise
                self.broken.append(BrokenPlugin(entry_point.name, provider, f"cannot import: {_error_text(error)}"))
                continue
            self._register(plugin, f"{provider}:{entry_point.name}", provider, entry_point.name)

    def _collect(self, kind: BackendKind) -> None:
        """Add the plugins' backends of *kind*; a name already taken (a built-in's first) is refused."""
        hook_name, record_type = KINDS[kind]
        found = self._backends[kind]
        caller = getattr(self._manager.hook, hook_name)
        for implementation in caller.get_hookimpls():
            plugin_name = implementation.plugin_name
            label, provider = self._providers.get(plugin_name, (plugin_name, plugin_name))
            function: Callable[[], Any] = implementation.function
            try:
                with plugin_output_to_stderr():
                    records = list(function() or ())
                for record in records:
                    if not isinstance(record, record_type):
                        raise TypeError(f"{hook_name} yielded {type(record).__name__}, not {record_type.__name__}")
            except BaseException as error:
                if not _plugin_failure(error):
                    raise
                self.broken.append(BrokenPlugin(label, provider, f"{hook_name} failed: {_error_text(error)}"))
                continue
            for record in records:
                if record.name in found:
                    other = found[record.name].provider
                    self.broken.append(
                        BrokenPlugin(label, provider, f"{kind} {record.name!r} is already provided by {other}")
                    )
                    continue
                found[record.name] = RegisteredBackend(kind, record, provider)

    def backends(self, kind: BackendKind) -> dict[str, RegisteredBackend]:
        """The backends of *kind*, by name."""
        return dict(self._backends[kind])

    def get(self, kind: BackendKind, name: str) -> RegisteredBackend:
        """The backend of *kind* called *name*, or an error listing the valid names."""
        try:
            return self._backends[kind][name]
        except KeyError:
            valid = ", ".join(sorted(self._backends[kind])) or "none"
            skipped = [broken for broken in self.broken if broken.plugin == name]
            why = f" (plugin {name!r} from {skipped[0].provider!r} was skipped: see above)" if skipped else ""
            raise BackendNotFoundError(f"unknown {kind} {name!r}{why}; valid {kind} names: {valid}") from None

    def create(self, kind: BackendKind, name: str) -> Any:
        """Instantiate the backend of *kind* called *name*."""
        registered = self.get(kind, name)
        try:
            if registered.provider == BUILTIN_PROVIDER:
                return registered.record.backend()
            with plugin_output_to_stderr():
                return registered.record.backend()
        except CeError:
            raise
        except BaseException as error:
            if not _plugin_failure(error):
                raise
            raise BackendNotFoundError(
                f"{kind} {name!r} from {registered.provider} cannot be used: {_error_text(error)}"
            ) from error
