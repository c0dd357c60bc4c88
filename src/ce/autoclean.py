"""The automatic-cleanup counter: every N runs, remove environments unused for D days.

Counting is on the warm path, so this module only uses ``os``; the cleanup
itself (:mod:`ce.envs.store`) is imported only when it is due.
"""

import os

from ce.fileio import read_regular, write_atomically
from ce.paths import CachePaths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_INTERVAL = 50
DEFAULT_AGE_DAYS = 30.0


class CleanSettings:
    """Automatic-cleanup settings read from the environment, with warnings for bad values."""

    __slots__ = ("age_days", "enabled", "interval", "warnings")

    def __init__(self, environ: "Mapping[str, str]") -> None:
        self.warnings: list[str] = []
        self.enabled = environ.get("CONDA_EXEC_AUTO_CLEAN", "1").strip().lower() not in ("0", "false", "no", "off")
        self.interval = int(self._number(environ, "CONDA_EXEC_CLEAN_INTERVAL", DEFAULT_INTERVAL, integer=True))
        self.age_days = self._number(environ, "CONDA_EXEC_CLEAN_AGE", DEFAULT_AGE_DAYS, integer=False)

    def _number(self, environ: "Mapping[str, str]", name: str, default: float, integer: bool) -> float:
        raw = environ.get(name)
        if raw is None or not raw.strip():
            return default
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            value = -1
        if not 0 < value < float("inf"):  # also refuses NaN
            self.warnings.append(f"ignoring {name}={raw!r}: expected a positive number; using {default:g}")
            return default
        return value


def _read_count(path: str) -> int:
    """The counter in *path*; 0 unless it is a regular file (not a link) holding a number (a FIFO never blocks)."""
    data = read_regular(path, 31, follow_symlinks=False)
    try:
        return int(data or b"0")
    except ValueError:
        return 0


def bump_run_count(paths: CachePaths, interval: int) -> bool:
    """Count this run; return True (and restart the count) when cleanup is due.

    Best effort: a lost increment under concurrency only delays cleanup.
    """
    count = _read_count(paths.run_count) + 1
    due = count >= interval
    if os.path.islink(paths.locks) or os.path.islink(paths.envs):
        return False  # the temporary file would be written through the link
    try:
        # The temporary file lives under envs/, where cleanup may sweep it if a kill leaves it.
        write_atomically(paths.run_count, "0" if due else str(count), 0o600, temporary_dir=paths.locks)
    except OSError:
        return False
    return due
