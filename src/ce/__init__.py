"""ce: run any conda package's command, or a script with inline metadata, from
a cached, isolated conda environment.

This module stays cheap to import because the warm path (a cache hit) goes
through it: it names the version, and the error classes load on first use.
Everything heavier is imported by the modules that need it.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
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


def __getattr__(name: str) -> object:
    """The error classes, imported on first use (PEP 562): a warm hit never needs them."""
    if name in __all__:  # every public name but __version__ is an error class
        from ce import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'ce' has no attribute {name!r}")


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
