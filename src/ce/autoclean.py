"""The automatic-cleanup counter: every N runs, remove environments unused for D days.

Counting is on the warm path, so this module only uses :mod:`ce.fileio`
and :mod:`ce.paths`; the cleanup itself (:mod:`ce.envs.store`) is imported only when it is due.
"""

from ce.fileio import tally
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


#: The counter restarts at any size beyond this, whatever put it there.
MAX_COUNT_BYTES = 1 << 20


def bump_run_count(paths: CachePaths, interval: int) -> bool:
    """Count this run; return True (and restart the count) when cleanup is due.

    The count is the length of ``run-count`` (:func:`ce.fileio.tally`): each run
    appends one byte, so concurrent runs lose no count and exactly one of them
    comes due, and a warm run pays for no file creation or rename (a rename on
    ext4 alone took ~0.35 ms here).  Best effort: a cache this user cannot
    write is not counted.
    """
    return tally(paths.run_count, interval, MAX_COUNT_BYTES) is True
