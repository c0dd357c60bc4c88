"""``--add``: edit a script's ``[tool.conda] dependencies`` with tomlkit.

Only the lines of the ``# /// script`` block change (or a new block is
inserted after the shebang and encoding lines); every other byte of the file
stays as it was, and inside the block tomlkit keeps comments, spacing,
quoting and key order.  The file is replaced atomically with its mode kept.
"""

from __future__ import annotations

import re

import tomlkit
import tomlkit.items
from tomlkit.exceptions import TOMLKitError

from ce.errors import ScriptError
from ce.fileio import write_atomically
from ce.script.blocks import find_blocks
from ce.script.metadata import SCRIPT_BLOCK, _legacy_block, parse_metadata, read_script
from ce.specs import normalize_spec, spec_package_name
from ce.text import newline_of, split_lines

ENCODING_LINE = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*[-_.a-zA-Z0-9]+")


def _comment_lines(content: str, newline: str) -> list[str]:
    lines = content.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [("# " + line if line else "#") + newline for line in lines]


def _add_to_document(document: tomlkit.TOMLDocument, specs: list[str]) -> list[str]:
    tool = document.get("tool")
    if tool is None:
        tool = tomlkit.table(is_super_table=True)
        document.append("tool", tool)
    conda = tool.get("conda")
    if conda is None:
        conda = tomlkit.table()
        tool.append("conda", conda)
    dependencies = conda.get("dependencies")
    if dependencies is None:
        dependencies = tomlkit.array()
        conda.append("dependencies", dependencies)
    if not isinstance(dependencies, list):
        raise ScriptError("[tool.conda] dependencies is not a list; fix it by hand first")
    changes = []
    for spec in specs:
        name = spec_package_name(spec)
        for index, existing in enumerate(dependencies):
            if isinstance(existing, str) and spec_package_name(normalize_spec(existing)) == name:
                if normalize_spec(existing) == spec:
                    changes.append(f"kept {spec!r}: already in [tool.conda] dependencies")
                else:
                    dependencies[index] = spec
                    changes.append(f"replaced {str(existing)!r} with {spec!r} in [tool.conda] dependencies")
                break
        else:
            dependencies.append(spec)
            changes.append(f"added {spec!r} to [tool.conda] dependencies")
    return changes


def insertion_index(lines: list[str]) -> int:
    """Where a new block goes: after a shebang and an encoding line, if any."""
    index = 0
    if lines and lines[0].startswith("#!"):
        index = 1
    if index < len(lines) and ENCODING_LINE.match(lines[index]):
        index += 1
    return index


def edit_text(text: str, specs: list[str], path: str = "<script>") -> tuple[str, list[str]]:
    """Return *text* with *specs* added to its metadata, and a description of each change."""
    normalized = []
    for spec in specs:
        spec_text = normalize_spec(spec)
        spec_package_name(spec_text)
        normalized.append(spec_text)
    metadata = parse_metadata(text, path)  # refuses malformed blocks before anything is edited
    newline = newline_of(text)
    lines = split_lines(text, keepends=True)
    blocks = [block for block in find_blocks(text)[0] if block.type == SCRIPT_BLOCK]
    if blocks:
        block = blocks[0]
        try:
            document = tomlkit.parse(block.content)
        except TOMLKitError as error:  # pragma: no cover - parse_metadata refused it already
            raise ScriptError(f"{path}:{block.start_line}: {error}") from None
        changes = _add_to_document(document, normalized)
        new_lines = _comment_lines(tomlkit.dumps(document), newline)
        lines[block.start_line : block.end_line - 1] = new_lines
    else:
        if metadata.source == "conda-execute":
            legacy = _legacy_block(split_lines(text))
            line = legacy.start_line if legacy else 1
            raise ScriptError(
                f"{path}:{line}: this script uses a legacy '# conda execute' block; "
                "--add edits '# /// script' metadata: convert the block first"
            )
        document = tomlkit.document()
        changes = _add_to_document(document, normalized)
        block_lines = [f"# /// {SCRIPT_BLOCK}{newline}", *_comment_lines(tomlkit.dumps(document), newline)]
        block_lines.append(f"# ///{newline}")
        index = insertion_index(lines)
        if index > 0 and not lines[index - 1].endswith(("\n", "\r")):
            lines[index - 1] += newline  # a shebang with no newline at the end of the file
        if index < len(lines) and lines[index].strip():
            block_lines.append(newline)  # keep the block apart from the code or comments after it
        lines[index:index] = block_lines
    new_text = "".join(lines)
    parse_metadata(new_text, path)  # the result must read back
    return new_text, changes


def add_dependencies(path: str, specs: list[str]) -> list[str]:
    """Add *specs* to the script at *path*; return one line per change."""
    text = read_script(path)
    new_text, changes = edit_text(text, specs, path)
    if new_text != text:
        write_atomically(path, new_text)
    return [f"{path}: {change}" for change in changes]
