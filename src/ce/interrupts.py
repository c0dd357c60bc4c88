"""Ctrl-C on the full command line: once pressed, the run ends with 130 and writes nothing more.

Python turns SIGINT into :class:`KeyboardInterrupt` wherever the main thread runs, but
``asyncio.run`` (3.11+) turns it into a cancellation of its task instead, which the task can
finish without seeing: ``asyncio.wait_for`` returns the result of a future that completed in the
same step (CPython 3.11), and rattler's futures complete on their own threads.  A run then went
on and wrote its lock after Ctrl-C.

So the CLI installs :func:`catch_interrupts`: a handler that counts every SIGINT; inside
:func:`run_async` it cancels the coroutine as asyncio would (and raises
:class:`KeyboardInterrupt` once the loop is back, however the coroutine ended), elsewhere it
raises :class:`KeyboardInterrupt` at once.  Writers call :func:`raise_if_interrupted` before
they write, for an interrupt some foreign code swallowed.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

#: SIGINTs received since :func:`catch_interrupts`; the asyncio tasks that :func:`run_async` runs now.
_count = [0]
_tasks: list[Any] = []


def _on_sigint(_signum: int, _frame: object) -> None:
    _count[0] += 1
    task = _tasks[-1] if _tasks else None
    if task is not None and not task.done() and not getattr(task, "_ce_interrupted", False):
        # As asyncio.run does: cancel the task (the first time) and let the loop unwind it; a
        # second Ctrl-C raises at once.  run_async raises KeyboardInterrupt afterwards.
        task._ce_interrupted = True
        task.cancel()
        task.get_loop().call_soon_threadsafe(lambda: None)  # wake a loop blocked in select()
        return
    raise KeyboardInterrupt


def catch_interrupts() -> None:
    """Count SIGINTs from now on (see the module's docstring); an ignored SIGINT stays ignored."""
    if sys.platform == "win32":  # pragma: no cover - no SIGINT from the console there to count
        return
    try:
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _on_sigint)
    except ValueError:  # not the main thread: Python's own handling stays
        pass


def interrupted() -> bool:
    """Whether a SIGINT arrived since :func:`catch_interrupts`."""
    return _count[0] > 0


def raise_if_interrupted() -> None:
    """Raise :class:`KeyboardInterrupt` if a SIGINT arrived (some code may have swallowed it)."""
    if _count[0]:
        raise KeyboardInterrupt


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coroutine)``, except that a SIGINT during it always ends in :class:`KeyboardInterrupt`."""
    import asyncio

    before = _count[0]

    async def main() -> T:
        task = asyncio.current_task()
        _tasks.append(task)
        try:
            return await coroutine
        finally:
            _tasks.remove(task)

    try:
        result = asyncio.run(main())
    except BaseException:
        # A cancelled coroutine may end in any error (a backend's own, for a cut transfer): Ctrl-C wins.
        if _count[0] > before:
            raise KeyboardInterrupt from None
        raise
    if _count[0] > before:
        raise KeyboardInterrupt
    return result
