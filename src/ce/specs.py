"""Package specs and tool names as text: validation and normalization without rattler.

The warm path must not import rattler to parse a MatchSpec, so cache keys
hash a whitespace-normalized spec text (see CONTRIBUTING.md).  Only builtins
are used here, except by :func:`matchspec_error`, which imports rattler when
called: only cold paths (reading a script's metadata, ``--add``) call it.
"""

from __future__ import annotations

from ce.errors import InvalidNameError, UsageError

MAX_NAME_LENGTH = 128
MAX_TEXT_LENGTH = 1000

_OPERATOR_CHARS = frozenset("<>=!~,|")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")
_SPEC_STOP_CHARS = frozenset(" <>=!~[;,*@(")


def check_text(kind: str, text: str) -> None:
    """Refuse an empty, multi-line or overlong command-line value describing *kind*."""
    if not text or not text.strip():
        raise UsageError(f"empty {kind}")
    if "\0" in text or "\n" in text or "\r" in text:
        raise UsageError(f"invalid {kind} {text!r}: control characters are not allowed")
    if len(text) > MAX_TEXT_LENGTH:
        raise UsageError(f"invalid {kind}: longer than {MAX_TEXT_LENGTH} characters")


def normalize_spec(spec: str) -> str:
    """Canonical text of a MatchSpec for hashing: single spaces, none around operators.

    ``"ruff >= 0.4 , <0.5"`` and ``"ruff>=0.4,<0.5"`` normalize alike;
    ``"ruff 0.4.*"`` keeps its meaningful space.
    """
    check_text("package spec", spec)
    text = _lowercase_name(" ".join(spec.split()))
    out: list[str] = []
    for index, char in enumerate(text):
        if char == " " and (
            (out and out[-1] in _OPERATOR_CHARS) or (index + 1 < len(text) and text[index + 1] in _OPERATOR_CHARS)
        ):
            continue
        out.append(char)
    return "".join(out)


def _name_span(text: str) -> tuple[int, int]:
    """Where the package name of MatchSpec *text* starts and ends (after any ``channel::``)."""
    start = text.rfind("::") + 2 if "::" in text else 0
    while start < len(text) and text[start] == " ":
        start += 1
    end = start
    while end < len(text) and text[end] not in _SPEC_STOP_CHARS:
        end += 1
    return start, end


def _lowercase_name(text: str) -> str:
    """*text* with its package name in lowercase: conda package names are (``RUFF`` is ``ruff``)."""
    start, end = _name_span(text)
    return text[:start] + text[start:end].lower() + text[end:]


def spec_package_name(spec: str) -> str:
    """The package name a MatchSpec asks for, validated (``conda-forge::ruff>=1`` -> ``ruff``)."""
    text = spec.strip()
    start, end = _name_span(text)
    name = text[start:end].lower()
    if len(name) > MAX_NAME_LENGTH:  # the length is the problem, whatever the characters
        raise InvalidNameError(
            f"invalid package name in {spec[:40]!r}...: {len(name)} characters long, at most {MAX_NAME_LENGTH}"
        )
    if not name or len(name) > MAX_NAME_LENGTH or name[0] in "-." or not set(name) <= _NAME_CHARS:
        raise InvalidNameError(
            f"invalid package name in {spec!r}: use letters, digits, '-', '_' and '.' (for example 'ruff>=0.4')"
        )
    return name


def matchspec_error(spec: str) -> str | None:
    """Why *spec* is not a valid conda MatchSpec (rattler's parser, lenient mode), or ``None``.

    Cold path only: the first call imports rattler.
    """
    from rattler import MatchSpec

    try:
        MatchSpec(spec)
    except Exception as error:  # rattler raises its own InvalidMatchSpecError
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        return lines[0] if lines else type(error).__name__
    return None


def validate_command(command: str) -> str:
    """Return *command* if it can only name a file inside an environment's bin dirs."""
    check_text("tool name", command)
    if "/" in command or "\\" in command or command in (".", "..") or command.startswith("-"):
        raise InvalidNameError(
            f"invalid tool name {command!r}: not a command name (a script is named by a path or a script "
            "suffix: ./x, x.py)"
        )
    if len(command) > 255:
        raise InvalidNameError("invalid tool name: longer than 255 characters")
    return command


def tool_argument_spec(tool: str) -> tuple[str, str]:
    """Split the TOOL argument into (command, package spec).

    ``ruff`` -> (``ruff``, ``ruff``); ``"ruff>=0.4"`` -> (``ruff``, ``ruff>=0.4``);
    ``ruff@0.4.1`` (uvx style) -> (``ruff``, ``ruff==0.4.1``); ``ruff@latest`` -> (``ruff``, ``ruff``).
    The package name is lowercase (``RUFF`` asks for ``ruff``); the command keeps the
    case typed, for an environment that provides it (see :func:`command_candidates`).
    """
    validate_command(tool)
    spec = tool
    if "@" in tool:
        name, _, version = tool.partition("@")
        if not version or any(char in version for char in " <>=!~,"):
            raise InvalidNameError(f"invalid tool spec {tool!r}: use NAME@VERSION, NAME@latest or a MatchSpec")
        spec = name if version.lower() == "latest" else f"{name}=={version}"
    spec_package_name(spec)  # validates
    start, end = _name_span(spec.strip())
    return spec.strip()[start:end], normalize_spec(spec)


def command_candidates(command: str) -> tuple[str, ...]:
    """The names to look *command* up under: as typed, then in lowercase (``RUFF`` runs ``ruff``)."""
    lower = command.lower()
    return (command,) if lower == command else (command, lower)
