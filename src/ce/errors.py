"""The exception hierarchy: every error ce raises derives from :class:`CeError`.

Each error carries the exit code the command line uses for it, so the CLI is
the only place that turns errors into output and exit statuses.
"""

from __future__ import annotations

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127


class CeError(Exception):
    """Base class of every ce error; ``str(error)`` is one line for the user."""

    exit_code: int = EXIT_ERROR
    #: The source line the error points at: (file line, the line as written, 1-based column).
    #: The message stays one line; the command line shows this excerpt and a caret under it
    #: only on a terminal or with ``-v`` (see ``ce.cli.report_error``).
    excerpt: tuple[int, str, int] | None = None


class UsageError(CeError):
    """The command line itself is wrong (unknown option, missing TOOL...)."""

    exit_code = EXIT_USAGE


class InvalidNameError(CeError):
    """A tool, package or backend name that ce refuses to use."""

    exit_code = EXIT_USAGE


class ConfigurationError(CeError):
    """An environment variable or configuration file has an unusable value."""


class ChannelError(CeError):
    """A channel could not be reached or read."""


class SolveError(CeError):
    """The requested packages cannot be solved into an environment."""


class InstallError(CeError):
    """Solved packages could not be downloaded, verified or linked."""


class CacheError(CeError):
    """The environment cache is unusable (unwritable, corrupt, wrong type)."""


class UntrustedCacheError(CacheError):
    """A cache directory that another user controls: ce runs nothing from it and writes nothing into it."""


class BackendNotFoundError(CeError):
    """A solver, runner or lock format name that no backend provides."""

    exit_code = EXIT_USAGE


class ToolNotFoundError(CeError):
    """The command is not provided by the environment (exit code 127)."""

    exit_code = EXIT_NOT_FOUND


class ToolNotExecutableError(CeError):
    """The command exists in the environment but cannot be executed (126)."""

    exit_code = EXIT_NOT_EXECUTABLE


class ScriptError(CeError):
    """A script or its inline metadata is unusable."""
