"""A one-line status on a terminal while ce fetches, solves, downloads and links.

rattler's repodata gateway draws nothing while it works, so a cold run
would show a blank screen for as long as the network takes.  A
:class:`Status` redraws one line on stderr (spinner, phase, elapsed
seconds) from a daemon thread, so it keeps moving while the caller waits
on rattler; it is disabled (draws nothing, starts no thread) on a pipe or
with ``-q``, and clears its line when closed, before the run's own output.
Only cold paths import it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from types import TracebackType
from typing import TextIO

from ce.text import one_line

_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_INTERVAL = 0.1


def human_bytes(count: int) -> str:
    """*count* bytes as a status line shows them: ``812 kB``, ``12.4 MB``."""
    if count < 1000:
        return f"{count} B"
    if count < 1_000_000:
        return f"{count / 1000:.0f} kB"
    if count < 1_000_000_000:
        return f"{count / 1_000_000:.1f} MB"
    return f"{count / 1_000_000_000:.2f} GB"


class Status:
    """The status line: ``with Status(enabled) as status: status.show("solving")``.

    :meth:`show` and :meth:`detail` may be called from any thread.  When
    *enabled* is false every method does nothing.
    """

    def __init__(self, enabled: bool, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = bool(enabled) and self._stream is not None
        self._phase = ""
        self._detail = ""
        self._since = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = False

    def show(self, phase: str) -> None:
        """Start showing *phase* (``fetching repodata from conda-forge``); its clock starts now."""
        if not self.enabled:
            return
        with self._lock:
            if phase != self._phase:
                self._phase, self._detail, self._since = phase, "", time.monotonic()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ce-status", daemon=True)
            self._thread.start()

    def detail(self, text: str) -> None:
        """Show *text* after the phase (``3/7, 12.4 MB``)."""
        if self.enabled:
            with self._lock:
                self._detail = text

    def close(self) -> None:
        """Stop drawing and clear the line."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(2)
        self._thread = None
        with self._lock:
            if self._drawn:
                self._write("\r\x1b[K")
                self._drawn = False

    def __enter__(self) -> Status:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            self.enabled = False

    def _line(self, frame: int) -> str:
        elapsed = time.monotonic() - self._since
        # a phase names channels and specs, a detail a package: from outside, so escaped
        parts = [f"{_FRAMES[frame % len(_FRAMES)]} {one_line(self._phase)}"]
        if self._detail:
            parts.append(one_line(self._detail))
        if elapsed >= 1:
            parts.append(f"{elapsed:.0f} s")
        line = " · ".join(parts)
        try:
            width = os.get_terminal_size(self._stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            width = 0
        if width < 20:  # unknown (a pty nobody sized reports 0 columns)
            width = 80
        return line[: max(10, width - 1)]

    def _run(self) -> None:
        frame = 0
        while not self._stop.wait(_INTERVAL if frame else 0.0):
            with self._lock:
                if not self.enabled:
                    return
                self._write("\r\x1b[K" + self._line(frame))
                self._drawn = True
            frame += 1
