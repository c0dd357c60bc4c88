"""The one place that knows where ce keeps things.

Layout under the cache home (``~/.conda/exec`` or ``$CONDA_EXEC_HOME``)::

    run-count                       automatic-cleanup counter
    envs/<name>--<hash16>/          complete environments, and nothing else
    envs/.locks/<name>--<hash16>.lock        in-use lock (shared while a tool runs)
    envs/.locks/<name>--<hash16>.build.lock  one builder per key
    envs/.locks/<name>--<hash16>.refresh.lock  a replacement waiting for running tools
    envs/.index/<key>                        the script index (see ce.script.index)
    envs/.build-<name>--<hash16>-<random>/   an environment being built
    envs/.trash-<name>--<hash16>-<random>/   an environment being removed

Only plain ``os`` is used here: this module is on the warm path.
"""

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

HOME_VARIABLE = "CONDA_EXEC_HOME"
LOCKS_DIRNAME = ".locks"
INDEX_DIRNAME = ".index"
#: Verified lock archives, under rattler's cache root (see ce.envs.fetch).
VERIFIED_STORE_DIRNAME = "ce-verified"
BUILD_PREFIX = ".build-"
TRASH_PREFIX = ".trash-"


def cache_home(environ: "Mapping[str, str] | None" = None) -> str:
    """Return the absolute cache home, honouring ``$CONDA_EXEC_HOME``."""
    env = os.environ if environ is None else environ
    configured = env.get(HOME_VARIABLE)
    if configured:
        return os.path.abspath(os.path.expanduser(configured))
    return os.path.join(os.path.expanduser("~"), ".conda", "exec")


def rattler_cache_root(environ: "Mapping[str, str] | None" = None) -> str:
    """rattler's cache root, shared with pixi: ``$RATTLER_CACHE_DIR`` or the platform default.

    Repodata lives in ``<root>/repodata`` and packages in ``<root>/pkgs``.
    """
    env = os.environ if environ is None else environ
    configured = env.get("RATTLER_CACHE_DIR")
    if configured:
        return os.path.abspath(os.path.expanduser(configured))
    if sys.platform == "win32":  # pragma: no cover - Windows
        base = env.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
    elif sys.platform == "darwin":  # pragma: no cover - macOS
        base = os.path.join(os.path.expanduser("~"), "Library", "Caches")
    else:
        base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "rattler", "cache")


class CachePaths:
    """Paths inside one cache home."""

    __slots__ = ("envs", "index", "locks", "root", "run_count")

    def __init__(self, root: str) -> None:
        self.root = root
        self.envs = os.path.join(root, "envs")
        self.locks = os.path.join(self.envs, LOCKS_DIRNAME)
        self.index = os.path.join(self.envs, INDEX_DIRNAME)
        self.run_count = os.path.join(root, "run-count")

    @classmethod
    def from_environ(cls, environ: "Mapping[str, str] | None" = None) -> "CachePaths":
        """The paths of the cache home selected by the environment."""
        return cls(cache_home(environ))

    def env(self, name: str) -> str:
        """Directory of the complete environment called *name*."""
        return os.path.join(self.envs, name)

    def history(self, name: str) -> str:
        """``conda-meta/history`` of *name*: its presence marks a complete environment."""
        return os.path.join(self.envs, name, "conda-meta", "history")

    def in_use_lock(self, name: str) -> str:
        """Lock file held shared by every process running from *name*."""
        return os.path.join(self.locks, name + ".lock")

    def refresh_lock(self, name: str) -> str:
        """Lock file held by a ``--refresh`` waiting to replace *name*: new runs wait briefly for it."""
        return os.path.join(self.locks, name + ".refresh.lock")

    def build_lock(self, name: str) -> str:
        """Lock file held by the one process building *name*."""
        return os.path.join(self.locks, name + ".build.lock")


def sidecar_names(patterns: tuple[str, ...], script_name: str, platform: str) -> list[str]:
    """Lock sidecar file names for the script called *script_name*, from a format's *patterns*.

    A pattern is formatted with ``name`` (the script's file name), ``stem``
    (without its last suffix) and ``platform``; a ``{stem}`` pattern is
    skipped for a script without a suffix.
    """
    stem = script_name.rsplit(".", 1)[0] if "." in script_name else script_name
    names: list[str] = []
    for pattern in patterns:
        if "{stem}" in pattern and stem == script_name:
            continue
        name = pattern.format(name=script_name, stem=stem, platform=platform)
        if name not in names:
            names.append(name)
    return names
