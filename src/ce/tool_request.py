"""A tool-mode command line, resolved: which package, specs, channels and platform, and its cache key.

Both the warm path and the full command line resolve a tool request through
:func:`resolve_tool_request`, so the two can never disagree about which
environment a command line means.  On the warm path: no ``re``, ``json``,
``hashlib``, ``dataclasses`` or ``typing``.
"""

from __future__ import annotations

from ce.base import env_name
from ce.config.channels import check_override_allowed, resolve_channels
from ce.specs import normalize_spec, spec_package_name, tool_argument_spec, validate_command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


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
        package = spec_package_name(package_spec)
    specs = [package_spec]
    for spec in with_specs:
        normalized = normalize_spec(spec)
        spec_package_name(normalized)
        specs.append(normalized)
    if override_channels:
        check_override_allowed(environ)
    channels = resolve_channels(cli_channels, override_channels, environ)
    return ToolRequest(command, package, tuple(specs), channels, platform)
