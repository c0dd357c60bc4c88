"""Finding ``# /// TYPE`` comment blocks exactly as PEP 723 specifies.

A block opens with ``# /// TYPE`` and its content lines are ``#`` or ``# ...``.
It closes at the last ``# ///`` line of that contiguous run of content lines
(the PEP's regular expression is greedy), so two blocks need a non-comment
line between them or they read as one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from ce.text import BOM, split_lines

OPENING = re.compile(r"^# /// (?P<type>[a-zA-Z0-9-]+)$")
CLOSING = "# ///"


@dataclass(frozen=True)
class Block:
    """One metadata block; line numbers are 1-based and inclusive."""

    type: str
    start_line: int
    end_line: int
    lines: tuple[str, ...]

    @property
    def content(self) -> str:
        """The embedded text: each line without its ``# `` (or ``#``) prefix."""
        return "".join(line[2:] + "\n" if line.startswith("# ") else "\n" for line in self.lines)

    @cached_property
    def key_lines(self) -> dict[str, int]:
        """The file line of the first content line setting each key (table headers and dotted parts too).

        Built once per block, so naming the line of many keys stays linear.
        """
        found: dict[str, int] = {}
        for offset, line in enumerate(self.lines, start=1):
            text = line[2:].strip() if line.startswith("# ") else ""
            if text.startswith("["):
                keys = text.strip("[]").split(".")
            elif "=" in text:
                key = text.partition("=")[0].strip()
                keys = [key, *key.split(".")] if "." in key else [key]
            else:
                continue
            for key in keys:
                found.setdefault(key.strip().strip("\"'"), self.start_line + offset)
        return found

    def file_line(self, content_line: int) -> int:
        """The file line of 1-based line *content_line* of :attr:`content`."""
        return self.start_line + content_line


@dataclass(frozen=True)
class UnclosedBlock:
    """An opening line without a closing ``# ///``."""

    type: str
    start_line: int
    #: The file line that ended the run of comment lines (``None``: the end of the file).
    stop_line: int | None = None
    #: Whether that line is blank (a blank line inside a block must be ``#``).
    stop_blank: bool = False


def _is_content(line: str) -> bool:
    return line == "#" or line.startswith("# ")


def find_blocks(text: str) -> tuple[list[Block], list[UnclosedBlock]]:
    """Every block in *text*, and every opening line that never closes."""
    lines = split_lines(text[1:] if text.startswith(BOM) else text)
    blocks: list[Block] = []
    unclosed: list[UnclosedBlock] = []
    index = 0
    while index < len(lines):
        match = OPENING.match(lines[index])
        if match is None:
            index += 1
            continue
        end = index + 1
        last_close = None
        while end < len(lines) and _is_content(lines[end]):
            if lines[end] == CLOSING:
                last_close = end
            end += 1
        if last_close is None:
            stop = end + 1 if end < len(lines) else None
            blank = end < len(lines) and not lines[end].strip()
            unclosed.append(UnclosedBlock(match.group("type"), index + 1, stop, blank))
            index = end
            continue
        blocks.append(Block(match.group("type"), index + 1, last_close + 1, tuple(lines[index + 1 : last_close])))
        index = last_close + 1
    return blocks, unclosed
