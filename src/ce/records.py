"""Backend-neutral data passed between the frontend and solver backends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SolveRequest:
    """What to solve: specs, channels (URLs, in priority order), target platform."""

    specs: tuple[str, ...]
    channels: tuple[str, ...]
    platform: str
    offline: bool = False
    show_progress: bool = False
    #: ``None`` means detect this machine's virtual packages (honouring ``CONDA_OVERRIDE_*``).
    virtual_packages: tuple[str, ...] | None = None


@dataclass(frozen=True)
class LockedPackage:
    """One solved package: everything needed to download, verify and lock it."""

    name: str
    version: str
    build: str
    build_number: int
    subdir: str
    url: str
    channel: str
    sha256: str | None = None
    md5: str | None = None
    depends: tuple[str, ...] = ()
    constrains: tuple[str, ...] = ()
    license: str | None = None
    size: int | None = None
    timestamp: int | None = None
    noarch: str | None = None
    #: Where a ``python`` package's site-packages is, when not the usual place (free-threaded builds).
    python_site_packages_path: str | None = None
    #: The backend's own record, when the packages came from that backend's solve.
    native: Any = field(default=None, compare=False, repr=False)
    #: Where the archive comes from (without credentials) when ``url`` names ce's verified local copy of it:
    #: the URL a package cache should record, as a download from there would.
    origin_url: str | None = field(default=None, compare=False, repr=False)

    @property
    def filename(self) -> str:
        """The package file name, from its URL."""
        return self.url.rsplit("/", 1)[-1]

    def __str__(self) -> str:
        return f"{self.name}-{self.version}-{self.build}"


@dataclass(frozen=True)
class PypiPackage:
    """One locked PyPI distribution: the exact archive to install, and what its metadata says."""

    name: str
    version: str
    url: str
    sha256: str | None = None
    requires_dist: tuple[str, ...] = ()
    requires_python: str | None = None

    @property
    def filename(self) -> str:
        """The archive's file name, from its URL (percent-escapes decoded)."""
        from urllib.parse import unquote, urlsplit

        return unquote(urlsplit(self.url).path.rsplit("/", 1)[-1])

    def __str__(self) -> str:
        return f"{self.name} {self.version}"
