"""Entry point of the ``ce`` command (``launcher/ce``) and of ``python -m ce``: the warm path first, then the full CLI.

Nothing else imports this module (``ce.cli`` imports :mod:`ce.fastpath`, which must not import ``ce.cli``).
It goes without ``from __future__ import annotations``, like every module a cache hit imports.
"""

import os
import sys

from ce.fastpath import is_ce_error, run_warm, write_missing_bytecode


def run(argv: list[str] | None = None) -> int:
    """Run ce with *argv* (default ``sys.argv[1:]``); return the exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    write_missing_bytecode()
    try:
        # A plain dict: every os.environ lookup encodes and decodes, and a hit reads ~40 variables
        # and copies them all for the tool.
        run_warm(args, dict(os.environ))
    except Exception as error:  # a tool found but unable to start
        if not is_ce_error(error):
            raise
        from ce.cli import report_error

        return report_error(error, verbose=False)
    from ce.cli import main as cli_main

    return cli_main(args)


def _reopen_closed_standard_streams() -> None:
    """Give a closed stdin, stdout or stderr (``>&-``) ``/dev/null`` instead.

    Otherwise the next file ce opens (a lock file) would become fd 1 or 2 and
    the tool's output would land in it; and ``sys.stdout`` would be ``None``.
    """
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)
            if opened != fd:  # pragma: no cover - fds are allocated lowest first
                os.dup2(opened, fd)
                os.close(opened)
            if getattr(sys, name) is None:
                setattr(sys, name, open(fd, mode, closefd=False))  # noqa: SIM115 - lives as long as the process


def main() -> int:
    """The ``ce`` command: :func:`run`, then exit.

    py-rattler 0.28 can crash the interpreter while it finalizes (its runtime
    threads outlive Python's), so once rattler is loaded ce leaves with
    ``os._exit`` after flushing its output.
    """
    _reopen_closed_standard_streams()
    code = run()
    if "rattler" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
