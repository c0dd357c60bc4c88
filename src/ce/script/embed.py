"""The ``# /// conda-exec-lock`` block: lock text embedded in the script itself.

The block is replaced in place when it exists, otherwise placed after the
``script`` block (or after the shebang and encoding lines), never above a
shebang, and kept apart from neighbouring comments by a blank line so PEP 723
reads the two blocks as two.  Every other byte of the script is unchanged.

A script never gets a second lock block: two closed ones are an error (PEP
723), and an unclosed one (no ``# ///`` line) makes ``--embed`` refuse, since
where it ends is a guess and replacing a guess could delete the user's lines.
"""

from __future__ import annotations

from ce.lockfiles import LockError
from ce.script.blocks import Block, find_blocks
from ce.script.edit import insertion_index
from ce.script.metadata import LOCK_BLOCK, SCRIPT_BLOCK, check_single_blocks
from ce.text import newline_of, split_lines

__all__ = ["LOCK_BLOCK", "check_embeddable", "embed", "embedded_lock"]


def embedded_lock(text: str, path: str = "<script>") -> Block | None:
    """The script's lock block, if it has one (two are an error naming both lines)."""
    blocks = [block for block in find_blocks(text)[0] if block.type == LOCK_BLOCK]
    check_single_blocks(blocks, path)
    return blocks[0] if blocks else None


def check_embeddable(text: str, path: str = "<script>") -> None:
    """Refuse to embed a lock in a script with an unclosed lock block (it would hold two)."""
    embedded_lock(text, path)
    for block in find_blocks(text)[1]:
        if block.type == LOCK_BLOCK:
            raise LockError(
                f"{path}:{block.start_line}: an unclosed '# /// {LOCK_BLOCK}' block (no '# ///' line closes it); "
                "close or delete it, then embed again"
            )


def _block_lines(lock_text: str, newline: str) -> list[str]:
    lines = [f"# /// {LOCK_BLOCK}{newline}"]
    lines.extend(("# " + line if line else "#") + newline for line in lock_text.rstrip("\n").split("\n"))
    lines.append(f"# ///{newline}")
    return lines


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def embed(text: str, lock_text: str, path: str = "<script>") -> str:
    """*text* with *lock_text* in its lock block."""
    check_embeddable(text, path)
    newline = newline_of(text)
    lines = split_lines(text, keepends=True)
    new_block = _block_lines(lock_text, newline)
    existing = embedded_lock(text, path)
    if existing is not None:
        lines[existing.start_line - 1 : existing.end_line] = new_block
        return "".join(lines)
    scripts = [block for block in find_blocks(text)[0] if block.type == SCRIPT_BLOCK]
    index = scripts[0].end_line if scripts else insertion_index(lines)
    if index > 0 and not lines[index - 1].endswith(("\n", "\r")):
        lines[index - 1] += newline
    if scripts:
        new_block.insert(0, newline)  # apart from the script block: PEP 723 would read one block
    if index < len(lines) and _is_comment(lines[index]):
        new_block.append(newline)  # apart from a comment below
    lines[index:index] = new_block
    return "".join(lines)
