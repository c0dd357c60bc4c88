"""conda's configuration (condarc files and ``CONDA_*`` variables), read without conda.

Standalone ``ce`` and ``conda exec`` both take their channel settings from
here, so the two front doors pick the same channels (and share cached
environments).  The files are the ones conda reads, in conda's order
(:data:`SEARCH_PATH`); a directory entry (``condarc.d/``) contributes its
``*.yml``/``*.yaml`` files in name order; ``$CONDARC`` must name a file
called ``.condarc``/``condarc`` or ending in ``.yml``/``.yaml``.  The
``CONDA_*`` environment variables conda honours for these keys come last and
win.  Merging follows conda: lists merge (the most specific source first,
duplicates dropped), maps merge key by key, single values clobber, and a key
marked ``#!final`` stops every later source from changing it.

Keys: ``channels``, ``channel_alias``, ``custom_channels``,
``default_channels``, ``override_channels_enabled`` and ``pkgs_dirs``; and the
network keys ``remote_connect_timeout_secs``, ``remote_read_timeout_secs``,
``remote_max_retries``, ``remote_backoff_factor``, ``proxy_servers`` and
``ssl_verify``.

This module is on the warm path: with no condarc it costs a few ``stat``
calls.  When condarc files exist, the merged settings are cached in one small
text file under the ce cache home, named by a key over every file's (path,
size, mtime_ns) and the variables involved, so a warm run reads that file instead
of importing a YAML parser (``CONDA_*`` variables alone are cached the same
way).  Only ``os``, ``stat`` and ``sys`` are imported here; reading and
merging the files (PyYAML) is :mod:`ce.config.merge`, imported only on a
change.
"""

from __future__ import annotations

import os
import stat
import sys

from ce.base import KEY_HASH_LENGTH, cache_home, env_name_from_parts, rattler_cache_root, read_regular
from ce.config.settings import (
    CACHE_FORMAT,
    DEFAULTS_NAME,
    ENV_VARIABLES,
    NAME_CHARS,
    CondaSettings,
    expand_home,
    expandvars,
    file_kind,
    home_of,
    parse_settings,
)
from ce.errors import ConfigurationError
from ce.fileio import try_write_atomically

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

if sys.platform == "win32":  # pragma: no cover - Windows
    _SYSTEM_SEARCH_PATH: tuple[str, ...] = (
        "C:/ProgramData/conda/.condarc",
        "C:/ProgramData/conda/condarc",
        "C:/ProgramData/conda/condarc.d",
    )
else:
    _SYSTEM_SEARCH_PATH = (
        "/etc/conda/.condarc",
        "/etc/conda/condarc",
        "/etc/conda/condarc.d/",
        "/var/lib/conda/.condarc",
        "/var/lib/conda/condarc",
        "/var/lib/conda/condarc.d/",
    )

#: Where conda looks for condarc files, lowest precedence first (conda's ``SEARCH_PATH``).
SEARCH_PATH: tuple[str, ...] = (
    *_SYSTEM_SEARCH_PATH,
    "$CONDA_ROOT/.condarc",
    "$CONDA_ROOT/condarc",
    "$CONDA_ROOT/condarc.d/",
    "$XDG_CONFIG_HOME/conda/.condarc",
    "$XDG_CONFIG_HOME/conda/condarc",
    "$XDG_CONFIG_HOME/conda/condarc.d/",
    "~/.config/conda/.condarc",
    "~/.config/conda/condarc",
    "~/.config/conda/condarc.d/",
    "~/.conda/.condarc",
    "~/.conda/condarc",
    "~/.conda/condarc.d/",
    "~/.condarc",
    "$CONDA_PREFIX/.condarc",
    "$CONDA_PREFIX/condarc",
    "$CONDA_PREFIX/condarc.d/",
    "$CONDARC",
)
#: ``os.pathsep``-separated entries that replace :data:`SEARCH_PATH` (tests, locked-down setups).
SEARCH_PATH_VARIABLE = "CE_CONDARC_SEARCH_PATH"
#: conda's own switch (conda-standalone's ``--no-rc``): only ``$CONDARC`` is read.
RESTRICT_VARIABLE = "CONDA_RESTRICT_RC_SEARCH_PATH"

CONDARC_NAMES = (".condarc", "condarc")
YAML_SUFFIXES = (".yml", ".yaml")
#: Directory (under the ce cache home) of cached settings, one small file per key.
CACHE_DIR = "condarc-settings"
#: Settings cache files kept (one per distinct set of condarc files and variables).
KEEP_CACHED = 16
#: A settings cache file larger than this is not one ce wrote.
MAX_CACHE_BYTES = 1024 * 1024


