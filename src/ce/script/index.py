"""The script index: lets a warm ``ce script.py`` skip parsing metadata and locks.

After a script run that needed no warning, the full path records which
environment and interpreter it used under a fingerprint of everything that
could change that answer: the script's comment lines (its metadata and any
embedded lock live there), the size and mtime of each built-in sidecar lock
name, the mtime of the script's directory (a new sidecar of any format), the
options that shape the environment (and the working folder, when a ``-c``
path is relative), the configured channels (condarc files
and ``$CONDA_CHANNELS``) and the platform.
The warm path recomputes the fingerprint (one read and a few stat calls) and,
if the entry exists and its environment is complete, execs at once.  Any
change makes a new fingerprint, so the full path runs again: never a stale hit.

On the warm path: only ``os`` and a builtin SHA-256.
"""

from __future__ import annotations

import os

from ce.backends.builtin import BUILTIN_BACKENDS, sidecar_names
from ce.base import CachePaths, is_env_name, read_index_entry, read_regular, sha256_hex, write_index_entry
from ce.config.channels import is_local_channel, resolve_channels
from ce.config.condarc import root_of_conda
from ce.errors import CeError

RECIPE = "ce-script-index:1"
MAX_SCRIPT_BYTES = 4 * 1024 * 1024

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


def _stat_text(path: str) -> str:
    try:
        info = os.stat(path)
    except OSError:
        return "-"
    return f"{info.st_size}:{info.st_mtime_ns}"


def _configured_channels(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The channels the configuration (condarc files, ``$CONDA_CHANNELS``) gives, resolved."""
    try:
        # the front door too: behind -c, conda exec and ce differ when nothing configures channels
        return (
            "configured",
            "conda exec" if root_of_conda() is not None else "ce",
            *resolve_channels([], False, environ),
        )
    except CeError as error:  # the full path reports it; here it only has to differ
        return ("unusable configuration", str(error))


def _working_folder(channels: Sequence[str]) -> str:
    """The working folder, when a ``-c`` value is a relative path: ``./chan`` is another channel in each."""
    if not any(
        is_local_channel(value.strip()) and not os.path.isabs(os.path.expanduser(value.strip())) for value in channels
    ):
        return ""
    try:
        return os.getcwd()
    except OSError:  # gone: the full path cannot resolve the channel either, so nothing is recorded
        return "\0gone"


def fingerprint(
    script: str,
    data: bytes,
    channels: Sequence[str],
    with_specs: Sequence[str],
    override_channels: bool,
    platform: str,
    environ: Mapping[str, str],
    locked: bool = False,
) -> str:
    """The index key of running *script* (whose bytes are *data*) with these options (``--locked`` too)."""
    absolute = os.path.abspath(script)
    directory, name = os.path.split(absolute)
    comments = b"\n".join(line for line in data.splitlines() if line.lstrip().startswith(b"#"))
    fields = [
        RECIPE,
        absolute,
        platform,
        "1" if override_channels else "0",
        "locked" if locked else "-",
        *_configured_channels(environ),
        "channels",
        *channels,
        _working_folder(channels),
        "with",
        *with_specs,
        "dir",
        _stat_text(directory),
    ]
    for backend in BUILTIN_BACKENDS:  # the built-in formats' sidecars; any other new file changes the dir's mtime
        for sidecar in sidecar_names(backend.sidecars, name, platform):
            fields.append(_stat_text(os.path.join(directory, sidecar)))
    return sha256_hex("\0".join(fields).encode("utf-8", "surrogateescape"), b"\0", comments)[:32]


def lookup(paths: CachePaths, key: str) -> tuple[str, list[str]] | None:
    """``(env_name, interpreter argv)`` recorded under *key*, if any.

    A corrupt entry is none, and a linked ``.index`` is never read through.
    """
    data = read_index_entry(paths, key)
    if data is None:
        return None
    try:
        lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return None
    if len(lines) < 3 or lines[0] != RECIPE or not is_env_name(lines[1]) or not lines[2]:
        return None
    return lines[1], lines[2].split("\0")


def record(paths: CachePaths, key: str, env_name: str, interpreter: Sequence[str]) -> None:
    """Remember that *key* runs with *interpreter* from environment *env_name* (best effort).

    Nothing is written when ``envs/.index`` (or ``envs/``) is a symbolic link: ce writes no cache file through one.
    """
    write_index_entry(paths, key, f"{RECIPE}\n{env_name}\n" + "\0".join(interpreter) + "\n")


def read_script_bytes(path: str) -> bytes | None:
    """The script's bytes, or ``None`` if it cannot or should not be read here."""
    data = read_regular(path, MAX_SCRIPT_BYTES)
    return data if data is not None and len(data) <= MAX_SCRIPT_BYTES else None
