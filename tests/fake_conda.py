"""A tiny fake of conda's plugin surface, for machines without conda.

Mirrors conda 26.7.1 (tag 26.7.1, commit 0bf82da) and conda's main branch
(commit 0f64223, to be 26.9) name for name and module for module, for what ce
touches; each name below is where conda defines or exports it:

- ``conda/__init__.py``: ``__version__``; ``CONDA_ROOT`` set to ``sys.prefix``
  on import when unset; ``CondaError`` (``return_code``, ``reportable``,
  ``repr`` ``"<Name>: <message>"``, and since 26.7 ``%``-formatting only when
  keyword arguments are given).
- ``conda/exceptions.py``: ``CondaError`` (re-exported), ``CondaValueError``,
  ``PluginError``, ``print_conda_exception`` (``"\\n<repr>\\n"`` on stderr).
- ``conda/plugins/manager.py``: ``CondaPluginManager`` with conda's
  ``load_entrypoints`` (every distribution's ``conda`` entry points, each
  registered under its module's name; one that fails to import is skipped),
  ``get_hook_results`` (a ``PluginError`` "Conflicting plugins found for
  `subcommands`" when two plugins register one name, as conda raises on every
  command that builds its parser) and ``get_subcommands``.
- ``conda/plugins/__init__.py``: only ``hookimpl`` (``__all__``); the
  ``CondaSubcommand`` re-export is deprecated in 26.3 and gone on main.
- ``conda/plugins/hookspec.py``: ``hookimpl``, ``CondaSpecs.conda_subcommands``
  (``spec_name`` is deprecated in 26.7 and gone on main: not here).
- ``conda/plugins/types.py``: ``CondaPlugin`` (name lowercased and stripped),
  ``CondaSubcommand`` with a keyword-only constructor (``name``, ``summary``,
  ``action``, ``configure_parser=None``, ``aliases=()``).
- optionally ``conda/base/constants.py`` (``APP_NAME``, ``DEFAULT_CHANNELS``,
  ``SEARCH_PATH``) and ``conda/base/context.py`` (``context`` with
  ``solver``, ``subdir``, ``offline``, ``quiet``, ``_argparse_args`` and a
  ``plugin_manager`` whose ``get_solver_backend`` and
  ``get_cached_solver_backend`` raise ``CondaValueError``, as conda does for
  a solver it does not know: no solver is registered here; ``reset_context``).

The solver and transaction half (``conda.models``, ``conda.core.link``,
``conda.core.envs_manager``) is ``FAKE_SOLVER_API`` in tests/test_conda_solver.py.

``python -m conda ARGS`` dispatches like conda (``conda/cli/main.py``) for a
plugin subcommand without ``configure_parser``: it loads every
distribution's ``conda`` entry points as ``get_plugin_manager`` does (a
conflict is conda's ``PluginError``, printed, exit status 1), hands the arguments after the subcommand name to its
action as a tuple, exits with the action's integer result, and prints a
``CondaError`` as ``\\n<Name>: <message>\\n`` on stderr with its return code.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

FAKE_DEFAULT_CHANNELS = ("https://example.invalid/pkgs/main", "https://example.invalid/pkgs/r")

_CORE = {
    "conda/__init__.py": """
        import os
        import sys

        __version__ = "0.0.0+fake"

        if os.getenv("CONDA_ROOT") is None:
            os.environ["CONDA_ROOT"] = sys.prefix


        class CondaError(Exception):
            return_code = 1
            reportable = False

            def __init__(self, message, caused_by=None, *, guidance=None, **kwargs):
                self.message = message or ""
                self._kwargs = kwargs
                self._caused_by = caused_by
                super().__init__(message)

            def __repr__(self):
                return f"{self.__class__.__name__}: {self}"

            def __str__(self):
                if not self._kwargs:
                    return str(self.message)
                return str(self.message) % self._kwargs
    """,
    "conda/exceptions.py": """
        import sys

        from . import CondaError


        class CondaValueError(CondaError, ValueError):
            pass


        class PluginError(CondaError):
            pass


        def print_conda_exception(exc_val, exc_tb=None):
            print(f"\\n{exc_val!r}\\n", file=sys.stderr)
    """,
    "conda/plugins/__init__.py": """
        from .hookspec import hookimpl

        __all__ = ["hookimpl"]
    """,
    "conda/plugins/hookspec.py": """
        import pluggy

        _hookspec = pluggy.HookspecMarker("conda")
        hookimpl = pluggy.HookimplMarker("conda")


        class CondaSpecs:
            @_hookspec
            def conda_subcommands(self):
                \"\"\"Register external subcommands in conda.\"\"\"
    """,
    "conda/plugins/types.py": """
        from dataclasses import dataclass, field
        from typing import Callable, Optional


        @dataclass
        class CondaPlugin:
            name: str

            def __post_init__(self):
                self.name = self.name.lower().strip()


        @dataclass(init=False)
        class CondaSubcommand(CondaPlugin):
            summary: str
            action: Callable
            aliases: tuple = field(default_factory=tuple)
            configure_parser: Optional[Callable] = field(default=None)

            def __init__(self, *, name, summary, action, configure_parser=None, aliases=()):
                self.name = name
                self.summary = summary
                self.action = action
                self.configure_parser = configure_parser
                self.aliases = (aliases,) if isinstance(aliases, str) else tuple(aliases)
                self.__post_init__()
    """,
    "conda/plugins/manager.py": """
        from importlib.metadata import distributions

        import pluggy

        from ..exceptions import PluginError
        from .hookspec import CondaSpecs

        #: conda-lock's plugin (a test dependency) takes most of a second to import and registers no subcommand
        _SKIPPED = {"conda-lock"}


        class CondaPluginManager(pluggy.PluginManager):
            def __init__(self, project_name="conda"):
                super().__init__(project_name)
                self._plugin_distinfo = []

            def load_entrypoints(self, group, name=None):
                count = 0
                for dist in distributions():
                    for entry_point in dist.entry_points:
                        if entry_point.group != group or (name is not None and entry_point.name != name):
                            continue
                        if entry_point.name in _SKIPPED:
                            continue
                        try:
                            plugin = entry_point.load()
                        except Exception:
                            continue
                        try:
                            registered = self.register(plugin)
                        except ValueError:
                            registered = None
                        if registered:
                            self._plugin_distinfo.append((plugin, dist))
                            count += 1
                return count

            def get_hook_results(self, name, **kwargs):
                specname = f"{self.project_name}_{name}"
                hook = getattr(self.hook, specname, None)
                if hook is None:
                    raise PluginError(f"Could not find requested `{name}` plugins")
                # each implementation called on its own (conda wraps them to the same end): to name its source
                sourced = [
                    (plugin, self._source(impl.plugin))
                    for impl in reversed(hook.get_hookimpls())
                    for plugin in impl.function(**kwargs)
                ]
                plugins = [plugin for plugin, _source in sourced]
                by_name = {}
                for plugin, source in sourced:
                    by_name.setdefault(plugin.name, []).append(source)
                conflicts = {name: sorted(group) for name, group in sorted(by_name.items()) if len(group) > 1}
                if conflicts:
                    lines = "".join(  # conda's dashlist: "\\n" + indent + "- " before each item
                        f"\\n  - {conflict!r} provided by:" + "".join(f"\\n    - {source}" for source in sources)
                        for conflict, sources in conflicts.items()
                    )
                    raise PluginError(
                        f"Conflicting plugins found for `{name}`:\\n{lines}\\n\\n"
                        f"Multiple conda plugins are registered via the `{specname}` hook. "
                        "Please make sure that you don't have any incompatible plugins installed."
                    )
                return sorted(plugins, key=lambda plugin: plugin.name)

            def _source(self, plugin):
                for registered, dist in self._plugin_distinfo:
                    if registered is plugin:
                        return f"{dist.metadata['Name']} {dist.version}"
                return self.get_name(plugin)

            def get_subcommands(self):
                return {subcommand.name: subcommand for subcommand in self.get_hook_results("subcommands")}


        def get_plugin_manager():
            plugin_manager = CondaPluginManager()
            plugin_manager.add_hookspecs(CondaSpecs)
            plugin_manager.load_entrypoints("conda")
            return plugin_manager
    """,
    "conda/__main__.py": """
        import sys

        from conda.exceptions import CondaError, print_conda_exception
        from conda.plugins.manager import get_plugin_manager


        def main(argv):
            try:
                found = get_plugin_manager().get_subcommands()  # conda does this on every command
            except CondaError as error:
                print_conda_exception(error)
                return error.return_code
            if argv == ["--list"]:
                for name, subcommand in sorted(found.items()):
                    print(name, subcommand.configure_parser is None, subcommand.summary, sep="|")
                return 0
            name, *rest = argv
            try:
                result = found[name].action(tuple(rest))
            except CondaError as error:
                print_conda_exception(error)
                return error.return_code
            return result if isinstance(result, int) else 0


        sys.exit(main(sys.argv[1:]))
    """,
}

_BASE = {
    "conda/base/__init__.py": "",
    "conda/base/constants.py": f"""
        APP_NAME = "conda"
        DEFAULT_CHANNELS = {FAKE_DEFAULT_CHANNELS!r}
        SEARCH_PATH = ("$CONDA_ROOT/.condarc", "$CONDARC")
    """,
    "conda/base/context.py": """
        from ..exceptions import CondaValueError
        from .constants import SEARCH_PATH


        class _PluginManager:
            def get_solver_backend(self, name=None):
                name = (name or context.solver).lower().strip()
                raise CondaValueError(
                    f"You have chosen a non-default solver backend ({name}) "
                    "but it was not recognized. Choose one of: "
                )

            def get_cached_solver_backend(self, name=None):
                return self.get_solver_backend(name)


        class Context:
            solver = "libmamba"
            subdir = "linux-64"
            offline = False
            quiet = False
            pkgs_dirs = ()  # conda's package caches (real conda: a tuple of paths)
            plugin_manager = _PluginManager()

            def __init__(self, search_path=None, argparse_args=None):
                self._search_path = () if search_path is None else tuple(search_path)
                self._argparse_args = argparse_args


        context = Context((), None)


        def reset_context(search_path=SEARCH_PATH, argparse_args=None):
            context.__init__(search_path, argparse_args)
            return context
    """,
}


def write_fake_conda(root: Path, base: bool = False) -> Path:
    """Write the fake ``conda`` package under *root* (with ``conda.base`` when *base*); return *root*."""
    files = {**_CORE, **(_BASE if base else {})}
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def environ_with(root: Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """*environ* (default: this process's) with the fake conda importable by child processes."""
    env = dict(os.environ if environ is None else environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    return env


def forget_conda_modules() -> None:
    """Drop every ``conda`` module (and ce's plugin module) imported in this process."""
    for name in list(sys.modules):
        if name == "conda" or name.startswith("conda.") or name == "ce.conda_plugin":
            del sys.modules[name]
