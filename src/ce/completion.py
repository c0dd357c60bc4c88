"""Shell completion scripts for bash, zsh and fish, generated from ce's own parser.

``ce --completion bash`` prints a script; the options, their value lists
(backend names from :mod:`ce.backends.builtin`, shells) and file completion
for SCRIPT all come from the parser, so the scripts cannot drift from it.
"""

from __future__ import annotations

import argparse

from ce.backends.builtin import LOCKFILE_FORMAT, RUNNER, SOLVER, builtin_names
from ce.fastpath import VALUE_OPTIONS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ce.backends.builtin import BackendKind

SHELLS = ("bash", "zsh", "fish")
_REPEATABLE = frozenset({"-c", "--channel", "--with", "--add", "--platform", "-v", "--verbose"})

#: Options whose values are backend names (the built-in ones; plugins add theirs at run time).
_BACKEND_OPTIONS: dict[str, BackendKind] = {"--solver": SOLVER, "--runner": RUNNER, "--lock-format": LOCKFILE_FORMAT}


def _options(parser: argparse.ArgumentParser) -> list[tuple[list[str], str, list[str] | None]]:
    """``(option strings, help, value choices or None)`` of every option; choices ``[]`` means a free value."""
    found = []
    for action in parser._actions:  # argparse has no public accessor
        if not action.option_strings:
            continue
        help_text = (action.help or "").replace("%(prog)s", parser.prog)
        choices: list[str] | None = None
        if any(option in VALUE_OPTIONS for option in action.option_strings):
            kind = next((_BACKEND_OPTIONS[o] for o in action.option_strings if o in _BACKEND_OPTIONS), None)
            choices = builtin_names(kind) if kind else [str(choice) for choice in action.choices or ()]
        found.append((list(action.option_strings), help_text, choices))
    return found


def _bash(prog: str, options: list[tuple[list[str], str, list[str] | None]]) -> str:
    words = " ".join(option for strings, _help, _choices in options for option in strings)
    cases = "\n".join(
        f"        {'|'.join(strings)}) COMPREPLY=($(compgen -W '{' '.join(choices)}' -- \"$cur\")); return;;"
        for strings, _help, choices in options
        if choices
    )
    free = "|".join(option for strings, _help, choices in options if choices == [] for option in strings)
    function = f"_{prog.replace('-', '_')}_complete"
    return f"""# bash completion for {prog}: eval "$({prog} --completion bash)"
{function}() {{
    local cur prev i
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    # after TOOL or SCRIPT, the words belong to it: complete files
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${{COMP_WORDS[i]}}" in
            {free}) ((i++));;
            -*) ;;
            *) COMPREPLY=($(compgen -f -- "$cur")); return;;
        esac
    done
    case "$prev" in
{cases}
        {free}) return;;
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W '{words}' -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}}
complete -o default -F {function} {prog}
"""


def _zsh_quote(text: str) -> str:
    return text.replace("'", "'\\''").replace("[", "\\[").replace("]", "\\]").replace(":", "\\:")


def _zsh(prog: str, options: list[tuple[list[str], str, list[str] | None]]) -> str:
    specs = []
    for strings, help_text, choices in options:
        names = strings[0] if len(strings) == 1 else "{" + ",".join(strings) + "}"
        exclusive = f"({' '.join(strings)})" if len(strings) > 1 else ""
        repeat = "*" if any(option in _REPEATABLE for option in strings) else ""
        value = ""
        if choices:
            value = f":value:({' '.join(choices)})"
        elif choices == []:
            value = ":value: "
        prefix = repeat if repeat else exclusive
        specs.append(f"        '{prefix}{names}[{_zsh_quote(help_text)}]{value}'")
    body = " \\\n".join([*specs, "        '1:tool or script:_files'", "        '*::arguments:_files'"])
    return f"""#compdef {prog}
# zsh completion for {prog}: eval "$({prog} --completion zsh)" after compinit,
# or {prog} --completion zsh > "${{fpath[1]}}/_{prog}"
_{prog}() {{
    _arguments -s -S \\
{body}
}}
if [[ "${{funcstack[1]}}" == "_{prog}" ]]; then
    _{prog} "$@"
else
    compdef _{prog} {prog}
fi
"""


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish(prog: str, options: list[tuple[list[str], str, list[str] | None]]) -> str:
    lines = [f"# fish completion for {prog}: {prog} --completion fish > ~/.config/fish/completions/{prog}.fish"]
    lines.append(f"complete -c {prog} -f -a '(__fish_complete_path (commandline -ct))'")
    for strings, help_text, choices in options:
        parts = [f"complete -c {prog}"]
        for option in strings:
            parts.append(f"-l {option[2:]}" if option.startswith("--") else f"-s {option[1:]}")
        parts.append(f"-d {_fish_quote(help_text)}")
        if choices:
            parts.append(f"-x -a {_fish_quote(' '.join(choices))}")
        elif choices == []:
            parts.append("-r")
        lines.append(" ".join(parts))
    return "\n".join(lines) + "\n"


def completion_script(shell: str, parser: argparse.ArgumentParser) -> str:
    """The completion script for *shell* (one of :data:`SHELLS`) of *parser*'s program."""
    options = _options(parser)
    prog = parser.prog if " " not in parser.prog else "ce"  # `conda exec` completes through conda's own
    render = {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell]
    return render(prog, options)
