"""Installing a script's PyPI dependencies with uv, after the conda packages.

uv is a dependency of ce (its wheel ships the binary), so a script with PyPI
requirements works in any environment ce builds, whatever the conda packages
include: pip would have to be in the environment itself.  A requirement that
a conda package already satisfies is left alone, because uv sees that
package's ``.dist-info`` and installs nothing for it.  uv's own settings
(``UV_INDEX_URL``, ``UV_FIND_LINKS``, ``UV_CACHE_DIR``...) apply unchanged.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence

from ce.errors import InstallError
from ce.relocate import relocate


def find_uv() -> str:
    """Path of the uv binary: the one ce depends on, else one on PATH."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        import shutil

        found = shutil.which("uv")
        if found is None:
            raise InstallError("PyPI dependencies need uv: install it with 'pip install uv'") from None
        return found


def python_in(prefix: str) -> str:
    """The environment's Python interpreter."""
    if os.name == "nt":  # pragma: no cover - Windows
        return os.path.join(prefix, "python.exe")
    return os.path.join(prefix, "bin", "python")


def install_pypi(
    prefix: str,
    final_prefix: str,
    requirements: Sequence[str],
    environ: Mapping[str, str],
    offline: bool = False,
    quiet: bool = True,
) -> None:
    """Install *requirements* into the environment being built at *prefix*.

    The environment is renamed to *final_prefix* afterwards, so the launchers
    uv writes are pointed there.
    """
    python = python_in(prefix)
    if not os.path.exists(python):
        raise InstallError("PyPI dependencies need python in the environment: add it to [tool.conda] dependencies")
    command = [find_uv(), "pip", "install", "--python", python, "--no-progress"]
    if offline:
        command.append("--offline")
    if quiet:
        command.append("--quiet")
    command.extend(requirements)
    env = {key: value for key, value in environ.items() if key not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    # uv locks an environment that is not a virtualenv with $TMPDIR/uv-<hash>.lock and never
    # removes it: give uv a temporary directory inside the environment being built.
    scratch = os.path.join(prefix, ".ce-uv-tmp")
    os.makedirs(scratch, exist_ok=True)
    env["TMPDIR"] = scratch
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        detail = "; ".join(lines[-3:]) or f"uv exited with {result.returncode}"
        raise InstallError(f"cannot install PyPI dependencies {', '.join(requirements)}: {detail}")
    relocate(prefix, final_prefix)  # uv's launchers point at the build directory
