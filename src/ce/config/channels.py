"""Channels: from what the user wrote (names, URLs, paths) to channel URLs, with conda's configuration.

A channel is a local directory only when written as a path (``./x``,
``../x``, ``/x``, ``~/x``) or a ``file://`` URL; a bare name is always a
name, mapped under ``custom_channels`` or ``channel_alias`` as conda and pixi
read it, whatever directories exist in the working directory.

On the warm path: only ``os`` and the light configuration modules.
"""

from __future__ import annotations

import os

from ce.config import condarc
from ce.config.settings import DEFAULT_CHANNEL_ALIAS, DEFAULTS_NAME, CondaSettings
from ce.errors import ConfigurationError, UsageError
from ce.specs import check_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

#: The channels used when no condarc or ``$CONDA_CHANNELS`` configures any.
DEFAULT_CHANNELS = ("conda-forge",)
URL_SCHEMES = ("http", "https", "file", "s3", "gcs", "oci")


def is_local_channel(channel: str) -> bool:
    """Whether *channel* is written as a path (``./x``, ``../x``, ``/x``, ``~/x``) rather than a name or URL.

    Only how it is written counts: a bare name is a name even when a directory
    of that name exists in the working directory (a cloned repository with a
    ``conda-forge/`` folder must not replace the channel).
    """
    if "://" in channel:
        return False
    separators = ("/", os.sep)
    return (
        channel in (".", "..", "~")
        or channel.startswith(tuple(f"{start}{sep}" for start in (".", "..", "~") for sep in separators))
        or channel.startswith(separators)
        or os.path.isabs(channel)
    )


def normalize_channel(
    channel: str, channel_alias: str = DEFAULT_CHANNEL_ALIAS, custom_channels: Mapping[str, str] | None = None
) -> str:
    """A channel as the URL it stands for, without a trailing slash.

    Names map under a matching ``custom_channels`` entry (the longest
    ``a/b`` prefix of the name, as conda matches them), else under the
    channel alias; local directories map to absolute ``file://`` URLs; URLs
    are kept.
    """
    check_text("channel", channel)
    text = channel.strip()
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in URL_SCHEMES:
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


def resolve_channels(cli_channels: list[str], override_channels: bool, environ: Mapping[str, str]) -> tuple[str, ...]:
    """``-c`` channels first, then the configured ones unless ``--override-channels``.

    When no source configures ``channels`` at all, ce's default (conda-forge) comes
    after them; not under ``conda exec`` with ``-c`` (the list is then conda's own, as
    ``conda create -c X`` has it).  ``channels: []`` (configured, empty) adds nothing,
    in both front doors.  ``defaults`` expands as conda expands it; names map through
    the configured ``custom_channels`` and ``channel_alias``.

    Raises :class:`ConfigurationError` when that leaves no channel at all.
    """
    if override_channels and not cli_channels:
        raise UsageError("--override-channels needs at least one -c/--channel")
    settings = condarc.load(environ)
    names = list(cli_channels)
    if not override_channels:
        names.extend(configured_channels(settings, bool(cli_channels)))
    if not names:
        source = settings.sources.get("channels", "the configuration")
        raise ConfigurationError(
            f"no channels to install from: channels is empty in {source}; "
            "pass -c CHANNEL, or list channels in a condarc file (~/.condarc: channels: [conda-forge]) "
            "or in CONDA_CHANNELS"
        )
    resolved: list[str] = []
    for name in condarc.expand_defaults(names, settings):
        url = normalize_channel(name, settings.channel_alias, settings.custom_channels)
        if url not in resolved:
            resolved.append(url)
    return tuple(resolved)


def configured_channels(settings: CondaSettings, with_cli_channels: bool) -> tuple[str, ...]:
    """The channels that follow the ``-c`` ones: the configured ``channels``, else ce's default.

    A ``channels`` key that some source sets, even to an empty list, is the configuration: no default
    is added.  When none sets it, conda-forge, except under ``conda exec`` behind ``-c`` channels.
    """
    if settings.channels or "channels" in settings.sources:
        return settings.channels
    if with_cli_channels and condarc.root_of_conda() is not None:
        return ()
    return DEFAULT_CHANNELS


def check_override_allowed(environ: Mapping[str, str]) -> None:
    """Refuse the user's ``--override-channels`` when the configuration disables it."""
    condarc.check_override_allowed(condarc.load(environ))


def configuration_depends_on_cwd(environ: Mapping[str, str]) -> bool:
    """Whether a configured channel (or a default channel ``defaults`` expands to) is a relative path.

    Such a configuration resolves differently in every working directory, so a tool run under it
    is not recorded in the tool index (:mod:`ce.fastpath`).
    """
    settings = condarc.load(environ)
    names = condarc.expand_defaults([*configured_channels(settings, False), DEFAULTS_NAME], settings)
    return any(is_local_channel(name.strip()) and not os.path.isabs(os.path.expanduser(name.strip())) for name in names)
