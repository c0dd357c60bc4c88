"""The other tools ce is compared with, loaded without conda.

* PEP 723's reference parser: the regular expression and ``read`` function
  printed in the PEP (public domain text).
* conda-exec 0.4.0: its wheel is downloaded (pinned by sha256) into the test
  cache and read, never installed: installing it would replace ce's own ``ce``
  console script (conda-exec declares ``ce = conda_exec.main:main``) and
  register a second ``conda exec`` plugin.  Only the functions that do not
  need conda are loaded: the PEP 723 block scanner of ``conda_exec/script.py``
  (its one relative import, an exception class that subclasses conda's, is
  replaced by a plain one) and ``ScriptLockManager.input_digest`` of
  ``conda_exec/lockfile.py``.
* uv: the ``uv`` dependency of ce itself, run offline on a script without
  dependencies so it only parses the metadata and picks an interpreter.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import subprocess
import sys
import types
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# --------------------------------------------------------------------------
# PEP 723 reference implementation
# --------------------------------------------------------------------------

PEP723_REGEX = r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$"


def pep723_read(script: str, name: str = "script") -> dict[str, Any] | None:
    """PEP 723's reference ``read``: the TOML of the one *name* block, None without one."""
    matches = [match for match in re.finditer(PEP723_REGEX, script) if match.group("type") == name]
    if len(matches) > 1:
        raise ValueError(f"Multiple {name} blocks found")
    if len(matches) == 1:
        content = "".join(
            line[2:] if line.startswith("# ") else line[1:]
            for line in matches[0].group("content").splitlines(keepends=True)
        )
        return tomllib.loads(content)
    return None


# --------------------------------------------------------------------------
# conda-exec 0.4.0, read from its wheel
# --------------------------------------------------------------------------

CONDA_EXEC_VERSION = "0.4.0"
CONDA_EXEC_SHA256 = "4d7e859ac8533f92f04bc20cd09d6e5246d6bc05bda9ec0446a835668dac673c"


def conda_exec_wheel(cache_root: Path) -> Path | None:
    """conda-exec's wheel in ``cache_root/peers`` (downloaded once with pip), or None when pip cannot get it."""
    import build_test_channel as btc

    pin = btc.WheelPin("pypi", "conda-exec", CONDA_EXEC_VERSION, CONDA_EXEC_SHA256)
    dest = cache_root / "peers"
    dest.mkdir(parents=True, exist_ok=True)
    with btc._file_lock(dest / ".lock"):
        wheel = btc.find_wheel(dest, pin)
        if wheel is None:
            try:
                btc._pip_download([pin], dest)
            except (subprocess.CalledProcessError, RuntimeError):
                return None
            wheel = btc.find_wheel(dest, pin)
    return wheel


class CondaExec:
    """The conda-free functions of conda-exec 0.4.0."""

    def __init__(self, wheel: Path) -> None:
        with zipfile.ZipFile(wheel) as archive:
            script_source = archive.read("conda_exec/script.py").decode("utf-8")
            lockfile_source = archive.read("conda_exec/lockfile.py").decode("utf-8")
        self.script = self._script_module(script_source)
        self._input_digest = self._method(lockfile_source, "ScriptLockManager", "input_digest")

    @staticmethod
    def _script_module(source: str) -> types.ModuleType:
        tree = ast.parse(source)
        # the only relative import is `from .exceptions import ScriptMetadataError` (a conda error class)
        tree.body = [node for node in tree.body if not (isinstance(node, ast.ImportFrom) and node.level)]
        module = types.ModuleType("conda_exec_0_4_0_script")
        module.ScriptMetadataError = type("ScriptMetadataError", (Exception,), {})  # type: ignore[attr-defined]
        sys.modules[module.__name__] = module  # dataclasses look their module up
        exec(compile(tree, "conda_exec/script.py", "exec"), module.__dict__)
        return module

    @staticmethod
    def _method(source: str, class_name: str, name: str) -> Callable[..., Any]:
        tree = ast.parse(source)
        (cls,) = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == class_name]
        (function,) = [node for node in cls.body if isinstance(node, ast.FunctionDef) and node.name == name]
        module = ast.Module(body=[function], type_ignores=[])
        namespace: dict[str, Any] = {"json": json, "hashlib": hashlib, "__name__": "conda_exec_0_4_0_lockfile"}
        exec(compile(ast.fix_missing_locations(module), "conda_exec/lockfile.py", "exec"), namespace)
        return namespace[name]  # type: ignore[no-any-return]

    def parse(self, text: str) -> Any:
        """``parse_script_metadata`` of the text (``ScriptMetadata`` or None)."""
        return self.script.parse_script_metadata(text)

    def blocks(self, text: str, *types_: str) -> dict[str, str]:
        """``extract_script_blocks``: the first block of each type (a script block is strict)."""
        return self.script.extract_script_blocks(text, block_types=types_, strict_block_types=("script",))  # type: ignore[no-any-return]

    def input_digest(self, text: str, with_specs: list[str] | None = None, channels: list[str] | None = None) -> str:
        """The digest conda-exec writes in a lock for the script *text*."""
        return self._input_digest(None, self.parse(text), with_specs, channels)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------
# uv
# --------------------------------------------------------------------------


def uv_run_script(path: Path, tmp: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``uv run --script`` offline with this interpreter (uv parses the metadata, installs nothing)."""
    from uv import find_uv_bin

    env = dict(
        os.environ,
        UV_CACHE_DIR=str(tmp / "uv-cache"),
        UV_NO_CONFIG="1",
        UV_PYTHON_DOWNLOADS="never",
        UV_OFFLINE="1",
    )
    command = [find_uv_bin(), "run", "--no-project", "--python", sys.executable, "--script", str(path)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
