"""Splitting a command line into ce's options, TOOL, and the tool's arguments.

Everything after TOOL belongs to the tool (``ce ruff --help`` is ruff's help),
so the split happens before any option parsing.  The warm path and the full
parser both use :func:`split_argv`; a test keeps :data:`VALUE_OPTIONS` equal
to the options of the full parser that take a value.
"""

from __future__ import annotations

#: Options that consume the next argument (or ``--opt=value``).
VALUE_OPTIONS = frozenset(
    {
        "-c",
        "--channel",
        "--with",
        "--from",
        "--solver",
        "--runner",
        "--lock-format",
        "--platform",
        "--add",
        "--older-than",
        "--completion",
    }
)
#: Short options that take a value; the others are flags and may be clustered (``-vq``).
SHORT_VALUE_OPTIONS = frozenset(option[1] for option in VALUE_OPTIONS if len(option) == 2)


def split_argv(argv: list[str]) -> tuple[list[str], str | None, list[str]]:
    """Return ``(ce_options, tool, tool_args)``.

    TOOL is the first argument that is neither an option nor an option's
    value; ``--`` ends ce's options explicitly.
    """
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            if index + 1 < len(argv):
                return argv[:index], argv[index + 1], argv[index + 2 :]
            return argv[:index], None, []
        if arg.startswith("--"):
            takes_value = arg in VALUE_OPTIONS
            index += 2 if takes_value else 1
            continue
        if arg.startswith("-") and len(arg) > 1:
            index += 1
            for position, letter in enumerate(arg[1:], start=2):
                if letter in SHORT_VALUE_OPTIONS:
                    if position == len(arg):  # the value is the next argument
                        index += 1
                    break
            continue
        return argv[:index], arg, argv[index + 1 :]
    return argv, None, []


def wants_verbose(argv: list[str]) -> bool:
    """Whether ce's own options (not the tool's) include ``-v``/``--verbose``: tracebacks on errors."""
    return any(option in ("-v", "--verbose") for option in split_argv(argv)[0])
