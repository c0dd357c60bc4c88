"""Reading a script's dependency metadata.

Two sources, in this order: a PEP 723 ``# /// script`` block (with an
optional ``[tool.conda]`` table), or the legacy conda-execute block
(``# conda execute`` followed by YAML-like ``env:``, ``channels:``,
``run_with:`` lists).  Every error names the file and line.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from dataclasses import dataclass, field, replace
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from ce.errors import ScriptError
from ce.script.blocks import Block, UnclosedBlock, find_blocks
from ce.specs import matchspec_error, normalize_spec, spec_package_name
from ce.text import BOM, split_lines

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SCRIPT_BLOCK = "script"
#: The block a lock is embedded in (:mod:`ce.script.embed`).
LOCK_BLOCK = "conda-exec-lock"
TOML_POSITION = re.compile(r"\(at line (?P<line>\d+), column (?P<column>\d+)\)")
CONDA_KEYS = ("channels", "dependencies", "run-with")
TOP_LEVEL_KEYS = ("requires-python", "dependencies", "tool")
LEGACY_MARKERS = ("# conda execute", "# conda execute:")
LEGACY_SKIPPED = re.compile(r"^ *# *#")
LEGACY_KEYS = ("env", "channels", "run_with")
MAX_SCRIPT_BYTES = 16 * 1024 * 1024
#: Arrays and inline tables nested deeper than this are refused (parsers recurse per level).
MAX_TOML_DEPTH = 100
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class WrittenInput:
    """A script block's dependency values as written."""

    requires_python: str | None
    pypi_dependencies: tuple[str, ...]
    conda_dependencies: tuple[str, ...]
    conda_channels: tuple[str, ...]


@dataclass(frozen=True)
class ScriptMetadata:
    """What a script declares about its environment, as written (validated, not normalized)."""

    requires_python: str | None = None
    pypi_dependencies: tuple[str, ...] = ()
    conda_channels: tuple[str, ...] = ()
    conda_dependencies: tuple[str, ...] = ()
    run_with: tuple[str, ...] | None = None
    #: ``"pep723"``, ``"conda-execute"`` or ``"none"``
    source: str = "none"
    warnings: tuple[str, ...] = field(default=(), compare=False)
    #: The PEP 723 values exactly as written (no strip, ``""`` kept): what the lock digest hashes.
    as_written: WrittenInput | None = field(default=None, compare=False)

    def digest_input(self) -> WrittenInput:
        """What the lock's input digest hashes: the values as written, as conda-exec hashes them.

        A conda-execute block (which conda-exec does not read) hashes the values ce read.
        """
        if self.as_written is not None:
            return self.as_written
        return WrittenInput(self.requires_python, self.pypi_dependencies, self.conda_dependencies, self.conda_channels)

    @property
    def names_python(self) -> bool:
        """Whether a conda dependency is the package ``python`` itself."""
        return any(spec_package_name(spec) == "python" for spec in self.conda_dependencies)


def _fail(path: str, line: int, message: str) -> ScriptError:
    return ScriptError(f"{path}:{line}: {message}")


def _line_of(block: Block, needle: str) -> int:
    """The file line where *needle* appears in *block* (the opening line if nowhere)."""
    known = block.key_lines.get(needle)
    if known is not None:
        return known
    for offset, text in enumerate(block.lines, start=1):
        if needle in text:
            return block.start_line + offset
    return block.start_line


