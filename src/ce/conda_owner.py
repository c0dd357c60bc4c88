"""Who owns conda's ``exec`` subcommand here: ce, or conda-exec.

conda-exec (a separate project) registers ``conda exec`` through conda's
plugin hook too, and conda refuses two plugins that register one subcommand
name: with both installed, every conda command (``conda --help`` included)
fails with a ``PluginError``.  So when conda-exec is installed with its conda
plugin, ce's plugin registers ``exec-ce`` and leaves ``exec`` to conda-exec;
``ce --version`` and ``ce --backends`` say so.

The check is one distribution lookup by name, and when conda-exec is there a
look at its ``entry_points.txt`` headers: conda's own plugin loading has
already listed every ``sys.path`` directory (``importlib.metadata`` caches
the listings), so inside conda it costs 0.08-0.15 ms without conda-exec and
0.3-0.4 ms with it (conda 26.7.1 and main, six ``sys.path`` entries),
where ``importlib.metadata.entry_points(group="conda")`` (a scan of every
distribution) costs 1.1 ms.  conda's own start is over 100 ms.
"""

from __future__ import annotations

#: conda-exec's distribution name, and the entry-point group conda loads plugins from
CONDA_EXEC_DISTRIBUTION = "conda-exec"
CONDA_ENTRY_POINT_GROUP = "conda"
#: the subcommand ce registers, and the one it registers when conda-exec owns ``exec``
SUBCOMMAND = "exec"
SUBCOMMAND_BESIDE_CONDA_EXEC = "exec-ce"


def conda_exec_version() -> str | None:
    """conda-exec's version when it is installed here with a conda plugin (it then owns ``conda exec``), else None."""
    import importlib.metadata

    try:
        distribution = importlib.metadata.distribution(CONDA_EXEC_DISTRIBUTION)
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None
    # the groups' header lines, not parsed entry points: a third of the cost (about 0.1 ms inside conda)
    groups = (distribution.read_text("entry_points.txt") or "").splitlines()
    if f"[{CONDA_ENTRY_POINT_GROUP}]" not in (line.strip() for line in groups):
        return None
    version = distribution.version  # None when the metadata names none
    return str(version) if version else "(unknown version)"


def subcommand_name() -> str:
    """The name ce's conda plugin registers: ``exec``, or ``exec-ce`` beside conda-exec's ``exec``."""
    return SUBCOMMAND if conda_exec_version() is None else SUBCOMMAND_BESIDE_CONDA_EXEC


def ownership_note() -> str | None:
    """One paragraph on who owns ``conda exec`` when conda-exec does (None when ce does)."""
    version = conda_exec_version()
    if version is None:
        return None
    return (
        f"conda exec here is conda-exec {version}'s: both register conda's `exec` subcommand, and conda refuses "
        f"two plugins with one name, so ce's plugin registers `conda {SUBCOMMAND_BESIDE_CONDA_EXEC}` instead. "
        f"To make `conda exec` ce's, uninstall conda-exec (`pip uninstall conda-exec` or `conda remove conda-exec`), "
        f"then reinstall ce: both install a `ce` command, and removing conda-exec removes it. "
        "`python -m ce` runs ce whichever `ce` command is installed."
    )
