"""The conda subdir (platform) of this machine, without importing ``platform``."""

from __future__ import annotations

import os
import sys

from ce.errors import ConfigurationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

#: Every subdir conda knows; ``CONDA_SUBDIR`` and ``--platform`` must name one.
KNOWN_SUBDIRS = frozenset(
    {
        "noarch",
        "emscripten-wasm32",
        "wasi-wasm32",
        "freebsd-64",
        "linux-32",
        "linux-64",
        "linux-aarch64",
        "linux-armv6l",
        "linux-armv7l",
        "linux-ppc64",
        "linux-ppc64le",
        "linux-riscv64",
        "linux-s390x",
        "osx-64",
        "osx-arm64",
        "win-32",
        "win-64",
        "win-arm64",
        "zos-z",
    }
)

_OS_NAMES = {"linux": "linux", "darwin": "osx", "win32": "win", "freebsd": "freebsd"}
_ARCH_NAMES = {
    "x86_64": "64",
    "amd64": "64",
    "i386": "32",
    "i686": "32",
    "x86": "32",
    "aarch64": "aarch64",
    "arm64": "arm64",
    "ppc64le": "ppc64le",
    "ppc64": "ppc64",
    "s390x": "s390x",
    "armv6l": "armv6l",
    "armv7l": "armv7l",
    "riscv64": "riscv64",
}


def validate_subdir(subdir: str) -> str:
    """Return *subdir* if conda knows it, else raise :class:`ConfigurationError`."""
    if subdir not in KNOWN_SUBDIRS:
        valid = ", ".join(sorted(KNOWN_SUBDIRS))
        raise ConfigurationError(f"unknown platform {subdir!r}; valid platforms: {valid}")
    return subdir


def current_subdir(environ: Mapping[str, str] | None = None) -> str:
    """The subdir packages are installed for: ``$CONDA_SUBDIR`` or this machine's."""
    env = os.environ if environ is None else environ
    override = env.get("CONDA_SUBDIR")
    if override:
        return validate_subdir(override)
    os_name = next((name for prefix, name in _OS_NAMES.items() if sys.platform.startswith(prefix)), None)
    if sys.platform == "win32":
        machine = env.get("PROCESSOR_ARCHITEW6432") or env.get("PROCESSOR_ARCHITECTURE", "")
    else:
        machine = os.uname().machine
    arch = _ARCH_NAMES.get(machine.lower())
    if os_name is None or arch is None:
        raise ConfigurationError(f"cannot tell the conda platform of {sys.platform}/{machine}; set CONDA_SUBDIR")
    if os_name == "linux" and arch == "arm64":
        arch = "aarch64"
    if os_name in ("osx", "win") and arch == "aarch64":
        arch = "arm64"
    return f"{os_name}-{arch}"