def _string_list(path: str, block: Block, value: object, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise _fail(path, _line_of(block, key), f"{key} must be a list of non-empty strings")
    return tuple(item.strip() for item in value)


def nesting_error(block: Block) -> int | None:
    """The file line where arrays and inline tables in *block* nest deeper than :data:`MAX_TOML_DEPTH`.

    TOML parsers recurse once per level, so the depth is checked first (strings and
    comments skipped); ``None`` when the block is shallow enough.
    """
    depth = 0
    quote = ""  # the open string's delimiter: ", ', """ or '''
    for offset, line in enumerate(block.lines, start=1):
        text = line[2:] if line.startswith("# ") else ""
        index, length = 0, len(text)
        if len(quote) == 1:
            quote = ""  # single-line strings end with their line (else the parser reports it)
        while index < length:
            char = text[index]
            if quote:
                if char == "\\" and quote[0] == '"':
                    index += 2
                    continue
                if text.startswith(quote, index):
                    index += len(quote)
                    quote = ""
                    continue
            elif char in "\"'":
                quote = char * 3 if text.startswith(char * 3, index) else char
                index += len(quote)
                continue
            elif char == "#":
                break
            elif char in "[{":
                depth += 1
                if depth > MAX_TOML_DEPTH:
                    return block.start_line + offset
            elif char in "]}":
                depth = max(depth - 1, 0)
            index += 1
    return None


def _parse_toml(path: str, block: Block) -> dict[str, Any]:
    deep = nesting_error(block)
    if deep is not None:
        raise _fail(path, deep, f"the script metadata nests deeper than {MAX_TOML_DEPTH} levels")
    try:
        return tomllib.loads(block.content)
    except RecursionError:
        raise _fail(path, block.start_line + 1, "the script metadata nests too deeply to read") from None
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        reason = TOML_POSITION.sub("", message).replace("(at end of document)", "at the end of the block").strip()
        position = TOML_POSITION.search(message)
        content_line = int(position.group("line")) if position else 0
        if not 1 <= content_line <= len(block.lines):
            # without a position ("at end of document") the block ran out before the value did
            raise _fail(path, block.end_line, f"invalid TOML in the script metadata block: {reason}") from None
        assert position is not None
        source = block.lines[content_line - 1]
        # the parser counts columns in the content, which lost the line's "# " (or "#")
        column = int(position.group("column")) + (2 if source.startswith("# ") else 1)
        line = block.file_line(content_line)
        failure = ScriptError(f"{path}:{line}:{column}: invalid TOML in the script metadata block: {reason}")
        failure.excerpt = (line, source, column)
        raise failure from None


def _conda_specs(path: str, block: Block, specs: tuple[str, ...], key: str) -> tuple[str, ...]:
    """Validate *specs*; they are kept as written (the lock digest hashes them so)."""
    for spec in specs:
        try:
            spec_package_name(normalize_spec(spec))
        except Exception as error:
            raise _fail(path, _line_of(block, spec), f"invalid conda dependency {spec!r} in {key}: {error}") from None
    for spec in specs:  # then a real MatchSpec parse (imports rattler: metadata is read on the cold path only)
        reason = matchspec_error(spec)
        if reason is not None:
            raise _fail(path, _line_of(block, spec), f"invalid conda dependency {spec!r} in {key}: {reason}")
    return specs


def _from_pep723(path: str, block: Block) -> ScriptMetadata:
    data = _parse_toml(path, block)
    warnings = [
        f"{path}:{_line_of(block, key)}: unknown key {key!r} in the script block (known: {', '.join(TOP_LEVEL_KEYS)})"
        for key in data
        if key not in TOP_LEVEL_KEYS
    ]
    requires_python = data.get("requires-python")
    if requires_python is not None:
        if not isinstance(requires_python, str):
            raise _fail(path, _line_of(block, "requires-python"), "requires-python must be a string")
        try:
            SpecifierSet(requires_python)
        except InvalidSpecifier:
            line = _line_of(block, "requires-python")
            raise _fail(path, line, f"invalid requires-python {requires_python!r}") from None
    pypi = _string_list(path, block, data.get("dependencies", []), "dependencies")
    for requirement in pypi:
        try:
            Requirement(requirement)
        except InvalidRequirement as error:
            line = _line_of(block, requirement)
            reason = str(error).splitlines()[0]
            raise _fail(path, line, f"invalid PyPI dependency {requirement!r}: {reason}") from None
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise _fail(path, _line_of(block, "tool"), "tool must be a table")
    conda = tool.get("conda", {})
    if not isinstance(conda, dict):
        raise _fail(path, _line_of(block, "conda"), "[tool.conda] must be a table")
    warnings.extend(
        f"{path}:{_line_of(block, key)}: unknown key {key!r} in [tool.conda] (known: {', '.join(CONDA_KEYS)})"
        for key in conda
        if key not in CONDA_KEYS
    )
    run_with = conda.get("run-with")
    conda_dependencies = _string_list(path, block, conda.get("dependencies", []), "dependencies")
    conda_channels = _string_list(path, block, conda.get("channels", []), "channels")
    as_written = WrittenInput(
        requires_python,
        tuple(data.get("dependencies", [])),
        tuple(conda.get("dependencies", [])),
        tuple(conda.get("channels", [])),
    )
    return ScriptMetadata(
        requires_python=requires_python.strip() if requires_python else None,
        pypi_dependencies=pypi,
        conda_channels=conda_channels,
        conda_dependencies=_conda_specs(path, block, conda_dependencies, "[tool.conda]"),
        run_with=None if run_with is None else _string_list(path, block, run_with, "run-with") or None,
        source="pep723",
        warnings=tuple(warnings),
        as_written=as_written,
    )


def _legacy_block(lines: list[str]) -> Block | None:
    """conda-execute's block: from its marker while the stripped lines start with ``#``."""
    for index, line in enumerate(lines):
        if line.strip() in LEGACY_MARKERS:
            end = index + 1
            while end < len(lines) and lines[end].strip().startswith("#"):
                end += 1
            return Block("conda-execute", index + 1, end, tuple(lines[index + 1 : end]))
    return None


def _from_conda_execute(path: str, block: Block) -> ScriptMetadata:
    """The block read as conda-execute's ``extract_spec`` read it.

    Lines matching ``^ *# *#`` are skipped, every other line is stripped of
    spaces and ``#`` at both ends (so indentation is lost), and the lines are
    one YAML document (read by the bounded reader).  A string ``run_with`` is
    split on whitespace (ce also takes a list); keys other than ``env``,
    ``channels`` and ``run_with`` are ignored, as conda-execute ignored them.
    """
    from ce.config import bounded_yaml

    kept = [
        (block.start_line + offset, line.strip(" #\n"))
        for offset, line in enumerate(block.lines, start=1)
        if not LEGACY_SKIPPED.match(line)
    ]
    try:
        data = bounded_yaml.load("\n".join(text for _line, text in kept), MAX_SCRIPT_BYTES, pure=True) or {}
    except bounded_yaml.YamlLimitError as error:
        line = kept[min(error.line, len(kept)) - 1][0] if error.line and kept else block.start_line
        raise _fail(path, line, f"invalid conda execute block: {error.message}") from None
    except bounded_yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = kept[min(mark.line, len(kept) - 1)][0] if mark is not None and kept else block.start_line
        raise _fail(path, line, f"invalid conda execute block: {getattr(error, 'problem', error)}") from None
    if not isinstance(data, dict):
        raise _fail(path, block.start_line, "the conda execute block must hold env:, channels: and run_with: lists")
    warnings: list[str] = []
    if "env" not in data:
        unknown = [str(key) for key in data if key not in LEGACY_KEYS]
        hint = f" (unknown keys: {', '.join(unknown)})" if unknown else ""
        warnings.append(
            f"{path}:{block.start_line}: the conda execute block has no env: list{hint}; "
            "running without its dependencies, as conda-execute did"
        )
    env = _string_list(path, block, data.get("env") or [], "env")
    run_with = data.get("run_with")
    if isinstance(run_with, str):
        run_with = run_with.split()
    return ScriptMetadata(
        conda_channels=_string_list(path, block, data.get("channels") or [], "channels"),
        conda_dependencies=_conda_specs(path, block, env, "env"),
        run_with=None if run_with is None else _string_list(path, block, run_with, "run_with") or None,
        source="conda-execute",
        warnings=tuple(warnings),
    )


def parse_metadata(text: str, path: str = "<script>") -> ScriptMetadata:
    """The metadata of a script whose source is *text* (a leading BOM is ignored)."""
    if text.startswith(BOM):
        text = text[1:]
    blocks, unclosed = find_blocks(text)  # PEP 723: an unclosed block MUST be ignored
    check_single_blocks(blocks, path)
    # ... but an unclosed lock block is most likely a damaged lock: say so (conda-exec warns too)
    warnings = tuple(unclosed_lock_warning(path, block.start_line) for block in unclosed if block.type == LOCK_BLOCK)
    script_blocks = [block for block in blocks if block.type == SCRIPT_BLOCK]
    if not script_blocks:  # ... and a script block that never closes leaves the script without its metadata
        warnings += tuple(unclosed_script_warning(path, block) for block in unclosed if block.type == SCRIPT_BLOCK)
    if script_blocks:
        metadata = _from_pep723(path, script_blocks[0])
        return replace(metadata, warnings=metadata.warnings + warnings) if warnings else metadata
    legacy = _legacy_block(split_lines(text))
    if legacy is not None:
        metadata = _from_conda_execute(path, legacy)
        return replace(metadata, warnings=metadata.warnings + warnings)
    return ScriptMetadata(warnings=warnings)


def check_single_blocks(blocks: list[Block], path: str) -> None:
    """PEP 723: several blocks of one type MUST be an error; it names both lines."""
    first_of: dict[str, Block] = {}
    for block in blocks:
        first = first_of.setdefault(block.type, block)
        if first is not block:
            raise _fail(
                path, block.start_line, f"a second '# /// {block.type}' block (the first is at line {first.start_line})"
            )


def unclosed_script_warning(path: str, block: UnclosedBlock) -> str:
    """The warning for a ``# /// script`` line that no ``# ///`` closes, and what ended it.

    Only given when no closed script block exists (an unclosed one beside the real block is a
    usage example, say in a docstring); the block is still ignored, as PEP 723 requires. It
    names the blank line when one ended the block (that is the line to fix), else the opening.
    """
    ignored = "ignored (PEP 723), so the script runs without its dependencies"
    opening = f"'# /// {SCRIPT_BLOCK}'"
    if block.stop_line is None:
        return f"{path}:{block.start_line}: no '# ///' line closes the {opening} block: it is {ignored}"
    if block.stop_blank:
        return (
            f"{path}:{block.stop_line}: a blank line ends the {opening} block of line {block.start_line} "
            f"before any '# ///' (inside a block, write '#' for an empty line): it is {ignored}"
        )
    return (
        f"{path}:{block.start_line}: the {opening} block ends at line {block.stop_line} (not a '#' comment) "
        f"without a '# ///' line: it is {ignored}"
    )


def unclosed_lock_warning(path: str, line: int) -> str:
    """The warning for a ``# /// conda-exec-lock`` line that no ``# ///`` closes."""
    return f"{path}:{line}: ignoring an unclosed '# /// {LOCK_BLOCK}' block (no '# ///' line closes it)"


def read_script(path: str) -> str:
    """The text of the script at *path* (a leading BOM removed), with a clear error when it cannot be read."""
    text = read_script_text(path)
    return text[1:] if text.startswith(BOM) else text


def read_script_text(path: str, fd: int | None = None) -> str:
    """The whole text of the script at *path* (from *fd* when given), BOM included.

    Only a regular file is read: a FIFO or a device is refused without blocking.
    """
    try:
        if fd is None:
            fd = handle_fd = os.open(path, os.O_RDONLY | _O_NONBLOCK | _O_CLOEXEC)
        else:
            handle_fd = -1
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ScriptError(f"{path}: not a regular file")
            data = _read_all(fd, MAX_SCRIPT_BYTES + 1)
        finally:
            if handle_fd >= 0:
                os.close(handle_fd)
    except OSError as error:
        raise ScriptError(f"cannot read script {path}: {error.strerror}") from error
    return decode_script(data, path)


def _read_all(fd: int, limit: int) -> bytes:
    chunks = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(1024 * 1024, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def decode_script(data: bytes, path: str) -> str:
    """*data* as script text, refusing what is too large, binary or not UTF-8."""
    if len(data) > MAX_SCRIPT_BYTES:
        raise ScriptError(f"{path}: larger than {MAX_SCRIPT_BYTES // (1024 * 1024)} MiB; is it really a script?")
    if b"\0" in data[:8192]:
        raise ScriptError(f"{path}: a binary file, not a script")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ScriptError(f"{path}:{line}: not valid UTF-8") from None


def _held_descriptor(path: str) -> int | None:
    """The descriptor of ce's own that *path* names (``/dev/stdin``, ``/dev/fd/N``, ``/proc/self/fd/N``)."""
    if path == "/dev/stdin":
        return 0
    for prefix in ("/dev/fd/", "/proc/self/fd/"):
        number = path[len(prefix) :]
        if path.startswith(prefix) and number.isdigit() and len(number) < 8:
            return int(number)
    return None


def hold_piped_script(path: str) -> bool:
    """Make a script given as a pipe ce holds open (``cat s.py | ce /dev/stdin``, ``ce <(cat s.py)``) a file.

    *path* must name one of ce's own descriptors (see :func:`_held_descriptor`) that is a
    pipe or a socket, and the very one that path opens (so a named FIFO, which nobody
    may ever write, is still refused as "not a regular file").  The pipe is read once,
    bounded as any script, and its bytes are put in an anonymous file at the same descriptor,
    so *path* names a regular file for the rest of the run and for the interpreter, which
    reads it from the start, as ``python /dev/stdin`` reads the pipe.  On standard input the
    script then reads nothing more (the end of the file), as it would under ``python``.
    Returns whether *path* was such a pipe.
    """
    fd = _held_descriptor(path)
    if fd is None or sys.platform == "win32":
        return False
    try:
        held = os.fstat(fd)
        if not (stat.S_ISFIFO(held.st_mode) or stat.S_ISSOCK(held.st_mode)) or not os.path.samestat(
            held, os.stat(path)
        ):
            return False
        data = _read_all(fd, MAX_SCRIPT_BYTES + 1)
    except OSError:
        return False
    decode_script(data, path)  # too large, binary or not UTF-8: refused before anything runs
    if hasattr(os, "memfd_create"):
        copy = os.memfd_create("ce-script", 0)
    else:  # pragma: no cover - macOS and BSDs: an unlinked temporary file
        import tempfile

        with tempfile.TemporaryFile() as handle:
            copy = os.dup(handle.fileno())
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(copy, view) :]
        # Linux opens /dev/fd/N afresh (from the start); elsewhere it shares this offset.
        os.lseek(copy, 0, os.SEEK_END if sys.platform.startswith("linux") else os.SEEK_SET)
        os.dup2(copy, fd)  # inheritable, so the interpreter finds it at the same path
    finally:
        os.close(copy)
    return True
