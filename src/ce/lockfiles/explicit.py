"""``explicit``: conda's ``@EXPLICIT`` spec files, one per platform, for ``conda create --file``.

URLs are listed in install order (dependencies first), each with its hash:
``#sha256:<hex>`` when known, else ``#<md5>``.  A bare 64-character
``#<hex>`` (what ``conda list --explicit --sha256`` writes) is read as sha256.
"""

from __future__ import annotations

from ce.lockfiles import (
    LockData,
    LockError,
    PatternSidecars,
    check_listed_once,
    checked_hash,
    install_order,
    make_package,
    url_fields,
)
from ce.records import LockedPackage
from ce.text import split_lines

MARKER = "@EXPLICIT"
PLATFORM_COMMENT = "# platform: "


def split_checksum(line: str) -> tuple[str, str]:
    """(URL, checksum) of an explicit line: the checksum follows a ``#`` after the file name, as conda reads it.

    A ``#`` before the last ``/`` belongs to the URL (an unencoded one in a
    ``user:password@`` part), never to the checksum: the line reads as the
    same URL does in the other formats.
    """
    url, hash_mark, checksum = line.rpartition("#")
    if not hash_mark or "/" in checksum:
        return line, ""
    return url, checksum


class Explicit(PatternSidecars):
    """The ``explicit`` format backend: one file per platform."""

    multi_platform = False
    #: An explicit file lists conda archives only: a script with PyPI dependencies cannot be locked in it.
    carries_pypi = False

    def detect(self, text: str) -> bool:
        """Whether *text* looks like this format."""
        return any(line.strip() == MARKER for line in split_lines(text))

    def dumps(self, lock: LockData) -> str:
        """The explicit file of a single-platform *lock*."""
        if len(lock.platforms) != 1:
            raise LockError("an explicit lock holds one platform; ce writes one file per platform")
        (platform,) = lock.platforms
        if lock.pypi_for(platform):
            raise LockError("an explicit lock cannot hold PyPI packages: use rattler-lock-v6 or conda-lock")
        lines = [f"{PLATFORM_COMMENT}{platform}", MARKER]
        for package in install_order(lock.packages[platform]):
            if package.sha256:
                lines.append(f"{package.url}#sha256:{package.sha256}")
            elif package.md5:
                lines.append(f"{package.url}#{package.md5}")
            else:
                raise LockError(f"{package}: no hash to write")
        return "\n".join(lines) + "\n"

    def loads(self, text: str) -> LockData:
        """Lock data (one platform) from an explicit file."""
        platform = None
        packages: list[LockedPackage] = []
        wheres: list[str] = []
        seen_marker = False
        for number, raw in enumerate(split_lines(text), start=1):
            line = raw.strip()
            if line.startswith(PLATFORM_COMMENT):
                platform = line[len(PLATFORM_COMMENT) :].strip()
                continue
            if not line or line.startswith("#"):
                continue
            if line == MARKER:
                seen_marker = True
                continue
            if not seen_marker:
                raise LockError(f"line {number}: package URLs must follow {MARKER}")
            url, checksum = split_checksum(line)
            sha256 = md5 = None
            if checksum.startswith("sha256:"):
                sha256 = checksum[len("sha256:") :]
            elif checksum.startswith("md5:"):
                md5 = checksum[len("md5:") :]
            elif len(checksum) == 64:  # `conda list --explicit --sha256` writes a bare sha256
                sha256 = checksum
            elif checksum:
                md5 = checksum
            where = f"line {number}"
            packages.append(
                make_package(url, sha256=checked_hash(sha256, "sha256", where), md5=checked_hash(md5, "md5", where))
            )
            wheres.append(f"{where} ({url})")
        if not seen_marker:
            raise LockError(f"not an explicit lock: no {MARKER} line")
        if platform is None:
            subdirs = {url_fields(p.url).subdir for p in packages} - {"noarch", None}
            if len(subdirs) != 1:
                raise LockError(f"cannot tell the platform of the explicit lock: add a '{PLATFORM_COMMENT}...' line")
            platform = str(subdirs.pop())
        check_listed_once(platform, zip((p.name.lower() for p in packages), wheres, strict=True))
        channels = tuple(dict.fromkeys(p.channel for p in packages if p.channel))
        return LockData(channels, {platform: tuple(packages)})
