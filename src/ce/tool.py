"""Tool mode: from a resolved :class:`~ce.tool_request.ToolRequest` to the process to start."""

from __future__ import annotations

from collections.abc import Callable

from ce.envs.provision import EnvironmentSpec, Prepared, Reporter, RunOptions, provide, solve_request_for
from ce.tool_request import ToolRequest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ce.plugins.manager import BackendRegistry


def prepare_tool(
    request: ToolRequest,
    args: list[str],
    options: RunOptions,
    registry: Callable[[], BackendRegistry],
    reporter: Reporter,
) -> Prepared:
    """Find or build the tool's environment and return the process to start."""
    spec = EnvironmentSpec(
        env_name=request.env_name,
        solve_request=solve_request_for(request.specs, request.channels, request.platform, options),
        metadata={"kind": "tool", "command": request.command, "package": request.package, "specs": list(request.specs)},
    )
    return provide(spec, [request.command, *args], options, registry, reporter)
