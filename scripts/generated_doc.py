"""The command line shared by the scripts that generate a file under docs/: write it, or check it is current."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def main(description: str, target: Path, render: Callable[[], str], argv: Sequence[str] | None = None) -> int:
    """Write ``render()`` to *target*, or with ``--check`` exit 1 when *target* differs from it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help=f"only check that {target.name} is current")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = target.read_text() if target.exists() else ""
        if current != text:
            print(f"{target} is out of date: run {Path(sys.argv[0]).name}", file=sys.stderr)
            return 1
        return 0
    target.write_text(text)
    return 0
