"""Normalizing specs and channels, and the cache keys built from them.

Both the warm path and the full command line resolve a tool request through
:func:`resolve_tool_request`, so the two can never disagree about which
environment a command line means.  Only ``os`` and a builtin SHA-256 are
imported: no ``re``, ``json`` or ``hashlib`` (each costs milliseconds here).
"""

from __future__ import annotations

import os
import sys

# The builtin module is far cheaper to import than hashlib.  Name it exactly:
# a failed import scans every sys.path entry (over a millisecond here).
try:
    if sys.version_info >= (3, 12):
        from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]
    else:
        from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
except ImportError:  # pragma: no cover - interpreters built without it
    from hashlib import sha256  # type: ignore[assignment,unused-ignore]

from ce import condarc
from ce.condarc import DEFAULT_CHANNEL_ALIAS
from ce.errors import InvalidNameError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

#: The channels used when no condarc or ``$CONDA_CHANNELS`` configures any.
DEFAULT_CHANNELS = ("conda-forge",)
KEY_HASH_LENGTH = 16
MAX_NAME_LENGTH = 128
#: Version of the key recipe; bump it whenever the recipe changes.
KEY_RECIPE = "ce-env-key:1"

_OPERATOR_CHARS = frozenset("<>=!~,|")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")
_SPEC_STOP_CHARS = frozenset(" <>=!~[;,*@(")


class ToolRequest:
    """What a tool-mode command line asks for, normalized.

    ``env_name`` is the cache directory name ``<package>--<hash16>``.
    """

    __slots__ = ("channels", "command", "env_name", "package", "platform", "specs")

    def __init__(
        self, command: str, package: str, specs: tuple[str, ...], channels: tuple[str, ...], platform: str
    ) -> None:
        self.command = command
        self.package = package
        self.specs = specs
        self.channels = channels
        self.platform = platform
        self.env_name = env_name(package, specs, channels, platform)

    def __repr__(self) -> str:
        return f"ToolRequest({self.command!r}, specs={self.specs!r}, channels={self.channels!r})"


def _check_text(kind: str, text: str) -> None:
    if not text or not text.strip():
        raise UsageError(f"empty {kind}")
    if "\0" in text or "\n" in text or "\r" in text:
        raise UsageError(f"invalid {kind} {text!r}: control characters are not allowed")
    if len(text) > 1000:
        raise UsageError(f"invalid {kind}: longer than 1000 characters")


def normalize_spec(spec: str) -> str:
    """Canonical text of a MatchSpec for hashing: single spaces, none around operators.

    ``"ruff >= 0.4 , <0.5"`` and ``"ruff>=0.4,<0.5"`` normalize alike;
    ``"ruff 0.4.*"`` keeps its meaningful space.
    """
    _check_text("package spec", spec)
    text = " ".join(spec.split())
    out: list[str] = []
    for index, char in enumerate(text):
        if char == " " and (
            (out and out[-1] in _OPERATOR_CHARS) or (index + 1 < len(text) and text[index + 1] in _OPERATOR_CHARS)
        ):
            continue
        out.append(char)
    return "".join(out)


def spec_package_name(spec: str) -> str:
    """The package name a MatchSpec asks for, validated (``conda-forge::ruff>=1`` -> ``ruff``)."""
    text = spec.strip()
    if "::" in text:
        text = text.rsplit("::", 1)[1]
    end = 0
    while end < len(text) and text[end] not in _SPEC_STOP_CHARS:
        end += 1
    name = text[:end].lower()
    if not name or len(name) > MAX_NAME_LENGTH or name[0] in "-." or not set(name) <= _NAME_CHARS:
        raise InvalidNameError(
            f"invalid package name in {spec!r}: use letters, digits, '-', '_' and '.' (for example 'ruff>=0.4')"
        )
    return name


def validate_command(command: str) -> str:
    """Return *command* if it can only name a file inside an environment's bin dirs."""
    _check_text("tool name", command)
    if "/" in command or "\\" in command or command in (".", "..") or command.startswith("-"):
        raise InvalidNameError(f"invalid tool name {command!r}: not an existing script, and not a command name")
    if len(command) > 255:
        raise InvalidNameError("invalid tool name: longer than 255 characters")
    return command


def tool_argument_spec(tool: str) -> tuple[str, str]:
    """Split the TOOL argument into (command, package spec).

    ``ruff`` -> (``ruff``, ``ruff``); ``"ruff>=0.4"`` -> (``ruff``, ``ruff>=0.4``);
    ``ruff@0.4.1`` (uvx style) -> (``ruff``, ``ruff==0.4.1``).
    """
    validate_command(tool)
    spec = tool
    if "@" in tool:
        name, _, version = tool.partition("@")
        if not version or any(char in version for char in " <>=!~,"):
            raise InvalidNameError(f"invalid tool spec {tool!r}: use NAME@VERSION or a MatchSpec")
        spec = f"{name}=={version}"
    command = spec_package_name(spec)
    return command, normalize_spec(spec)


