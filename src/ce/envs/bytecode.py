"""Byte-compiling the Python packages of a new environment.

rattler links noarch Python packages without ``.pyc`` files (and uv installs
PyPI packages without them), so every start of a Python tool would compile
them again, and never save the result where ``PYTHONDONTWRITEBYTECODE`` is
set. ce compiles ``site-packages`` once, at build time, as conda does.
The paths baked into the ``.pyc`` files do not matter: the import system
fixes a code object's file name when it loads it.
"""

from __future__ import annotations

import os
import subprocess

from ce.envs.pypi import python_in
from ce.relocate import links_leaving


def _site_packages(prefix: str) -> list[str]:
    if os.name == "nt":  # pragma: no cover - Windows
        candidates = [os.path.join(prefix, "Lib", "site-packages")]
    else:
        lib = os.path.join(prefix, "lib")
        try:
            names = [name for name in os.listdir(lib) if name.startswith("python")]
        except OSError:
            names = []
        candidates = [os.path.join(lib, name, "site-packages") for name in names]
    return [path for path in candidates if os.path.isdir(path)]


#: Above this many sources, compile in parallel (a process pool costs ~40 ms to start).
PARALLEL_THRESHOLD = 200


def _count_python_sources(directory: str, enough: int) -> int:
    """How many ``.py`` files are under *directory*, counting no further than *enough*.

    On the way, every ``__pycache__`` that is a symbolic link (a package may ship
    one pointing anywhere) is removed: the compiler would write through it.
    """
    count = 0
    for root, dirs, files in os.walk(directory):
        if "__pycache__" in dirs or "__pycache__" in files:
            cache = os.path.join(root, "__pycache__")
            if os.path.islink(cache):
                os.unlink(cache)  # the link itself, inside the build directory
        if count < enough:
            count += sum(1 for name in files if name.endswith(".py"))
    return count


def _inside(path: str, prefix: str) -> bool:
    """Whether *path*, with every link resolved, is still under *prefix*."""
    real_prefix = os.path.realpath(prefix)
    return os.path.commonpath([os.path.realpath(path), real_prefix]) == real_prefix


def _skip_links_leaving(prefix: str, targets: list[str]) -> list[str]:
    """compileall's ``-x`` option excluding sources that are links out of the environment (none: no option).

    Compiling one would read a file elsewhere (anyone's) into the environment's
    ``__pycache__``; Python still imports such a module from its source.
    """
    import re

    leaving = [
        os.path.join(target, path)
        for target in targets
        for path in links_leaving(target, prefix)
        if path.endswith(".py")
    ]
    if not leaving:
        return []
    return ["-x", "|".join(f"^{re.escape(path)}$" for path in leaving)]


def compile_site_packages(prefix: str) -> None:
    """Compile every ``.py`` under the environment's site-packages (best effort)."""
    python = python_in(prefix)
    if not os.path.exists(python):
        return
    counts = {
        path: _count_python_sources(path, PARALLEL_THRESHOLD)
        for path in _site_packages(prefix)
        if _inside(path, prefix)
    }
    targets = [path for path, count in counts.items() if count]
    if not targets:
        return
    parallel = ["-j", "0"] if sum(counts.values()) >= PARALLEL_THRESHOLD else []
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    subprocess.run(
        [python, "-m", "compileall", "-q", *parallel, *_skip_links_leaving(prefix, targets), *targets],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )


def compile_ce_itself() -> None:
    """Write ce's own ``.pyc`` files (best effort; nothing where this user cannot write).

    An installer that does not byte-compile (uv without ``--compile-bytecode``)
    under ``PYTHONDONTWRITEBYTECODE`` would leave every run compiling ce from
    source; :func:`ce.fastpath.write_missing_bytecode` decides when to call this.
    """
    import ce

    package = os.path.dirname(ce.__file__)
    if not os.access(package, os.W_OK):
        return
    import compileall

    compileall.compile_dir(package, quiet=2)
