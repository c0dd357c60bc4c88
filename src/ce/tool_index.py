"""The tool index: lets a warm ``ce TOOL`` skip resolving its request (no configuration, specs or platform).

After a tool run that resolved without a warning, the full command line
records which environment and command it used, under a key over everything
that could change that answer: the recipe and ce's version, the machine and user, TOOL
and ce's options exactly as given, the value (or absence) of every
environment variable the resolution reads (:data:`RESOLUTION_VARIABLES`),
and the working directory when an option value is a relative path.  The
entry itself carries what the key cannot: a stat signature of every condarc
search-path entry (files, ``condarc.d`` directories and their listing, and
entries that did not exist), and the names and a hash of any other variable
that a condarc file, a variable's value or the search path refers to.

The warm path recomputes the key, reads the entry (one small regular file),
re-stats exactly the recorded paths and compares; any difference (a new,
changed or removed condarc file, a changed variable) is a miss, and the full
command line runs and records again: never a stale hit.

On the warm path: only ``os``, ``sys`` and a builtin SHA-256.
"""

import os
import stat
import sys

from ce import __version__
from ce.fileio import read_regular, try_write_atomically
from ce.keys import KEY_RECIPE, sha256_hex
from ce.paths import CachePaths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

RECIPE = "ce-tool-index:1"
#: An index entry larger than this is not one ce wrote (and is never written).
MAX_ENTRY_BYTES = 64 * 1024
#: Options left out of the key: they change what ce prints, not what it resolves.
QUIET_FLAGS = ("-q", "--quiet")
#: Entry file names start with this (script index entries are bare hashes).
ENTRY_PREFIX = "tool-"

#: Every environment variable that resolving a tool request can read: conda's configuration
#: variables, the ones that find condarc files, the platform, the home directory.
#: ``tests/test_tool_index.py`` keeps it a superset of what ``ce.config`` declares.
RESOLUTION_VARIABLES = (
    "CONDA_CHANNELS",
    "CONDA_CHANNEL_ALIAS",
    "CONDA_DEFAULT_CHANNELS",
    "CONDA_OVERRIDE_CHANNELS_ENABLED",
    "CONDA_PKGS_DIRS",
    "CONDA_REMOTE_CONNECT_TIMEOUT_SECS",
    "CONDA_REMOTE_READ_TIMEOUT_SECS",
    "CONDA_REMOTE_MAX_RETRIES",
    "CONDA_REMOTE_BACKOFF_FACTOR",
    "CONDA_SSL_VERIFY",
    "CONDARC",
    "CONDA_ROOT",
    "_CONDA_ROOT",
    "CONDA_EXE",
    "CONDA_PYTHON_EXE",
    "CONDA_PREFIX",
    "XDG_CONFIG_HOME",
    "HOME",
    "USERPROFILE",
    "HOMEDRIVE",
    "HOMEPATH",
    "CONDA_SUBDIR",
    "PROCESSOR_ARCHITECTURE",
    "PROCESSOR_ARCHITEW6432",
    "CE_CONDARC_SEARCH_PATH",
    "CONDA_RESTRICT_RC_SEARCH_PATH",
    "RATTLER_CACHE_DIR",
    "PATHEXT",
)


def _is_relative(value: str) -> bool:
    """Whether an option value may name a path relative to the working directory."""
    if "://" in value:
        return False
    return value.startswith((".", "~")) or (("/" in value or os.sep in value) and not os.path.isabs(value))


def _variables_text(names: "Iterable[str]", environ: "Mapping[str, str]") -> str:
    return "\0".join(f"{name}\1{environ[name]}" if name in environ else f"{name}\2" for name in names)


def _variables_hash(names: "Iterable[str]", environ: "Mapping[str, str]") -> str:
    return sha256_hex(_variables_text(names, environ).encode("utf-8", "surrogatepass"))


def key(tool: str, options: "Sequence[str]", values: "Sequence[str]", environ: "Mapping[str, str]") -> str:
    """The index key of running *tool* with ce's *options* (*values*: the option values among them).

    ``-q``/``--quiet`` changes nothing that is resolved, so ``ce -q TOOL`` and ``ce TOOL`` share an entry.
    Raises :class:`OSError` when a relative value needs a working directory that is gone.
    """
    options = [option for option in options if option not in QUIET_FLAGS]
    machine = os.uname() if hasattr(os, "uname") else None
    fields = [
        RECIPE,
        KEY_RECIPE,
        __version__,
        sys.platform,
        machine.sysname if machine else "",
        machine.machine if machine else "",
        str(os.getuid()) if hasattr(os, "getuid") else "",  # ``~`` without $HOME is this user's home
        tool,
        str(len(options)),
        *options,
        _variables_text(RESOLUTION_VARIABLES, environ),
        os.getcwd() if any(_is_relative(value) for value in values) else "",
    ]
    return sha256_hex("\0\0".join(fields).encode("utf-8", "surrogatepass"))[:32]


