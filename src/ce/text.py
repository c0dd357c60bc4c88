"""Line splitting for text ce reads line by line (scripts, their metadata, lock files), and text it shows.

Only ``\\n``, ``\\r\\n`` and ``\\r`` end a line, as for Python's tokenizer,
PEP 723's reference regular expression, uv and editors.  ``str.splitlines``
also breaks on U+000B, U+000C, U+001C..U+001E, U+0085, U+2028 and U+2029,
which would let a comment line carry a second, hidden metadata line.

Everything ce prints about names, paths, URLs and metadata that came from
outside (a command line, a file name, a channel's repodata, a script) goes
through :func:`shown` or, for a whole message line, :func:`one_line`: control
characters never reach the terminal raw (see those functions for the rule).

Only string methods: cheap enough for the warm path.
"""

from __future__ import annotations

#: A UTF-8 byte order mark as text: stripped before parsing, written back first.
BOM = "\ufeff"


def split_lines(text: str, keepends: bool = False) -> list[str]:
    """*text* split at ``\\n``, ``\\r\\n`` and ``\\r`` only (like ``str.splitlines``, no trailing empty line)."""
    if "\r" not in text:
        lines = text.split("\n")
        if keepends:
            lines = [line + "\n" for line in lines]
            lines[-1] = lines[-1][:-1]
    else:
        lines = []
        start = 0
        length = len(text)
        while start < length:
            cr = text.find("\r", start)
            lf = text.find("\n", start)
            if cr < 0 and lf < 0:
                lines.append(text[start:])
                start = length
                break
            if lf < 0 or (0 <= cr < lf):
                end = cr + 2 if text.startswith("\r\n", cr) else cr + 1
                stop = cr
            else:
                end = stop = lf
                end += 1
            lines.append(text[start:end] if keepends else text[start:stop])
            start = end
        return lines
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def newline_of(text: str) -> str:
    """The line ending *text* uses: that of its first line (``\\n`` when it has none)."""
    lf = text.find("\n")
    cr = text.find("\r")
    if cr < 0 or (0 <= lf < cr):
        return "\n"
    return "\r\n" if text.startswith("\r\n", cr) else "\r"


#: The short escapes :func:`shown` writes (the rest are ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN``).
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def shown(value: str) -> str:
    """*value* as ce prints it: every character that is not printable escaped as Python writes it.

    Escaped: C0 controls (ESC, BEL, CR, newline, tab...), DEL, C1 controls (a lone 0x9b is
    a CSI on some terminals), line and paragraph separators, format characters such as
    bidirectional overrides, lone surrogates (a file name that is not UTF-8) and every
    space but the plain one, as ``str.isprintable`` defines them.  Backslashes are kept as
    they are, so Windows paths stay readable and the result is printable: escaping twice
    changes nothing (``shown(shown(x)) == shown(x)``), so a value escaped where a message
    is made passes a printer that escapes again unchanged.
    """
    if value.isprintable():
        return value
    parts = []
    for character in value:
        if character.isprintable():
            parts.append(character)
            continue
        short = _SHORT_ESCAPES.get(character)
        if short is not None:
            parts.append(short)
            continue
        code = ord(character)
        parts.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(parts)


def one_line(text: str) -> str:
    """A message as ce prints it: one line, whitespace runs made one space, other controls escaped.

    The whitespace of a message is its structure (ce's own messages are one line; a
    backend's multi-line report, such as a solver's explanation, reads as one), so runs of
    it, line breaks included, become one space first; whatever is left that is not
    printable (ESC, BEL, DEL, C1 and format characters) is escaped by :func:`shown`.
    Values whose own line breaks matter are escaped with :func:`shown` where the message
    is made, which keeps them visible as ``\\n`` here.
    """
    return shown(" ".join(text.split()))