# --- finding the files (warm path: stat calls only) -------------------------------------------


def search_path(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The search path in effect: :data:`SEARCH_PATH`, unless a variable replaces or restricts it."""
    override = environ.get(SEARCH_PATH_VARIABLE)
    if override is not None:
        return tuple(entry for entry in override.split(os.pathsep) if entry)
    if RESTRICT_VARIABLE in environ:
        return ("$CONDARC",)
    return SEARCH_PATH


#: The variables :func:`conda_root` reads, in order (``_CONDA_ROOT``: what conda's shell hook exports).
ROOT_VARIABLES = ("CONDA_ROOT", "_CONDA_ROOT", "CONDA_EXE", "CONDA_PYTHON_EXE")
_WINDOWS = sys.platform == "win32"


def _root_from_executable(path: str, names: tuple[str, ...], dirs: tuple[str, ...]) -> str | None:
    """``<root>`` of ``<root>/<dir>/<name>`` (or ``<root>/<name>`` when ``""`` is among *dirs*)."""
    path = path.rstrip("/\\")
    folder, name = os.path.split(path)
    if _WINDOWS:
        name = name.lower()
    if not folder or not (name in names or any(name.startswith(prefix + ".") for prefix in names if prefix)):
        return None
    if "" in dirs and name.endswith(".exe"):
        return folder
    parent, directory = os.path.split(folder)
    if parent and (directory.lower() if _WINDOWS else directory) in dirs:
        return parent
    return None


class _CondaExec:
    """Set by ``conda exec``: the root conda's own search path expanded (``$CONDA_ROOT``)."""

    root: str | None = None


def use_root_of_conda(root: str) -> None:
    """Under ``conda exec``: read ``$CONDA_ROOT/.condarc`` (and the rest) under *root*, as conda did.

    conda exports ``CONDA_ROOT`` for itself when it starts; ``conda exec`` takes it out of the
    environment (the tool must not inherit it) and hands it here instead, so the base
    condarc counts even without the shell hook's variables.  It also means the channels
    are conda's own (see :func:`ce.config.channels.resolve_channels`).
    """
    _CondaExec.root = root


def root_of_conda() -> str | None:
    """The root :func:`use_root_of_conda` set: not ``None`` only under ``conda exec``."""
    return _CondaExec.root


#: Marks the directory of a conda installation (a base or an environment).
CONDA_META = "conda-meta"


def conda_root(environ: Mapping[str, str]) -> str | None:
    """The conda base installation whose condarc conda reads as ``$CONDA_ROOT/.condarc``.

    Under ``conda exec``: conda's own root (:func:`use_root_of_conda`).  conda sets
    ``CONDA_ROOT`` to its own ``sys.prefix`` when it starts; its
    shell hook exports ``_CONDA_ROOT``, ``CONDA_EXE`` (``<root>/bin/conda``,
    ``<root>/condabin/conda``, ``<root>\\Scripts\\conda.exe``) and
    ``CONDA_PYTHON_EXE`` (``<root>/bin/python``, ``<root>\\python.exe``)
    instead, so standalone ``ce`` finds the base from those, in that order;
    without any of them (absolute-path calls, CI, cron), ``sys.prefix`` when
    ``<sys.prefix>/conda-meta`` exists: ce installed in a conda base reads
    that base's condarc.  String operations and at most one ``stat`` (the warm path).
    """
    if _CondaExec.root is not None:
        return _CondaExec.root
    found = _root_from_variables(environ)
    if found is None and os.path.isdir(os.path.join(sys.prefix, CONDA_META)):
        return sys.prefix
    return found


def _root_from_variables(environ: Mapping[str, str]) -> str | None:
    for variable in ("CONDA_ROOT", "_CONDA_ROOT"):
        value = environ.get(variable)
        if value:
            return value
    exe = environ.get("CONDA_EXE")
    if exe:
        if _WINDOWS:  # pragma: no cover - Windows
            root = _root_from_executable(exe, ("conda.exe", "conda.bat"), ("scripts", "condabin", "bin"))
        else:
            root = _root_from_executable(exe, ("conda",), ("bin", "condabin"))
        if root is not None:
            return root
    python = environ.get("CONDA_PYTHON_EXE")
    if python:
        if _WINDOWS:  # pragma: no cover - Windows
            return _root_from_executable(python, ("python.exe",), ("",))
        return _root_from_executable(python, ("python", "python3"), ("bin",))
    return None


def _expand_entry(entry: str, environ: Mapping[str, str]) -> str | None:
    if "CONDA_ROOT" in entry and "CONDA_ROOT" not in environ:
        root = conda_root(environ)
        if root is not None:
            entry = entry.replace("${CONDA_ROOT}", root).replace("$CONDA_ROOT", root)
    path = expandvars(expand_home(entry, environ), environ)
    if not path or "$" in path:  # a variable that is not set: conda finds nothing there
        return None
    return os.path.normpath(path)


def find_files(environ: Mapping[str, str]) -> list[tuple[str, int, int]]:
    """The condarc files conda would read, in order: ``(path, size, mtime_ns)`` each.

    Raises :class:`ConfigurationError` for a special file (FIFO, device, socket) on the
    search path, which would block or mean nothing, and for a ``$CONDARC`` that names
    nothing ce can read: the user named it, so silently using other settings (and
    conda-forge) instead would be wrong.
    """
    found: dict[str, tuple[str, int, int]] = {}
    for entry in search_path(environ):
        path = _expand_entry(entry, environ)
        if path is None:
            continue
        explicit = entry == "$CONDARC"
        try:
            info = os.stat(path)
        except (OSError, ValueError) as error:
            if explicit:
                reason = error.strerror if isinstance(error, OSError) and error.strerror else "invalid path"
                raise ConfigurationError(f"cannot read condarc {path} (named by CONDARC): {reason}") from None
            continue
        if not stat.S_ISREG(info.st_mode) and not stat.S_ISDIR(info.st_mode):
            _refuse_special(path + (" (named by CONDARC)" if explicit else ""), info.st_mode)
        if stat.S_ISREG(info.st_mode):
            name = os.path.basename(path)
            if (name in CONDARC_NAMES or name.endswith(YAML_SUFFIXES)) and path not in found:
                found[path] = (path, info.st_size, info.st_mtime_ns)
        elif stat.S_ISDIR(info.st_mode):
            try:
                names = sorted(os.listdir(path))
            except OSError:
                continue
            for name in names:
                child = os.path.join(path, name)
                if not name.endswith(YAML_SUFFIXES) or child in found:
                    continue
                try:
                    child_info = os.stat(child)
                except OSError:
                    continue
                if stat.S_ISREG(child_info.st_mode):
                    found[child] = (child, child_info.st_size, child_info.st_mtime_ns)
                elif not stat.S_ISDIR(child_info.st_mode):
                    _refuse_special(child, child_info.st_mode)
    return list(found.values())


def _refuse_special(path: str, mode: int) -> None:
    raise ConfigurationError(f"condarc {path} is {file_kind(mode)}, not a regular file: replace or remove it")


def variables_in(text: str) -> set[str]:
    """The names of the variables ``$NAME`` or ``${NAME}`` in *text* refers to (what :func:`expandvars` reads)."""
    names: set[str] = set()
    index = text.find("$")
    while index != -1:
        start = index + 2 if text.startswith("{", index + 1) else index + 1
        end = start
        while end < len(text) and text[end] in NAME_CHARS:
            end += 1
        if end > start:
            names.add(text[start:end])
        index = text.find("$", index + 1)
    return names


def watched_paths(environ: Mapping[str, str]) -> tuple[list[str], set[str]]:
    """Every path whose change can change the configuration, and the variables that placed them.

    The paths are each search-path entry as expanded here (existing or not: a condarc
    file created later must be noticed), ``<sys.prefix>/conda-meta`` when no conda root
    was found (it would make ``sys.prefix`` the root), then every condarc file found (the
    files of a ``condarc.d`` directory too).  The variables are those the search path refers to.
    Used to record a tool run in the tool index (:mod:`ce.fastpath`).
    """
    paths: list[str] = []
    variables: set[str] = set()
    for entry in search_path(environ):
        variables |= variables_in(entry)
        path = _expand_entry(entry, environ)
        if path is not None:
            paths.append(path)
    meta = os.path.join(sys.prefix, CONDA_META)
    if any("CONDA_ROOT" in entry for entry in search_path(environ)) and conda_root(environ) is None:
        paths.append(meta)  # not a conda base now: a conda-meta created later makes sys.prefix the root
    paths.extend(path for path, _, _ in find_files(environ))
    return list(dict.fromkeys(paths)), variables


# --- the settings cache (warm path: one small text file) ----------------------------------------


def _cache_key(files: list[tuple[str, int, int]], environ: Mapping[str, str]) -> str:
    variables = [f"{name}={environ[name]}" if name in environ else name for name in ENV_VARIABLES]
    stats = [field for path, size, mtime_ns in files for field in (path, str(size), str(mtime_ns))]
    parts = {"home": [home_of(environ)], "root": [conda_root(environ) or ""], "files": stats, "variables": variables}
    return env_name_from_parts(CACHE_FORMAT, parts)


def cache_path(environ: Mapping[str, str], key: str) -> str:
    """Where the merged settings for *key* are cached."""
    return os.path.join(cache_home(environ), CACHE_DIR, key.rsplit("--", 1)[-1])


#: Settings already loaded by this process, by cache key.
_loaded: dict[str, CondaSettings] = {}
#: Settings caches to write once the run succeeds, by path.
_pending: dict[str, str] = {}


def load(environ: Mapping[str, str]) -> CondaSettings:
    """The merged settings of every condarc file and ``CONDA_*`` variable.

    Raises :class:`ConfigurationError` for a condarc that cannot be used.
    """
    files = find_files(environ)
    if not files and not any(variable in environ for variable in ENV_VARIABLES):
        return CondaSettings()
    key = _cache_key(files, environ)
    if key in _loaded:
        return _loaded[key]
    path = cache_path(environ, key)
    data = read_regular(path, MAX_CACHE_BYTES)  # a FIFO or a huge file there is no cache
    try:
        settings = parse_settings(data.decode("utf-8"), key) if data and len(data) <= MAX_CACHE_BYTES else None
    except UnicodeDecodeError:
        settings = None
    if settings is None:
        from ce.config.merge import settle

        settings, text = settle(files, environ, key)
        if text is None:
            return settings
        _pending[path] = text
    _loaded[key] = settings
    return settings


def save_pending() -> None:
    """Write the settings cache for what this run merged.

    Called just before the tool starts: a run that fails writes nothing.
    """
    if _pending:
        for path, text in _pending.items():
            _write_cache(path, text)
        _pending.clear()


def _write_cache(path: str, text: str) -> None:
    """Write one settings cache file, keeping the newest :data:`KEEP_CACHED` files (best effort)."""
    if not try_write_atomically(path, text):  # never through a linked directory
        return
    try:
        with os.scandir(os.path.dirname(path)) as scan:
            mine = [entry for entry in scan if _is_cache_name(entry.name) and entry.is_file(follow_symlinks=False)]
        mine.sort(key=lambda entry: entry.stat(follow_symlinks=False).st_mtime, reverse=True)
        for entry in mine[KEEP_CACHED:]:
            os.unlink(entry.path)
    except OSError:
        pass


def _is_cache_name(name: str) -> bool:
    """Whether *name* is a settings cache file's name (the hash part of a key); nothing else is pruned."""
    return len(name) == KEY_HASH_LENGTH and all(char in "0123456789abcdef" for char in name)


# --- what the settings mean -----------------------------------------------------------------------


def expand_defaults(channels: list[str], settings: CondaSettings) -> list[str]:
    """*channels* with ``defaults`` replaced by the default channels, as conda expands it."""
    expanded: list[str] = []
    for channel in channels:
        if channel.strip() == DEFAULTS_NAME:
            defaults = settings.default_channels
            if defaults is None:
                from ce.config.merge import conda_builtin_default_channels

                defaults = conda_builtin_default_channels()
            expanded.extend(defaults)
        else:
            expanded.append(channel)
    return expanded


def check_override_allowed(settings: CondaSettings) -> None:
    """Refuse ``--override-channels`` when ``override_channels_enabled`` is false."""
    if not settings.override_channels_enabled:
        source = settings.sources.get("override_channels_enabled", "the configuration")
        raise ConfigurationError(f"--override-channels is disabled (override_channels_enabled: false in {source})")


def package_cache(environ: Mapping[str, str]) -> str:
    """Where packages are downloaded and extracted.

    ``$RATTLER_CACHE_DIR/pkgs`` when that is set; else the first writable
    ``pkgs_dirs`` entry of the conda configuration (so ce shares conda's
    package cache when one is configured); else rattler's ``<root>/pkgs``.
    """
    if not environ.get("RATTLER_CACHE_DIR"):
        from ce.config.merge import package_cache_dir

        configured = package_cache_dir(load(environ))
        if configured is not None:
            return configured
    return os.path.join(rattler_cache_root(environ), "pkgs")
