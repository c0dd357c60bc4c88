"""The ``conda exec`` subcommand: ce registered through conda's ``conda_subcommands`` hook.

conda imports every plugin module on every command that loads plugins, so
this module imports nothing of its own beyond ``ce`` (the version and error
classes): the command line, the warm path and the backends are imported when
``conda exec`` runs.  conda hands the subcommand every argument after
``exec`` untouched (no ``configure_parser``), and ce's own parser reads them
with prog ``conda exec``, so every option and message is ``ce``'s.

Differences from ``ce``: the default solver is ``conda`` (conda's configured
solver and transaction, with the context conda's own command line already
loaded) when conda's solver API is importable; condarc files are read under
conda's own root (``$CONDA_ROOT/.condarc`` as conda read it, shell hook or
not); and behind ``-c`` no default channel is added (conda's channel list).  Errors are ce's: one line,
``conda exec: error: ...``, and ce's exit code (conda's ``main_subshell``
exits with the action's return value).

When conda-exec is installed here with its conda plugin, it owns
``conda exec`` and this plugin registers ``conda exec-ce`` instead (see
:mod:`ce.conda_owner`): two plugins with one subcommand name make conda fail
on every command.

Only conda's current plugin API is used (``conda.plugins.types``,
``conda.plugins.hookimpl``, ``conda.CondaError``), present from conda 25.1
to conda's main branch.
"""

from __future__ import annotations

import os
import sys

from conda.plugins import hookimpl  # type: ignore[import-not-found,unused-ignore]
from conda.plugins.types import CondaSubcommand  # type: ignore[import-not-found,unused-ignore]

from ce.errors import CeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

PROG = "conda exec"
PROG_BESIDE_CONDA_EXEC = "conda exec-ce"
SUMMARY = "Run a conda package's command, or a script with inline metadata, from a cached, isolated environment."
_EXIT_INTERRUPTED = 130

_error_types: dict[str, type[Exception]] = {}


def default_solver() -> str:
    """The conda solver when conda's solver API can be imported, else ce's own default."""
    from ce.backends.builtin import CONDA_SOLVER, DEFAULT_SOLVER

    try:
        import conda.base.context  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except Exception:
        return DEFAULT_SOLVER
    return CONDA_SOLVER


def conda_error(error: CeError) -> Exception:
    """*error* as a conda ``CondaError`` of the same name, carrying ce's exit code as ``return_code``.

    The message goes in as a keyword (``"%(text)s"``; ``message`` is the name of the first parameter): conda up to 26.5
    always %-formats the message, conda 26.7 and later only when keywords are
    given, so this is the one spelling that shows a ``%`` as it is on both.
    """
    from conda import CondaError  # type: ignore[import-not-found,unused-ignore]

    name = type(error).__name__
    if name not in _error_types:
        _error_types[name] = type(name, (CondaError,), {"__module__": __name__})
    message = " ".join(str(error).split()) or name
    converted = _error_types[name]("%(text)s", text=message)  # type: ignore[call-arg,unused-ignore]
    converted.return_code = error.exit_code  # type: ignore[attr-defined]
    return converted


def _arguments(arguments: object) -> list[str]:
    """The arguments after ``exec``: conda passes a sequence (a tuple from its greedy parser)."""
    if isinstance(arguments, (list, tuple)):
        return [str(argument) for argument in arguments]
    return [str(argument) for argument in getattr(arguments, "_args", ())]


def _run(argv: list[str], prog: str) -> int:
    from ce.backends.conda_solver import use_context_of_conda_cli
    from ce.fastpath import run_warm, write_missing_bytecode

    write_missing_bytecode()
    # conda's CLI loaded its configuration and arguments: keep them, and read condarc files under
    # conda's root (without the CONDA_ROOT conda set for itself), on the warm path too.
    use_context_of_conda_cli()
    # A cache hit execs the tool and never returns.  A plain dict, as ce.fastpath.start passes: the
    # warm path reads ~40 variables and then copies them all, and os.environ decodes on every access.
    run_warm(argv, dict(os.environ), prog)
    from ce.cli import Cli, parse_args
    from ce.interrupts import catch_interrupts

    catch_interrupts()
    namespace = parse_args(argv, prog)
    if namespace.solver is None:
        namespace.solver = namespace.defaults["solver"] = default_solver()  # a default, not a choice
    return Cli(namespace, prog).run()


def _leave(code: int) -> int:
    """py-rattler can crash the interpreter while it finalizes: once loaded, exit at once."""
    if "rattler" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def execute(arguments: Sequence[str], prog: str = PROG) -> int:
    """The ``conda exec`` action: run ce's command line with prog ``conda exec``; return the exit status."""
    argv = _arguments(arguments)
    try:
        code = _run(argv, prog)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        code = _EXIT_INTERRUPTED
    except Exception as error:  # ce's errors, and a backend's panic: one line, as ``ce`` reports them
        from ce.cli import report_error
        from ce.fastpath import wants_verbose
        from ce.interrupts import interrupted

        if interrupted():  # an error that follows Ctrl-C is its consequence: reported as the interrupt
            print(f"{prog}: interrupted", file=sys.stderr)
            code = _EXIT_INTERRUPTED
        else:
            code = report_error(error, wants_verbose(argv), prog)
    return _leave(code)


def execute_beside_conda_exec(arguments: Sequence[str]) -> int:
    """The ``conda exec-ce`` action, registered when conda-exec owns ``conda exec``."""
    return execute(arguments, PROG_BESIDE_CONDA_EXEC)


@hookimpl  # type: ignore[untyped-decorator,misc,unused-ignore]
def conda_subcommands() -> Iterator[CondaSubcommand]:
    """Register ``conda exec`` (``exec-ce`` beside conda-exec); it parses its own arguments."""
    from ce.conda_owner import SUBCOMMAND, subcommand_name

    name = subcommand_name()
    if name == SUBCOMMAND:
        yield CondaSubcommand(name=name, summary=SUMMARY, action=execute)
    else:  # conda-exec owns `exec`: registering it too would make conda fail on every command
        summary = f"{SUMMARY} (ce's; `conda exec` is conda-exec's)"
        yield CondaSubcommand(name=name, summary=summary, action=execute_beside_conda_exec)
