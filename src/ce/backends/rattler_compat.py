"""One code path for every py-rattler in ce's supported range (0.26 to 0.28).

py-rattler 0.27 added ``BuildString`` (``PackageRecord`` and
``GenericVirtualPackage`` require it from then on; 0.26 takes a plain
``str``) and renamed ``Platform`` to ``Subdir`` (0.28 still has ``Platform``
but warns).  conda-rattler-solver pins py-rattler 0.26, so ce must work on
both ends: everything version-dependent goes through here.
"""

from __future__ import annotations

from typing import Any

import rattler

_BUILD_STRING: Any = getattr(rattler, "BuildString", None)
_SUBDIR: Any = getattr(rattler, "Subdir", None) or rattler.Platform


def build_string(value: str) -> Any:
    """A build string as this py-rattler takes it: ``BuildString`` from 0.27, ``str`` before."""
    return _BUILD_STRING(value) if _BUILD_STRING is not None else value


def subdir(name: str) -> Any:
    """A platform (subdir) as this py-rattler takes it: ``Subdir`` from 0.27, ``Platform`` before."""
    return _SUBDIR(name)
