"""URLs as ce writes them: never with the ``user:password@`` a channel URL may carry.

Credentials belong in rattler's authentication storage or ``~/.netrc``, not
in a lock file that is committed beside a script, nor in an environment's
``conda-meta``, nor in a message.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def without_credentials(url: str) -> str:
    """*url* without its ``user:password@`` part (unchanged when it has none or cannot be parsed)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
