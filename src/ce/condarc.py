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
``default_channels``, ``override_channels_enabled`` and ``pkgs_dirs``.

This module is on the warm path: with no condarc it costs a few ``stat``
calls.  When condarc files exist, the merged settings are cached in one small
text file under the ce cache home, named by a key over every file's (path,
size, mtime_ns) and the variables involved, so a warm run reads that file instead
of importing a YAML parser (``CONDA_*`` variables alone are cached the same
way).  Only ``os``, ``stat`` and ``sys`` are imported here; reading and
merging the files (PyYAML) is :mod:`ce.condarc_merge`, imported only on a
change.
"""

from __future__ import annotations

import os
import stat
import sys

from ce.errors import ConfigurationError

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
DEFAULT_CHANNEL_ALIAS = "https://conda.anaconda.org"
DEFAULTS_NAME = "defaults"
#: Directory (under the ce cache home) of cached settings, one small file per key.
CACHE_DIR = "condarc-settings"
CACHE_FORMAT = "ce-condarc-settings:1"

#: The environment variables conda honours for these keys (sequences are comma-separated).
ENV_VARIABLES = {
    "CONDA_CHANNELS": "channels",
    "CONDA_CHANNEL_ALIAS": "channel_alias",
    "CONDA_DEFAULT_CHANNELS": "default_channels",
    "CONDA_OVERRIDE_CHANNELS_ENABLED": "override_channels_enabled",
    "CONDA_PKGS_DIRS": "pkgs_dirs",
}
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


class CondaSettings:
    """The merged channel settings.

    ``channels`` are as configured (names, URLs, ``defaults``), empty when no
    source sets them; ``default_channels`` is ``None`` when not configured
    (``defaults`` then means conda's built-in list); ``pkgs_dirs`` are
    absolute, empty when not configured.  ``sources`` names where each key's
    value came from, for messages.
    """

    __slots__ = (
        "channel_alias",
        "channels",
        "custom_channels",
        "default_channels",
        "override_channels_enabled",
        "pkgs_dirs",
        "sources",
    )

    def __init__(
        self,
        channels: tuple[str, ...] = (),
        channel_alias: str = DEFAULT_CHANNEL_ALIAS,
        custom_channels: dict[str, str] | None = None,
        default_channels: tuple[str, ...] | None = None,
        override_channels_enabled: bool = True,
        pkgs_dirs: tuple[str, ...] = (),
        sources: dict[str, str] | None = None,
    ) -> None:
        self.channels = channels
        self.channel_alias = channel_alias
        self.custom_channels = custom_channels or {}
        self.default_channels = default_channels
        self.override_channels_enabled = override_channels_enabled
        self.pkgs_dirs = pkgs_dirs
        self.sources = sources or {}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CondaSettings):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__ if name != "sources")
        return f"CondaSettings({fields})"


# --- finding the files (warm path: stat calls only) -------------------------------------------


def _home(environ: Mapping[str, str]) -> str:
    return environ.get("HOME") or os.path.expanduser("~")


def expandvars(text: str, environ: Mapping[str, str]) -> str:
    """``$NAME`` and ``${NAME}`` replaced from *environ*; unknown names are left as they are."""
    if "$" not in text:
        return text
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "$":
            out.append(char)
            index += 1
            continue
        braced = text.startswith("{", index + 1)
        start = index + 2 if braced else index + 1
        end = start
        while end < len(text) and text[end] in _NAME_CHARS:
            end += 1
        name = text[start:end]
        if not name or (braced and not text.startswith("}", end)):
            out.append(char)
            index += 1
            continue
        stop = end + 1 if braced else end
        out.append(environ[name] if name in environ else text[index:stop])
        index = stop
    return "".join(out)


def search_path(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The search path in effect: :data:`SEARCH_PATH`, unless a variable replaces or restricts it."""
    override = environ.get(SEARCH_PATH_VARIABLE)
    if override is not None:
        return tuple(entry for entry in override.split(os.pathsep) if entry)
    if RESTRICT_VARIABLE in environ:
        return ("$CONDARC",)
    return SEARCH_PATH


def expand_home(path: str, environ: Mapping[str, str]) -> str:
    """*path* with a leading ``~`` replaced by the home directory of *environ*."""
    return _home(environ) + path[1:] if path == "~" or path.startswith(("~/", "~" + os.sep)) else path


def _expand_entry(entry: str, environ: Mapping[str, str]) -> str | None:
    path = expandvars(expand_home(entry, environ), environ)
    if not path or "$" in path:  # a variable that is not set: conda finds nothing there
        return None
    return os.path.normpath(path)


def find_files(environ: Mapping[str, str]) -> list[tuple[str, int, int]]:
    """The condarc files conda would read, in order: ``(path, size, mtime_ns)`` each."""
    found: dict[str, tuple[str, int, int]] = {}
    for entry in search_path(environ):
        path = _expand_entry(entry, environ)
        if path is None:
            continue
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            continue
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
    return list(found.values())


# --- the settings cache (warm path: one small text file) ----------------------------------------


def _cache_key(files: list[tuple[str, int, int]], environ: Mapping[str, str]) -> str:
    from ce.keys import env_name_from_parts

    variables = [f"{name}={environ[name]}" if name in environ else name for name in ENV_VARIABLES]
    stats = [field for path, size, mtime_ns in files for field in (path, str(size), str(mtime_ns))]
    return env_name_from_parts(CACHE_FORMAT, {"home": [_home(environ)], "files": stats, "variables": variables})


def cache_path(environ: Mapping[str, str], key: str) -> str:
    """Where the merged settings for *key* are cached."""
    from ce.paths import cache_home

    return os.path.join(cache_home(environ), CACHE_DIR, key.rsplit("--", 1)[-1])


def _load_cached(text: str, key: str) -> CondaSettings | None:
    lines = text.split("\n")
    if lines[0] != f"{CACHE_FORMAT}\t{key}":
        return None
    fields = {parts[0]: parts[1:] for parts in (line.split("\t") for line in lines[1:] if line)}
    try:
        custom = fields["custom_channels"]
        sources = fields["sources"]
        return CondaSettings(
            channels=tuple(fields["channels"]),
            channel_alias=fields["channel_alias"][0],
            custom_channels=dict(zip(custom[::2], custom[1::2], strict=False)),
            default_channels=tuple(fields["default_channels"]) if "default_channels" in fields else None,
            override_channels_enabled=fields["override_channels_enabled"] == ["1"],
            pkgs_dirs=tuple(fields["pkgs_dirs"]),
            sources=dict(zip(sources[::2], sources[1::2], strict=False)),
        )
    except (KeyError, IndexError):
        return None


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
    try:
        with open(path, encoding="utf-8") as handle:
            settings = _load_cached(handle.read(), key)
    except (OSError, UnicodeDecodeError):
        settings = None
    if settings is None:
        from ce.condarc_merge import settle

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
        from ce.condarc_merge import write_cache

        for path, text in _pending.items():
            write_cache(path, text)
        _pending.clear()


# --- what the settings mean -----------------------------------------------------------------------


def expand_defaults(channels: list[str], settings: CondaSettings) -> list[str]:
    """*channels* with ``defaults`` replaced by the default channels, as conda expands it."""
    expanded: list[str] = []
    for channel in channels:
        if channel.strip() == DEFAULTS_NAME:
            defaults = settings.default_channels
            if defaults is None:
                from ce.condarc_merge import conda_builtin_default_channels

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
