"""The one YAML reader for files ce does not control (condarc files, lock files, legacy script blocks).

PyYAML builds nested nodes recursively (its C composer can overflow the C
stack: a segfault) and expands aliases (an alias bomb takes all memory).  So
the text is first checked event by event, which needs no recursion: a size
limit, a nesting depth limit, and no aliases at all (no lock or condarc needs
them).  Only then is it loaded, with the C speedups when present.
"""

from __future__ import annotations

from typing import Any

import yaml

#: Deeper than this is refused (real condarc and lock files nest fewer than 10 levels).
MAX_DEPTH = 100

Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
YAMLError = yaml.YAMLError


class YamlLimitError(ValueError):
    """YAML text beyond a limit; :attr:`line` is 1-based (0 when unknown)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def where(error: Exception) -> str:
    """`` at line N`` for a :class:`YamlLimitError` or a PyYAML error that knows its line, else ``""``."""
    if isinstance(error, YamlLimitError):
        return f" at line {error.line}" if error.line else ""
    mark = getattr(error, "problem_mark", None)
    return f" at line {mark.line + 1}" if mark is not None else ""


def _line(event: Any) -> int:
    mark = getattr(event, "start_mark", None)
    return mark.line + 1 if mark is not None else 0


def check(text: str, max_bytes: int, max_depth: int = MAX_DEPTH, loader: Any = Loader) -> None:
    """Raise :class:`YamlLimitError` if *text* is too large, too deep or uses an alias.

    Raises ``yaml.YAMLError`` for text that is not YAML.
    """
    if len(text) > max_bytes:
        raise YamlLimitError(0, f"larger than {max_bytes} bytes")
    events = loader(text)
    try:
        depth = 0
        while events.check_event():
            event = events.get_event()
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > max_depth:
                    raise YamlLimitError(_line(event), f"nested deeper than {max_depth} levels")
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
            elif isinstance(event, yaml.AliasEvent):
                raise YamlLimitError(_line(event), "YAML aliases (*name) are not accepted")
            elif isinstance(event, yaml.NodeEvent) and event.anchor is not None:
                raise YamlLimitError(_line(event), "YAML anchors (&name) are not accepted")
    finally:
        events.dispose()


def load(text: str, max_bytes: int, max_depth: int = MAX_DEPTH, pure: bool = False) -> Any:
    """*text* parsed as YAML within the limits (:func:`check`), with PyYAML's safe loader.

    With *pure*, the pure-Python loader (whose error positions are more precise) is used.
    """
    loader = yaml.SafeLoader if pure else Loader
    check(text, max_bytes, max_depth, loader)
    return yaml.load(text, Loader=loader)
