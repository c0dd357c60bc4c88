"""A script run, resolved: what to install, from which channels, how to start it, and its cache key."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from ce.base import env_name_from_parts
from ce.config.channels import is_local_channel, resolve_channels
from ce.script.metadata import ScriptMetadata
from ce.specs import normalize_spec, spec_package_name

SCRIPT_ENV_PREFIX = "script"
PYTHON_INTERPRETERS = ("python", "python3")


@dataclass(frozen=True)
class ScriptRequest:
    """A script run, normalized: what to install, where from, and how to start it."""

    path: str
    metadata: ScriptMetadata
    conda_specs: tuple[str, ...]
    pypi_requirements: tuple[str, ...]
    channels: tuple[str, ...]
    platform: str
    interpreter: tuple[str, ...]
    env_name: str


def _conda_constraint(operator: str, version: str) -> list[str]:
    """One PEP 440 specifier as conda version constraints (``==X.*`` is the glob ``X.*``)."""
    if operator == "===":  # arbitrary equality: this exact version string
        return [f"=={version}"]
    if operator == "~=":  # compatible release: >=X.Y.Z and X.Y.*
        prefix = ".".join(version.split(".")[:-1])
        return [f">={version}", f"{prefix}.*"]
    if operator == "==" and version.endswith(".*"):
        return [version]
    return [f"{operator}{version}"]


def python_spec(requires_python: str | None) -> str:
    """The conda spec for ``python`` that honours a PEP 440 ``requires-python``.

    Each specifier maps to the conda constraint that matches the same
    versions; ``==X.*`` becomes the glob ``X.*`` (conda and rattler read
    ``==3.*`` combined with others as ``==3``).
    """
    if not requires_python or not requires_python.strip():
        return "python"
    parts: list[str] = []
    for specifier in SpecifierSet(requires_python):
        parts.extend(_conda_constraint(specifier.operator, specifier.version))
    return "python " + ",".join(sorted(parts))


def needs_python(metadata: ScriptMetadata, interpreter: tuple[str, ...]) -> bool:
    """Whether ce adds ``python`` to the environment.

    It does for Python scripts, for any script with PyPI dependencies or a
    requires-python, and never when a dependency is named exactly ``python``.
    A bash script with only conda dependencies gets no Python it does not use.
    """
    if metadata.names_python:
        return False
    runs_python = os.path.basename(interpreter[0]) in PYTHON_INTERPRETERS or (
        len(interpreter) > 1 and os.path.basename(interpreter[0]) == "env" and interpreter[1] in PYTHON_INTERPRETERS
    )
    return runs_python or bool(metadata.pypi_dependencies) or metadata.requires_python is not None


def _script_relative_channels(path: str, channels: tuple[str, ...] | list[str]) -> list[str]:
    """*channels* from *path*'s metadata, a relative path (``./vendor``) taken beside the script.

    Metadata travels with the script, so its paths mean the script's folder (the real file's,
    behind a link), never the working folder: a cloned repository's ``vendor/`` must not
    supply the packages of a script run from inside it.
    """
    folder = os.path.dirname(os.path.realpath(path))
    resolved = []
    for channel in channels:
        text = channel.strip()
        if is_local_channel(text) and not os.path.isabs(os.path.expanduser(text)):
            text = os.path.join(folder, text)
        resolved.append(text)
    return resolved


def resolve_script_request(
    path: str,
    metadata: ScriptMetadata,
    with_specs: list[str],
    cli_channels: list[str],
    override_channels: bool,
    platform: str,
    environ: Mapping[str, str],
) -> ScriptRequest:
    """Turn a script, its metadata and the command line into a :class:`ScriptRequest`."""
    interpreter = metadata.run_with or ("python",)
    specs = list(metadata.conda_dependencies)
    if needs_python(metadata, interpreter) or (metadata.names_python and metadata.requires_python):
        # a dependency named python does not switch requires-python off: both constrain python
        specs.append(python_spec(metadata.requires_python))
    for spec in with_specs:
        normalized = normalize_spec(spec)
        spec_package_name(normalized)
        specs.append(normalized)
    if override_channels:
        channels = resolve_channels(cli_channels, True, environ)
    elif metadata.conda_channels:
        metadata_channels = _script_relative_channels(path, metadata.conda_channels)
        channels = resolve_channels([*cli_channels, *metadata_channels], True, environ)
    else:
        channels = resolve_channels(cli_channels, False, environ)
    conda_specs = tuple(dict.fromkeys(normalize_spec(spec) for spec in specs))
    pypi = tuple(dict.fromkeys(str(Requirement(requirement)) for requirement in metadata.pypi_dependencies))
    name = env_name_from_parts(
        SCRIPT_ENV_PREFIX,
        {
            "conda": sorted(conda_specs),
            "pypi": sorted(pypi),
            "channels": list(channels),
            "requires-python": [metadata.requires_python or ""],
            "platform": [platform],
        },
    )
    return ScriptRequest(path, metadata, conda_specs, metadata.pypi_dependencies, channels, platform, interpreter, name)


def script_metadata(request: ScriptRequest, locked: bool) -> dict[str, object]:
    """What ``--list`` shows about a script's environment (kept in its ``.ce-env.json``)."""
    return {
        "kind": "script",
        "script": os.path.abspath(request.path),
        "specs": list(request.conda_specs),
        "pypi": list(request.pypi_requirements),
        "locked": locked,
    }
