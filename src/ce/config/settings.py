"""conda's channel settings as ce uses them, and their one-line-per-key cache text.

Shared by :mod:`ce.config.condarc` (finding files, the settings cache) and
:mod:`ce.config.merge` (reading and merging them), which never import each
other's internals.  On the warm path: no imports beyond ``os`` and ``stat``.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_CHANNEL_ALIAS = "https://conda.anaconda.org"
DEFAULTS_NAME = "defaults"
CACHE_FORMAT = "ce-condarc-settings:2"

#: The environment variables conda honours for these keys (sequences are comma-separated).
ENV_VARIABLES = {
    "CONDA_CHANNELS": "channels",
    "CONDA_CHANNEL_ALIAS": "channel_alias",
    "CONDA_DEFAULT_CHANNELS": "default_channels",
    "CONDA_OVERRIDE_CHANNELS_ENABLED": "override_channels_enabled",
    "CONDA_PKGS_DIRS": "pkgs_dirs",
    "CONDA_REMOTE_CONNECT_TIMEOUT_SECS": "remote_connect_timeout_secs",
    "CONDA_REMOTE_READ_TIMEOUT_SECS": "remote_read_timeout_secs",
    "CONDA_REMOTE_MAX_RETRIES": "remote_max_retries",
    "CONDA_REMOTE_BACKOFF_FACTOR": "remote_backoff_factor",
    "CONDA_SSL_VERIFY": "ssl_verify",
}
#: conda's defaults for the network keys.
DEFAULT_CONNECT_TIMEOUT = 9.15
DEFAULT_READ_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 3
DEFAULT_BACKOFF_FACTOR = 1.0
#: Characters of a variable name in ``$NAME``.
NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


class CondaSettings:
    """The merged channel settings.

    ``channels`` are as configured (names, URLs, ``defaults``), empty when no
    source sets them; ``default_channels`` is ``None`` when not configured
    (``defaults`` then means conda's built-in list); ``pkgs_dirs`` are
    absolute, empty when not configured.  ``sources`` names where each key's
    value came from, for messages.

    The network keys are conda's: ``remote_connect_timeout_secs``,
    ``remote_read_timeout_secs``, ``remote_max_retries``,
    ``remote_backoff_factor``, ``proxy_servers`` (scheme or
    ``scheme://host`` to proxy URL) and ``ssl_verify`` (``"true"``,
    ``"false"`` or the path of a CA bundle).
    """

    __slots__ = (
        "channel_alias",
        "channels",
        "custom_channels",
        "default_channels",
        "override_channels_enabled",
        "pkgs_dirs",
        "proxy_servers",
        "remote_backoff_factor",
        "remote_connect_timeout_secs",
        "remote_max_retries",
        "remote_read_timeout_secs",
        "sources",
        "ssl_verify",
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
        remote_connect_timeout_secs: float = DEFAULT_CONNECT_TIMEOUT,
        remote_read_timeout_secs: float = DEFAULT_READ_TIMEOUT,
        remote_max_retries: int = DEFAULT_MAX_RETRIES,
        remote_backoff_factor: float = DEFAULT_BACKOFF_FACTOR,
        proxy_servers: dict[str, str] | None = None,
        ssl_verify: str = "true",
    ) -> None:
        self.channels = channels
        self.channel_alias = channel_alias
        self.custom_channels = custom_channels or {}
        self.default_channels = default_channels
        self.override_channels_enabled = override_channels_enabled
        self.pkgs_dirs = pkgs_dirs
        self.sources = sources or {}
        self.remote_connect_timeout_secs = remote_connect_timeout_secs
        self.remote_read_timeout_secs = remote_read_timeout_secs
        self.remote_max_retries = remote_max_retries
        self.remote_backoff_factor = remote_backoff_factor
        self.proxy_servers = proxy_servers or {}
        self.ssl_verify = ssl_verify

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CondaSettings):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__ if name != "sources")
        return f"CondaSettings({fields})"


def file_kind(mode: int) -> str:
    """What a file of *mode* is, for a message: ``"a FIFO"``, ``"a directory"``, ``"a regular file"``..."""
    for test, kind in (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "a special file"


def home_of(environ: Mapping[str, str]) -> str:
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
        while end < len(text) and text[end] in NAME_CHARS:
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


def expand_home(path: str, environ: Mapping[str, str]) -> str:
    """*path* with a leading ``~`` replaced by the home directory of *environ*."""
    return home_of(environ) + path[1:] if path == "~" or path.startswith(("~/", "~" + os.sep)) else path


# --- the settings cache text --------------------------------------------------------------------


def dump_settings(settings: CondaSettings, key: str) -> str | None:
    """The cache text of *settings* under *key*; ``None`` when a value holds a tab or newline."""
    lines = [f"{CACHE_FORMAT}\t{key}"]
    separators = False

    def add(name: str, values: list[str]) -> None:
        nonlocal separators
        separators = separators or any("\t" in value or "\n" in value for value in values)
        lines.append("\t".join([name, *values]))

    add("channels", list(settings.channels))
    add("channel_alias", [settings.channel_alias])
    add("custom_channels", [part for item in sorted(settings.custom_channels.items()) for part in item])
    if settings.default_channels is not None:
        add("default_channels", list(settings.default_channels))
    add("override_channels_enabled", ["1" if settings.override_channels_enabled else "0"])
    add("pkgs_dirs", list(settings.pkgs_dirs))
    add("sources", [part for item in sorted(settings.sources.items()) for part in item])
    add("remote_connect_timeout_secs", [repr(settings.remote_connect_timeout_secs)])
    add("remote_read_timeout_secs", [repr(settings.remote_read_timeout_secs)])
    add("remote_max_retries", [str(settings.remote_max_retries)])
    add("remote_backoff_factor", [repr(settings.remote_backoff_factor)])
    add("proxy_servers", [part for item in sorted(settings.proxy_servers.items()) for part in item])
    add("ssl_verify", [settings.ssl_verify])
    return None if separators else "\n".join(lines) + "\n"  # a value with a tab or newline is not cached


def parse_settings(text: str, key: str) -> CondaSettings | None:
    """Settings from cache text written under *key*, or ``None`` when it does not match."""
    lines = text.split("\n")
    if lines[0] != f"{CACHE_FORMAT}\t{key}":
        return None
    fields = {parts[0]: parts[1:] for parts in (line.split("\t") for line in lines[1:] if line)}
    try:
        custom = fields["custom_channels"]
        sources = fields["sources"]
        proxies = fields["proxy_servers"]
        return CondaSettings(
            channels=tuple(fields["channels"]),
            channel_alias=fields["channel_alias"][0],
            custom_channels=dict(zip(custom[::2], custom[1::2], strict=False)),
            default_channels=tuple(fields["default_channels"]) if "default_channels" in fields else None,
            override_channels_enabled=fields["override_channels_enabled"] == ["1"],
            pkgs_dirs=tuple(fields["pkgs_dirs"]),
            sources=dict(zip(sources[::2], sources[1::2], strict=False)),
            remote_connect_timeout_secs=float(fields["remote_connect_timeout_secs"][0]),
            remote_read_timeout_secs=float(fields["remote_read_timeout_secs"][0]),
            remote_max_retries=int(fields["remote_max_retries"][0]),
            remote_backoff_factor=float(fields["remote_backoff_factor"][0]),
            proxy_servers=dict(zip(proxies[::2], proxies[1::2], strict=False)),
            ssl_verify=fields["ssl_verify"][0],
        )
    except (KeyError, IndexError, ValueError):
        return None
