"""The full command line of the ``ce`` command (``launcher/ce``) and of ``python -m ce``, after the warm path.

The launcher calls :func:`ce.fastpath.start` itself and imports this module only when that
returns (not a cache hit): one module fewer on every warm run.  Nothing else imports this
module (``ce.cli`` imports :mod:`ce.fastpath`, which must not import ``ce.cli``).
It goes without ``from __future__ import annotations``, like the modules a cache hit imports.
"""

import os
import sys

from ce.fastpath import start


def run_full(args: list[str], warm_error: Exception | None = None) -> int:
    """The full command line for *args*; return the exit status.

    *warm_error* is what :func:`ce.fastpath.start` returned: the error of a tool it found
    but could not start (reported here), or ``None`` when *args* was not a cache hit.
    """
    if warm_error is not None:
        from ce.cli import report_error

        return report_error(warm_error, verbose=False)
    try:
        from ce.cli import main as cli_main
    except KeyboardInterrupt:  # Ctrl-C while the full command line loads: as ce.cli.main reports it
        sys.stderr.write("ce: interrupted\n")
        return 130
    return cli_main(args)


def main_after_warm(args: list[str], warm_error: Exception | None) -> int:
    """The ``ce`` command once :func:`ce.fastpath.start` returned: :func:`run_full`, then exit.

    py-rattler 0.28 can crash the interpreter while it finalizes (its runtime
    threads outlive Python's), so once rattler is loaded ce leaves with
    ``os._exit`` after flushing its output.
    """
    code = run_full(args, warm_error)
    if "rattler" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def main() -> int:
    """The ``ce`` command: the warm path, then the full command line."""
    args = sys.argv[1:]
    return main_after_warm(args, start(args))


if __name__ == "__main__":
    sys.exit(main())
