"""Entry point of the ``ce`` command: the warm path first, then the full CLI."""

from __future__ import annotations

import os
import sys


def run(argv: list[str] | None = None) -> int:
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
    """The console script: :func:`run`, then exit.

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
