"""YAML reading and writing for the lock formats (PyYAML, with its C speedups when present)."""

from __future__ import annotations

from typing import Any

import yaml

from ce.lockfiles import LockError

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load(text: str, what: str) -> dict[str, Any]:
    """Parse *text* as a YAML mapping, with a one-line error naming *what* it is."""
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise LockError(f"{what}: invalid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise LockError(f"{what}: expected a YAML mapping")
    return data


def dump(data: dict[str, Any]) -> str:
    """YAML text for *data*, keys in the order given."""
    text: str = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000)
    return text
