"""URLs as ce writes and shows them: never with the credentials a channel URL may carry.

Two forms are credentials: ``user:password@`` before the host, and conda's
``/t/<token>/`` path segment (anaconda.org and conda's own ``conda token``).
Both belong in rattler's authentication storage (which stores a
``CondaToken`` per host and puts ``/t/<token>`` back into each request),
``~/.netrc`` or the channel URL the user configures, not in a lock file that
is committed beside a script, nor in an environment's ``conda-meta``, nor in a
message.  :func:`with_credentials_of` puts a configured channel's credentials
back into a lock's credential-free URL at install time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote

#: conda's token segment, where conda's ``split_anaconda_token`` finds it: ``/t/<token>`` then ``/`` or the end.
#: Any segment, not only conda's token alphabet: rattler shows a channel's token as ``/t/********``.
_TOKEN = re.compile(r"/t/[^/?#]+(?=/|$)")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _split(url: str) -> tuple[str, str, str] | None:
    """(``scheme://``, authority, the rest from the first ``/``), or ``None`` for a URL without ``//``.

    The authority ends at the first ``/`` only, not at ``?`` or ``#``: a
    password holding those characters unencoded must still be found whole.
    """
    scheme = _SCHEME.match(url)
    if scheme is None:
        return None
    head = scheme.group(0)
    authority, slash, rest = url[len(head) :].partition("/")
    return head, authority, slash + rest


def without_credentials(url: str) -> str:
    """*url* without its ``user:password@`` part and conda's ``/t/<token>`` segment (else unchanged).

    ``file://`` URLs name local paths, where a ``/t/`` directory is just a
    directory: only their ``user@`` part is removed.
    """
    parts = _split(url)
    if parts is None:
        return url
    head, authority, rest = parts
    host = authority.rsplit("@", 1)[-1]
    if not head.lower().startswith("file:"):
        rest = _TOKEN.sub("", rest)
    return head + host + rest


def encoded_credentials(url: str) -> str:
    """*url* with its ``user:password@`` part percent-encoded where it must be (``#``, ``?``, ``/``, ``@``).

    A password typed into a lock as it is (``user:p#ss@host``) would end the
    authority early for every URL parser, rattler's included: the URL then
    names another host or none.  Encoded, it reaches the server unchanged.
    """
    parts = _split(url)
    if parts is None or "@" not in parts[1]:
        return url
    head, authority, rest = parts
    userinfo, host = authority.rsplit("@", 1)
    return head + quote(userinfo, safe="%:!$&'()*+,;=-._~") + "@" + host + rest


def has_credentials(url: str) -> bool:
    """Whether *url* carries ``user:password@`` or a conda token."""
    return without_credentials(url) != url


def with_credentials_of(url: str, channels: Iterable[str]) -> str:
    """*url* with the credentials of the configured channel it lies under, else *url* unchanged.

    A lock holds ``https://host/chan/noarch/x.conda``; when the run's
    channels include ``https://host/t/<token>/chan`` (or
    ``https://user:pw@host/chan``), the archive is fetched as that channel
    would fetch it.  A URL that already carries credentials keeps its own.
    """
    if has_credentials(url):
        return url
    for channel in channels:
        plain = without_credentials(channel).rstrip("/")
        if plain == channel.rstrip("/") or not (url.rstrip("/") == plain or url.startswith(plain + "/")):
            continue
        return channel.rstrip("/") + url[len(plain) :]
    return url


_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"()<>]+")


def masked(text: str) -> str:
    """*text* (a message) with every URL in it shown :func:`without_credentials`."""
    return _URL_IN_TEXT.sub(lambda found: without_credentials(found.group(0)), text)
