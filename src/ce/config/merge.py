"""Reading condarc files and merging them the way conda does (the slow path of :mod:`ce.condarc`).

Imported only when the cached settings do not match the condarc files and
``CONDA_*`` variables in effect: it parses YAML (PyYAML), merges the sources
(lists merge, the most specific source first; maps merge key by key; single
values clobber; a key marked ``#!final`` stops every later source), writes
the settings cache, and answers the questions that need more than the
settings (conda's built-in ``defaults``, the package cache directory).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping

from ce.base import read_regular
from ce.config.settings import (
    ENV_VARIABLES,
    CondaSettings,
    dump_settings,
    expand_home,
    expandvars,
    file_kind,
)
from ce.errors import ConfigurationError

#: A condarc file larger than this is refused.
MAX_CONDARC_BYTES = 4 * 1024 * 1024
_SEQUENCE_KEYS = ("channels", "default_channels", "pkgs_dirs")
_PRIMITIVE_KEYS = (
    "channel_alias",
    "override_channels_enabled",
    "remote_connect_timeout_secs",
    "remote_read_timeout_secs",
    "remote_max_retries",
    "remote_backoff_factor",
    "ssl_verify",
)
_MAP_KEYS = ("custom_channels", "proxy_servers")
_TRUE = frozenset({"true", "yes", "on", "1", "y"})
_FALSE = frozenset({"false", "no", "off", "0", "n"})


class _Layer:
    """One source: a condarc file or the environment variables."""

    __slots__ = ("data", "finals", "source")

    def __init__(self, source: str, data: dict[str, object], finals: frozenset[str] = frozenset()) -> None:
        self.source = source
        self.data = data
        self.finals = finals


def _env_layer(environ: Mapping[str, str]) -> _Layer | None:
    data: dict[str, object] = {}
    finals: set[str] = set()
    for variable, key in ENV_VARIABLES.items():
        raw = environ.get(variable)
        if raw is None:
            continue
        if key in _SEQUENCE_KEYS:
            data[key] = [part.strip() for part in raw.split(",") if part.strip()]
            continue
        value, important, _rest = raw.partition("!important")
        data[key] = value.strip()
        if important:
            finals.add(key)
    return _Layer("environment variables", data, frozenset(finals)) if data else None


def _relevant(layers: list[_Layer], key: str) -> list[_Layer]:
    """The layers that set *key*, up to and including the first that marks it final."""
    relevant = []
    for layer in layers:
        if key in layer.data:
            relevant.append(layer)
            if key in layer.finals:
                break
    return relevant


def _strings(value: object, key: str, source: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigurationError(f"{key} in {source} must be a list of strings")
    return [item.strip() for item in value if item.strip()]


def _string(value: object, key: str, source: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{key} in {source} must be a non-empty string")
    return value.strip()


def _boolean(value: object, key: str, source: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigurationError(f"{key} in {source} must be true or false, not {value!r}")


def _number(value: object, key: str, source: str, *, integer: bool = False) -> float:
    """A non-negative number (an integer when *integer*) from a condarc value."""
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        number = int(str(value).strip()) if integer else float(str(value).strip())
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise ConfigurationError(f"{key} in {source} must be {kind}, not {value!r}") from None
    if not number >= 0:  # negative or NaN
        raise ConfigurationError(f"{key} in {source} must not be negative")
    return number


def _ssl_verify(value: object, environ: Mapping[str, str]) -> str:
    """``ssl_verify`` as text: ``"true"``, ``"false"`` or a CA bundle path."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    if text.lower() in _TRUE:
        return "true"
    if text.lower() in _FALSE:
        return "false"
    return os.path.abspath(expand_home(expandvars(text, environ), environ))


def _channel_alias(value: str, source: str) -> str:
    if "://" not in value:
        raise ConfigurationError(f"channel_alias in {source} must be a URL (for example https://example.org)")
    return value.rstrip("/")


def merge(layers: list[_Layer], environ: Mapping[str, str]) -> CondaSettings:
    """Merge *layers* (lowest precedence first) the way conda merges its sources."""
    settings = CondaSettings()
    sources: dict[str, str] = {}
    for key in _SEQUENCE_KEYS:
        relevant = _relevant(layers, key)
        if not relevant:
            continue
        merged: dict[str, None] = {}
        for layer in reversed(relevant):  # the most specific source first
            for item in _strings(layer.data[key], key, layer.source):
                merged.setdefault(expandvars(item, environ))
        values = tuple(merged)
        sources[key] = relevant[-1].source
        if key == "channels":
            settings.channels = values
        elif key == "default_channels":
            settings.default_channels = values
        else:
            settings.pkgs_dirs = tuple(os.path.abspath(expand_home(value, environ)) for value in values)
    for key in _PRIMITIVE_KEYS:
        relevant = _relevant(layers, key)
        if not relevant:
            continue
        layer = relevant[-1]
        sources[key] = layer.source
        if key == "channel_alias":
            settings.channel_alias = _channel_alias(
                expandvars(_string(layer.data[key], key, layer.source), environ), layer.source
            )
        elif key == "override_channels_enabled":
            settings.override_channels_enabled = _boolean(layer.data[key], key, layer.source)
        elif key == "remote_connect_timeout_secs":
            settings.remote_connect_timeout_secs = _number(layer.data[key], key, layer.source)
        elif key == "remote_read_timeout_secs":
            settings.remote_read_timeout_secs = _number(layer.data[key], key, layer.source)
        elif key == "remote_max_retries":
            settings.remote_max_retries = int(_number(layer.data[key], key, layer.source, integer=True))
        elif key == "remote_backoff_factor":
            settings.remote_backoff_factor = _number(layer.data[key], key, layer.source)
        else:
            settings.ssl_verify = _ssl_verify(layer.data[key], environ)
    for layer in _relevant(layers, "proxy_servers"):
        value = layer.data["proxy_servers"]
        if value is None:
            continue
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ConfigurationError(f"proxy_servers in {layer.source} must map schemes to proxy URLs")
        for scheme, url in value.items():
            settings.proxy_servers[scheme.strip()] = expandvars(url.strip(), environ)
        sources["proxy_servers"] = layer.source
    for layer in _relevant(layers, "custom_channels"):
        value = layer.data["custom_channels"]
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ConfigurationError(f"custom_channels in {layer.source} must map channel names to URLs")
        for name, url in value.items():
            settings.custom_channels[name.strip().strip("/")] = _channel_alias(expandvars(url, environ), layer.source)
        sources["custom_channels"] = layer.source
    settings.sources = sources
    return settings