def read_entry(paths: CachePaths, name: str) -> bytes | None:
    """The bytes of the index entry *name* (tool or script); ``None`` if there is no usable one.

    An entry that is not a regular file, or larger than :data:`MAX_ENTRY_BYTES`, is none,
    and a linked ``.index`` is never read through.
    """
    if os.path.islink(paths.index):
        return None
    data = read_regular(os.path.join(paths.index, name), MAX_ENTRY_BYTES)
    return data if data is not None and len(data) <= MAX_ENTRY_BYTES else None


def write_entry(paths: CachePaths, name: str, data: bytes | str) -> bool:
    """Write the index entry *name* (best effort); whether it was written.

    Nothing is written when ``envs/.index`` (or ``envs/``) is a symbolic link: ce writes no cache file through one.
    """
    if os.path.islink(paths.index) or os.path.islink(paths.envs):
        return False
    return try_write_atomically(os.path.join(paths.index, name), data)


def is_env_name(name: str) -> bool:
    """Whether an entry's *name* can be an environment's: a plain name under ``envs/``, not hidden."""
    return bool(name) and "/" not in name and "\\" not in name and not name.startswith(".")


def signature(path: str) -> str:
    """What a recorded path looks like now: ``-`` when absent, else its type and stat fields.

    A directory's signature includes its sorted listing (a ``condarc.d`` with a new file).
    """
    try:
        if not os.access(path, os.F_OK):  # most condarc paths do not exist: no exception to raise and catch
            return "-"
        info = os.stat(path)
    except (OSError, ValueError):
        return "-"
    fields = f"{info.st_mtime_ns}:{info.st_ctime_ns}:{info.st_ino}:{info.st_dev}"
    if stat.S_ISREG(info.st_mode):
        return f"f:{info.st_size}:{fields}"
    if stat.S_ISDIR(info.st_mode):
        try:
            names = sorted(os.listdir(path))
        except OSError:
            return f"d?:{fields}"
        listing = sha256_hex("\0".join(names).encode("utf-8", "surrogatepass"))[:32]
        return f"d:{fields}:{listing}"
    return f"o:{info.st_mode}:{fields}"


def lookup(paths: CachePaths, index_key: str, environ: "Mapping[str, str]") -> tuple[str, str, str, str] | None:
    """``(env_name, command, executable, argv0)`` recorded under *index_key*, if still valid.

    A corrupt entry, a changed condarc path or variable, or a linked ``.index`` is a miss.
    """
    data = read_entry(paths, ENTRY_PREFIX + index_key)
    if data is None:
        return None
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    if len(lines) < 9 or lines[0] != RECIPE or lines[-2:] != ["end", ""]:
        return None
    env_name, command, executable, argv0, variables, variables_hash = lines[1:7]
    if not is_env_name(env_name):
        return None
    if not command or not executable or not argv0:
        return None
    names = variables.split("\0") if variables else []
    if _variables_hash(names, environ) != variables_hash:
        return None
    for line in lines[7:-2]:
        path, separator, recorded = line.partition("\0")
        if not separator or signature(path) != recorded:
            return None
    return env_name, command, executable, argv0


def snapshot(watched: "Iterable[str]") -> list[tuple[str, str]]:
    """``(path, signature)`` of each of *watched*, taken before the resolution they feed."""
    return [(path, signature(path)) for path in dict.fromkeys(watched)]


def record(
    paths: CachePaths,
    index_key: str,
    target: tuple[str, str, str, str],
    before: "Sequence[tuple[str, str]]",
    variables: "Iterable[str]",
    environ: "Mapping[str, str]",
) -> bool:
    """Remember that *index_key* runs ``(env_name, command, executable, argv0)`` (best effort).

    *before* is the :func:`snapshot` of the condarc paths taken before resolving; if any of
    them changed since, nothing is recorded.  *variables* are further variables whose values
    must stay the same.  Nothing is written when ``envs/.index`` (or ``envs/``) is a symbolic
    link, or when a field cannot be stored.
    """
    if any(signature(path) != recorded for path, recorded in before):
        return False
    names = sorted(set(variables) - set(RESOLUTION_VARIABLES))
    fields = [*target, *names, *(path for path, _ in before)]
    if any("\n" in field or "\0" in field for field in fields) or not all(target):
        return False
    variables_hash = _variables_hash(names, environ)
    lines = [RECIPE, *target, "\0".join(names), variables_hash]
    lines.extend(f"{path}\0{recorded}" for path, recorded in before)
    text = "\n".join([*lines, "end", ""])
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # not a name the file system gave (a lone surrogate): never recorded
        return False
    if len(data) > MAX_ENTRY_BYTES:
        return False
    return write_entry(paths, ENTRY_PREFIX + index_key, data)
