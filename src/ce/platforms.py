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


#: The virtual packages a platform's machines usually have, for solving other platforms.
_TYPICAL_VIRTUAL_PACKAGES = {
    "linux": ("__unix=0=0", "__linux=5.10=0", "__glibc=2.28=0"),
    "osx": ("__unix=0=0",),
    "win": ("__win=0=0",),
}
_ARCHSPEC = {"64": "x86_64", "aarch64": "aarch64", "arm64": "arm64", "ppc64le": "ppc64le", "s390x": "s390x"}


def typical_virtual_packages(subdir: str, environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """``name=version=build`` virtual packages to solve *subdir* with, on another machine.

    ``CONDA_OVERRIDE_GLIBC``, ``CONDA_OVERRIDE_OSX`` and ``CONDA_OVERRIDE_LINUX``
    replace the defaults, as they do for this machine's detection.
    """
    env = os.environ if environ is None else environ
    os_name, _, arch = subdir.partition("-")
    packages = list(_TYPICAL_VIRTUAL_PACKAGES.get(os_name, ()))
    if os_name == "osx":
        default = "11.0" if arch == "arm64" else "10.15"
        packages.append(f"__osx={env.get('CONDA_OVERRIDE_OSX') or default}=0")
    if os_name == "linux":
        for index, package in enumerate(packages):
            name = package.split("=")[0]
            override = env.get(f"CONDA_OVERRIDE_{name.strip('_').upper()}")
            if override:
                packages[index] = f"{name}={override}=0"
    if arch in _ARCHSPEC:
        packages.append(f"__archspec=1={_ARCHSPEC[arch]}")
    return tuple(packages)