def _final_keys(text: str) -> frozenset[str]:
    """Top-level keys marked ``#!final`` (conda's key flag) in condarc *text*."""
    finals = set()
    for line in text.splitlines():
        if not line or line[0] in " \t#-" or ":" not in line or "#" not in line:
            continue
        key, _colon, rest = line.partition(":")
        comment = rest[rest.rfind("#") :].strip().strip("!#").strip()
        if comment == "final":
            finals.add(key.strip().strip("'\""))
    return frozenset(finals)


def _unreadable(path: str) -> str:
    """Why :func:`ce.base.read_regular` could not read *path*."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        return error.strerror or "it cannot be read"
    if not stat.S_ISREG(mode):
        return f"it is {file_kind(mode)}, not a regular file"
    return "it cannot be read" if os.access(path, os.R_OK) else "permission denied"


def read_file(path: str) -> _Layer:
    """One condarc file as a layer (bounded PyYAML, imported here only)."""
    from ce.config import bounded_yaml

    # never a blocking open: the file found regular a moment ago may have been replaced by a FIFO
    raw = read_regular(path, MAX_CONDARC_BYTES)
    if raw is None:
        raise ConfigurationError(f"cannot read condarc {path}: {_unreadable(path)}")
    if len(raw) > MAX_CONDARC_BYTES:
        raise ConfigurationError(
            f"condarc {path} refused: larger than {MAX_CONDARC_BYTES} bytes; fix or remove the file"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigurationError(f"cannot read condarc {path}: not UTF-8 text ({error.reason})") from None
    try:
        data = bounded_yaml.load(text, MAX_CONDARC_BYTES)
    except bounded_yaml.YamlLimitError as error:
        where = bounded_yaml.where(error)
        raise ConfigurationError(f"condarc {path} refused{where}: {error.message}; fix or remove the file") from None
    except bounded_yaml.YAMLError as error:
        where = bounded_yaml.where(error)
        raise ConfigurationError(f"invalid YAML in condarc {path}{where}; fix or remove the file") from error
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigurationError(f"condarc {path} must be a mapping of settings")
    return _Layer(path, data, _final_keys(text))


def _uses_variables(layers: list[_Layer]) -> bool:
    """Whether a value refers to an environment variable (then it cannot be cached)."""

    def has_variable(value: object) -> bool:
        if isinstance(value, str):
            return "$" in value
        if isinstance(value, list):
            return any(has_variable(item) for item in value)
        if isinstance(value, dict):
            return any(has_variable(item) for item in value.values())
        return False

    keys = (*_SEQUENCE_KEYS, *_PRIMITIVE_KEYS, *_MAP_KEYS)
    return any(has_variable(layer.data.get(key)) for layer in layers for key in keys)


#: conda's built-in ``defaults`` (``conda.base.constants.DEFAULT_CHANNELS_UNIX`` / ``_WIN``),
#: used when conda itself cannot be imported.
BUILTIN_DEFAULT_CHANNELS_UNIX = ("https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r")
BUILTIN_DEFAULT_CHANNELS_WIN = (*BUILTIN_DEFAULT_CHANNELS_UNIX, "https://repo.anaconda.com/pkgs/msys2")


def conda_builtin_default_channels() -> tuple[str, ...]:
    """conda's built-in ``defaults`` list for this platform: from conda when importable, else the same list."""
    try:
        from conda.base.constants import DEFAULT_CHANNELS  # type: ignore[import-not-found,unused-ignore]
    except Exception:
        return BUILTIN_DEFAULT_CHANNELS_WIN if sys.platform == "win32" else BUILTIN_DEFAULT_CHANNELS_UNIX
    return tuple(str(channel) for channel in DEFAULT_CHANNELS)


def _writable_dir(path: str) -> bool:
    probe = path
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            return False
        probe = parent
    return os.path.isdir(probe) and os.access(probe, os.W_OK | os.X_OK)


def package_cache_dir(settings: CondaSettings) -> str | None:
    """The first writable ``pkgs_dirs`` entry (conda's rule for where to download), or ``None``."""
    for path in settings.pkgs_dirs:
        if _writable_dir(path):
            return path
    return None


def settle(files: list[tuple[str, int, int]], environ: Mapping[str, str], key: str) -> tuple[CondaSettings, str | None]:
    """Read and merge *files* and the variables.

    Returns the settings and the text to cache them under *key*, or ``None``
    when they cannot be cached (values that refer to environment variables).
    """
    layers = [read_file(path) for path, _size, _mtime in files]
    env_layer = _env_layer(environ)
    if env_layer is not None:
        layers.append(env_layer)
    settings = merge(layers, environ)
    text = dump_settings(settings, key)
    return settings, (None if _uses_variables(layers) else text)
