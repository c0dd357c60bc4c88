"""YAML reading and writing for the lock formats (the bounded reader of :mod:`ce.config.bounded_yaml`)."""

from __future__ import annotations

from typing import Any

import yaml

from ce.config import bounded_yaml
from ce.lockfiles import LockError

#: A lock larger than this is refused (the readers cap the file at the same size).
MAX_LOCK_BYTES = 64 * 1024 * 1024


def load(text: str, what: str) -> dict[str, Any]:
    """Parse *text* as a YAML mapping, with a one-line error naming *what* it is."""
    try:
        data = bounded_yaml.load(text, MAX_LOCK_BYTES)
    except bounded_yaml.YamlLimitError as error:
        raise LockError(f"{what}: refused{bounded_yaml.where(error)}: {error.message}") from None
    except yaml.YAMLError as error:
        where = bounded_yaml.where(error)
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise LockError(f"{what}: invalid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise LockError(f"{what}: expected a YAML mapping")
    return data


def dump(data: dict[str, Any]) -> str:
    """YAML text for *data*, keys in the order given."""
    text: str = yaml.dump(data, Dumper=bounded_yaml.Dumper, sort_keys=False, default_flow_style=False, width=1000)
    return text
