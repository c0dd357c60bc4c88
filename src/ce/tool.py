"""Tool mode: from a resolved :class:`~ce.tool_request.ToolRequest` to the process to start."""

from __future__ import annotations

import os
from collections.abc import Callable

from ce.base import executable_dirs, find_command
from ce.envs.provision import EnvironmentSpec, Prepared, Reporter, RunOptions, provide, solve_request_for
from ce.specs import command_candidates
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
        metadata={
            "kind": "tool",
            "command": _listed_command(request),
            "package": request.package,
            "specs": list(request.specs),
        },
    )

    def argv(prefix: str) -> list[str]:
        # The command as typed if the environment provides it (``ce R``), else in lowercase (``ce RUFF``).
        candidates = command_candidates(request.command)
        found = next((name for name in candidates if find_command(prefix, name, options.environ)), candidates[0])
        return [found, *args]

    return provide(spec, argv, options, registry, reporter)


def package_commands(prefix: str, package: str) -> list[str]:
    """The commands that *package* itself installed in *prefix* (from its ``conda-meta`` record), sorted."""
    import json

    meta = os.path.join(prefix, "conda-meta")
    try:
        names = [name for name in os.listdir(meta) if name.startswith(f"{package}-") and name.endswith(".json")]
    except OSError:
        return []
    bin_dirs = {os.path.relpath(directory, prefix).replace(os.sep, "/") for directory in executable_dirs(prefix)}
    commands: set[str] = set()
    for name in names:
        try:
            with open(os.path.join(meta, name), encoding="utf-8") as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or record.get("name") != package:
            continue
        for path in record.get("files") or ():
            directory, _, command = str(path).replace("\\", "/").rpartition("/")
            if directory in bin_dirs and command and os.access(os.path.join(prefix, path), os.X_OK):
                commands.add(command)
    return sorted(commands)


def _listed_command(request: ToolRequest) -> str:
    """The command ``--list`` shows: the package's name rather than its name in other case (``RUFF``)."""
    return request.package if request.command.lower() == request.package else request.command
