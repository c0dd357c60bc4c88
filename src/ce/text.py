"""Line splitting for text ce reads line by line (scripts, their metadata, lock files).

Only ``\\n``, ``\\r\\n`` and ``\\r`` end a line, as for Python's tokenizer,
PEP 723's reference regular expression, uv and editors.  ``str.splitlines``
also breaks on U+000B, U+000C, U+001C..U+001E, U+0085, U+2028 and U+2029,
which would let a comment line carry a second, hidden metadata line.

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
