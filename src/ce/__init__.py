"""ce: run any conda package's command, or a script with inline metadata, from
a cached, isolated conda environment.

This module stays cheap to import because the warm path (a cache hit) goes
through it: it only names the version and the error classes.  Everything
heavier is imported by the modules that need it.
"""

from __future__ import annotations

from ce.errors import (
    BackendNotFoundError,
    CacheError,
    CeError,
    ChannelError,
    ConfigurationError,
    InstallError,
    InvalidNameError,
    ScriptError,
    SolveError,
    ToolNotExecutableError,
    ToolNotFoundError,
    UsageError,
)

__version__ = "0.1.0"

__all__ = [
    "BackendNotFoundError",
    "CacheError",
    "CeError",
    "ChannelError",
    "ConfigurationError",
    "InstallError",
    "InvalidNameError",
    "ScriptError",
    "SolveError",
    "ToolNotExecutableError",
    "ToolNotFoundError",
    "UsageError",
    "__version__",
]