def is_local_channel(channel: str) -> bool:
    """Whether *channel* names a directory rather than a channel name or URL."""
    if "://" in channel:
        return False
    return channel.startswith(("/", ".", "~")) or os.path.isabs(channel) or os.path.isdir(channel)


def normalize_channel(
    channel: str, channel_alias: str = DEFAULT_CHANNEL_ALIAS, custom_channels: Mapping[str, str] | None = None
) -> str:
    """A channel as the URL it stands for, without a trailing slash.

    Names map under a matching ``custom_channels`` entry (the longest
    ``a/b`` prefix of the name, as conda matches them), else under the
    channel alias; local directories map to absolute ``file://`` URLs; URLs
    are kept.
    """
    _check_text("channel", channel)
    text = channel.strip()
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in ("http", "https", "file", "s3", "gcs", "oci"):
            raise UsageError(f"invalid channel {channel!r}: unsupported URL scheme {scheme!r}")
        return text.rstrip("/")
    if is_local_channel(text):
        path = os.path.abspath(os.path.expanduser(text))
        if os.sep != "/":  # pragma: no cover - Windows
            path = "/" + path.replace(os.sep, "/")
        return "file://" + path.rstrip("/")
    if " " in text or "::" in text:
        raise UsageError(f"invalid channel name {channel!r}")
    name = text.strip("/")
    if custom_channels:
        candidate = name
        while candidate not in custom_channels and "/" in candidate:
            candidate = candidate.rsplit("/", 1)[0]
        if candidate in custom_channels:
            return custom_channels[candidate].rstrip("/") + "/" + name
    return channel_alias.rstrip("/") + "/" + name


def sha256_hex(*chunks: bytes) -> str:
    """Hex SHA-256 of the concatenated *chunks* (with the cheap builtin module)."""
    digest = sha256()
    for chunk in chunks:
        digest.update(chunk)
    return str(digest.hexdigest())


def env_name(package: str, specs: tuple[str, ...], channels: tuple[str, ...], platform: str) -> str:
    """``<package>--<hash16>``: the hash covers every input that shapes the environment.

    Specs are sorted (their order does not matter); channels keep their order,
    because it sets their priority.
    """
    text = "\0".join((KEY_RECIPE, "specs", *sorted(set(specs)), "channels", *channels, "platform", platform))
    digest = sha256(text.encode("utf-8")).hexdigest()
    return f"{package}--{digest[:KEY_HASH_LENGTH]}"


def env_name_from_parts(prefix: str, parts: dict[str, list[str]]) -> str:
    """``<prefix>--<hash16>`` over named lists of strings (the script key recipe)."""
    fields: list[str] = [KEY_RECIPE, prefix]
    for label in sorted(parts):
        fields.append(label)
        fields.extend(parts[label])
    digest = sha256("\0".join(fields).encode("utf-8")).hexdigest()
    return f"{prefix}--{digest[:KEY_HASH_LENGTH]}"


def default_channels(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The configured channels (condarc files and ``$CONDA_CHANNELS``, see :mod:`ce.condarc`), or conda-forge."""
    return condarc.load(environ).channels or DEFAULT_CHANNELS


def resolve_channels(cli_channels: list[str], override_channels: bool, environ: Mapping[str, str]) -> tuple[str, ...]:
    """``-c`` channels first, then the configured ones unless ``--override-channels``.

    ``defaults`` expands as conda expands it; names map through the
    configured ``custom_channels`` and ``channel_alias``.
    """
    if override_channels and not cli_channels:
        raise UsageError("--override-channels needs at least one -c/--channel")
    settings = condarc.load(environ)
    names = list(cli_channels)
    if not override_channels:
        names.extend(settings.channels or DEFAULT_CHANNELS)
    resolved: list[str] = []
    for name in condarc.expand_defaults(names, settings):
        url = normalize_channel(name, settings.channel_alias, settings.custom_channels)
        if url not in resolved:
            resolved.append(url)
    return tuple(resolved)


def check_override_allowed(environ: Mapping[str, str]) -> None:
    """Refuse the user's ``--override-channels`` when the configuration disables it."""
    condarc.check_override_allowed(condarc.load(environ))


def resolve_tool_request(
    tool: str,
    from_spec: str | None,
    with_specs: list[str],
    cli_channels: list[str],
    override_channels: bool,
    platform: str,
    environ: Mapping[str, str],
) -> ToolRequest:
    """Turn the tool-mode options into a normalized :class:`ToolRequest`."""
    if from_spec is not None:
        command = validate_command(tool)
        package_spec = normalize_spec(from_spec)
        package = spec_package_name(package_spec)
    else:
        command, package_spec = tool_argument_spec(tool)
        package = command
    specs = [package_spec]
    for spec in with_specs:
        normalized = normalize_spec(spec)
        spec_package_name(normalized)
        specs.append(normalized)
    if override_channels:
        check_override_allowed(environ)
    channels = resolve_channels(cli_channels, override_channels, environ)
    return ToolRequest(command, package, tuple(specs), channels, platform)
