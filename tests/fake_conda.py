"""A tiny fake of conda's plugin surface, for machines without conda.

It mimics what ce relies on: ``conda.plugins.hookimpl`` and
``conda.plugins.types.CondaSubcommand``, ``conda.exceptions.CondaError``
(message formatted with ``%``, ``return_code``, ``repr`` as conda prints it),
and, optionally, ``conda.base`` (a context whose plugin manager gives no
solver backend; conda's built-in ``defaults`` list).  ``python -m conda ARGS``
dispatches like conda does for a plugin subcommand without
``configure_parser``: it loads ce's ``conda`` entry point with pluggy, hands
the arguments after the subcommand name to its action, and prints a
``CondaError`` as ``\\n<Name>: <message>\\n`` on stderr with its return code.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

FAKE_DEFAULT_CHANNELS = ("https://example.invalid/pkgs/main", "https://example.invalid/pkgs/r")

_CORE = {
    "conda/__init__.py": '__version__ = "0.0.0+fake"\n',
    "conda/exceptions.py": """
        import sys


        class CondaError(Exception):
            return_code = 1
            reportable = False

            def __init__(self, message, caused_by=None, **kwargs):
                self.message = message
                self._kwargs = kwargs
                self._caused_by = caused_by
                super().__init__(message)

            def __repr__(self):
                return f"{self.__class__.__name__}: {self}"

            def __str__(self):
                return str(self.message % self._kwargs)


        def print_conda_exception(exc_val, exc_tb=None):
            print(f"\\n{exc_val!r}\\n", file=sys.stderr)
    """,
    "conda/plugins/__init__.py": """
        from .hookspec import hookimpl
        from .types import CondaSubcommand
    """,
    "conda/plugins/hookspec.py": """
        import pluggy

        spec_name = "conda"
        _hookspec = pluggy.HookspecMarker(spec_name)
        hookimpl = pluggy.HookimplMarker(spec_name)


        class CondaSpecs:
            @_hookspec
            def conda_subcommands(self):
                \"\"\"Register external subcommands in conda.\"\"\"
    """,
    "conda/plugins/types.py": """
        from dataclasses import dataclass
        from typing import Callable, Optional


        @dataclass
        class CondaSubcommand:
            name: str
            summary: str
            action: Callable
            configure_parser: Optional[Callable] = None
    """,
    "conda/__main__.py": """
        import sys

        import pluggy

        from conda.exceptions import CondaError
        from conda.plugins.hookspec import CondaSpecs


        def subcommands():
            manager = pluggy.PluginManager("conda")
            manager.add_hookspecs(CondaSpecs)
            # conda loads every distribution's `conda` entry points; only ce's matter here
            # (conda-lock's, for one, takes most of a second to import).
            manager.load_setuptools_entrypoints("conda", name="ce")
            found = {}
            for batch in manager.hook.conda_subcommands():
                for subcommand in batch:
                    if subcommand.name in found:
                        raise SystemExit(f"Conflicting `subcommands` plugins found: {subcommand.name}")
                    found[subcommand.name] = subcommand
            return found


        def main(argv):
            found = subcommands()
            if argv == ["--list"]:
                for name, subcommand in sorted(found.items()):
                    print(name, subcommand.configure_parser is None, subcommand.summary, sep="|")
                return 0
            name, *rest = argv
            try:
                return found[name].action(tuple(rest))
            except CondaError as error:
                print(f"\\n{error!r}\\n", file=sys.stderr)
                return error.return_code


        sys.exit(main(sys.argv[1:]))
    """,
}

_BASE = {
    "conda/base/__init__.py": "",
    "conda/base/constants.py": f"DEFAULT_CHANNELS = {FAKE_DEFAULT_CHANNELS!r}\n",
    "conda/base/context.py": """
        class _PluginManager:
            def get_cached_solver_backend(self):
                return None


        class _Context:
            plugin_manager = _PluginManager()


        context = _Context()
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
