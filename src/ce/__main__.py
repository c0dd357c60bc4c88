"""Entry point of the ``ce`` command: the warm path first, then the full CLI."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    """Run ce with *argv* (default ``sys.argv[1:]``); return the exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    from ce.errors import CeError

    try:
        from ce.fastpath import run_warm

        run_warm(args, os.environ)
    except CeError as error:
        from ce.cli import report_error

        return report_error(error, verbose=False)
    from ce.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
