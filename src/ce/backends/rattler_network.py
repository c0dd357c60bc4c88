"""py-rattler's HTTP client as ce configures it, and rattler's network errors as one line.

One client serves the repodata gateway and the installer: rattler's
authentication storage (``RATTLER_AUTH_FILE``, keyring, ``~/.netrc``),
retries (``remote_max_retries``), proxies (``proxy_servers``) and TLS
settings (``ssl_verify``), all from the conda configuration
(:mod:`ce.config.condarc`).

rattler's errors are multi-line chains (``…\\nCaused by: …``) whose first
line is the same for a DNS failure, a refused connection and a timeout;
:func:`explain` reads the whole chain and says what failed and what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import stat
import threading
import time
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ce.config.settings import CondaSettings, file_kind, home_of
from ce.errors import ConfigurationError
from ce.urls import masked, without_credentials

T = TypeVar("T")

_URL = re.compile(r"for url \(([^)\s]+)\)")
_FETCHING = re.compile(r"^failed to fetch (\S+)")
_CHANNEL = re.compile(r"in channel '([^']+)'")
_STATUS = re.compile(r"HTTP status (?:client|server) error \((\d{3}) ([^)]*)\)")
_RETRIES = re.compile(r"Request failed after (\d+) retries")

#: What a failure looks like in rattler's error chain, most specific first.
_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("disk_full", ("No space left on device", "os error 28")),
    ("dns", ("dns error", "failed to lookup address", "Name or service not known")),
    ("refused", ("Connection refused", "os error 111")),
    ("timeout", ("operation timed out", "timed out")),
    ("tls", ("invalid peer certificate", "certificate verify", "UnknownIssuer", "InvalidCertificate")),
    ("auth", ("(401 ", "(403 ")),
    ("not_found", ("(404 ",)),
    ("server", ("HTTP status server error",)),
    ("dropped", ("end of file before message length", "error decoding response body", "connection reset")),
    ("checksum", ("hash mismatch",)),
    ("offline", ("no usable repodata cache",)),
)


def classify(text: str) -> str:
    """The kind of failure a rattler error *text* describes (``"other"`` when unknown)."""
    for kind, needles in _KINDS:
        if any(needle in text for needle in needles):
            return kind
    return "other"


def redact(url: str) -> str:
    """*url* without the ``user:password@`` part or conda's ``/t/<token>``, for messages."""
    return without_credentials(url)


def proxy_for(url: str, settings: CondaSettings, environ: Mapping[str, str]) -> str | None:
    """The proxy a request to *url* goes through (``proxy_servers``, else ``*_PROXY``), or ``None``."""
    parts = urlsplit(url)
    scheme, host = parts.scheme, parts.hostname or ""
    if scheme not in ("http", "https"):
        return None
    configured = settings.proxy_servers.get(f"{scheme}://{host}") or settings.proxy_servers.get(scheme)
    if configured:
        return configured
    no_proxy = environ.get("NO_PROXY", environ.get("no_proxy", ""))
    for entry in (item.strip().lstrip(".") for item in no_proxy.split(",")):
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return None
    return environ.get(f"{scheme}_proxy") or environ.get(f"{scheme.upper()}_PROXY") or None


def _config_toml(settings: CondaSettings) -> str:
    lines = []
    if settings.ssl_verify == "false":
        lines.append("tls-no-verify = true")
    proxies = {scheme: url for scheme, url in settings.proxy_servers.items() if scheme in ("http", "https")}
    if proxies:
        lines.append("[proxy-config]")
        lines.extend(f"{scheme} = {json.dumps(url)}" for scheme, url in sorted(proxies.items()))
    return "\n".join(lines) + "\n"


def make_client(settings: CondaSettings) -> object:
    """One ``rattler.Client`` for repodata and packages, configured from *settings*.

    Authentication middleware, ``remote_max_retries`` retries, proxies and
    TLS verification as configured; a CA bundle named by ``ssl_verify`` is
    handed to rattler through ``SSL_CERT_FILE``.  rattler's client has only a
    total per-request timeout, so none is set here: the caller bounds a
    stalled transfer with a deadline (:func:`deadline_secs`).
    """
    check_network_files(settings, os.environ)
    import rattler

    if settings.ssl_verify not in ("true", "false"):
        os.environ["SSL_CERT_FILE"] = settings.ssl_verify
    config = rattler.Config.from_toml(_config_toml(settings))
    return rattler.Client.from_config(config, max_retries=settings.remote_max_retries)


def network_files(settings: CondaSettings, environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """The files rattler's client reads by itself, as ``(what names it, path)``.

    rattler's authentication storage reads ``$RATTLER_AUTH_FILE``,
    ``~/.rattler/credentials.json`` and ``$NETRC`` (else ``~/.netrc``) when
    the client is built; TLS reads the CA bundle ``ssl_verify`` names (handed
    over as ``SSL_CERT_FILE``), else ``$SSL_CERT_FILE`` when set.
    """
    home = home_of(environ)
    files: list[tuple[str, str]] = []
    if environ.get("RATTLER_AUTH_FILE"):
        files.append(("RATTLER_AUTH_FILE names", environ["RATTLER_AUTH_FILE"]))
    files.append(("rattler's credentials file", os.path.join(home, ".rattler", "credentials.json")))
    netrc = environ.get("NETRC")
    files.append(("NETRC names", netrc) if netrc else ("the netrc file", os.path.join(home, ".netrc")))
    if settings.ssl_verify not in ("true", "false"):
        source = settings.sources.get("ssl_verify", "the configuration")
        files.append((f"ssl_verify in {source} names", settings.ssl_verify))
    elif settings.ssl_verify == "true" and environ.get("SSL_CERT_FILE"):
        files.append(("SSL_CERT_FILE names", environ["SSL_CERT_FILE"]))
    return files


def _refuse_special_files(files: list[tuple[str, str]]) -> None:
    """Refuse the first of *files* (``(what names it, path)``) that exists and is not a regular file.

    Only ``stat`` is used (an ``open`` of a FIFO blocks); a file that does not exist is fine
    (rattler reads nothing), and one that cannot be looked at is left to rattler to report.
    """
    for what, path in files:
        try:
            mode = os.stat(path).st_mode
        except (OSError, ValueError):
            continue
        if not stat.S_ISREG(mode):
            raise ConfigurationError(
                f"{what} {path}, which is {file_kind(mode)}, not a regular file: replace or remove it"
            )


def check_network_files(settings: CondaSettings, environ: Mapping[str, str]) -> None:
    """Refuse a FIFO, device or directory where rattler expects one of its :func:`network_files`.

    rattler opens them with a blocking read, so a FIFO there would hang every run that builds a client.
    """
    _refuse_special_files(network_files(settings, environ))


def check_files_read_at_import(environ: Mapping[str, str]) -> None:
    """Refuse a special file named by ``SSL_CERT_FILE`` before ``rattler`` is imported.

    py-rattler 0.26 reads that bundle while it is imported, before any client
    exists, so a FIFO there hangs ``import rattler`` itself (0.28 reads it when
    a client is built: :func:`check_network_files`).
    """
    path = environ.get("SSL_CERT_FILE")
    if path:
        _refuse_special_files([("SSL_CERT_FILE names", path)])


def deadline_secs(settings: CondaSettings) -> float:
    """How long a repodata fetch may stall before ce gives up: ``remote_read_timeout_secs``."""
    return settings.remote_read_timeout_secs


def format_secs(secs: float) -> str:
    """*secs* as a message shows it: ``60``, ``2.5``."""
    return str(int(secs)) if secs == math.floor(secs) else f"{secs:g}"


def _cause(text: str) -> str:
    """The last ``Caused by:`` line of a rattler error chain (its root cause), or the first line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    last = lines[-1]
    return last.split("Caused by:", 1)[1].strip() if last.startswith("Caused by:") else lines[0]


def explain(
    error: BaseException | str,
    *,
    doing: str,
    settings: CondaSettings,
    environ: Mapping[str, str],
    deadline: float | None = None,
) -> str:
    """One line for a rattler network *error*: what failed, where, and what to do next.

    *doing* starts the line (``"cannot read channel repodata"``).  Every URL in
    it is shown without credentials, wherever rattler's text put it.
    """
    return masked(_explain(error, doing=doing, settings=settings, environ=environ, deadline=deadline))


def _explain(
    error: BaseException | str,
    *,
    doing: str,
    settings: CondaSettings,
    environ: Mapping[str, str],
    deadline: float | None,
) -> str:
    text = str(error)
    found = _URL.search(text)
    url = found.group(1) if found else None
    shown = redact(url) if url else None
    fetching = _FETCHING.search(text)
    where = f" ({shown})" if shown else f" ({fetching.group(1)})" if fetching else ""
    host = (urlsplit(url).hostname or url) if url else "the server"
    kind = classify(text)
    offline = "; or use --offline to run from the caches"
    if kind == "dns":
        return (
            f"{doing}: name resolution failed for {host}{where}: check the channel URL (-c) and your network{offline}"
        )
    if kind == "refused":
        proxy = proxy_for(url, settings, environ) if url else None
        if proxy:
            return (
                f"{doing}: connection refused by the proxy {redact(proxy)} for {shown}: "
                f"check proxy_servers in condarc (or HTTP(S)_PROXY){offline}"
            )
        return f"{doing}: connection refused by {host}{where}: is the server up? check the channel URL (-c){offline}"
    if kind == "timeout":
        secs = format_secs(deadline if deadline is not None else settings.remote_read_timeout_secs)
        return (
            f"{doing}: timed out after {secs} s{where}: "
            f"raise remote_read_timeout_secs in condarc, or check the network or proxy_servers{offline}"
        )
    if kind == "tls":
        return (
            f"{doing}: TLS verification failed for {host}{where}: {_cause(text)}; "
            "set ssl_verify in condarc to your CA bundle (or false to skip verification)"
        )
    status = _STATUS.search(text)
    answer = f"{status.group(1)} {status.group(2)}" if status else ""
    if kind == "auth":
        return (
            f"{doing}: {shown or host} answered {answer}: credentials needed or refused; "
            "put them in ~/.netrc or the file RATTLER_AUTH_FILE names (or user:password@ in the channel URL)"
        )
    if kind == "not_found":
        channel = _CHANNEL.search(text)
        named = f" {redact(channel.group(1))}" if channel else ""
        return (
            f"{doing}: no such channel or subdir{named}: {shown or host} answered 404 Not Found: check the channel (-c)"
        )
    if kind == "server":
        retried = _RETRIES.search(text)
        after = f" (after {retried.group(1)} retries)" if retried else ""
        return f"{doing}: {shown or host} answered {answer}{after}: the server failed; try again later{offline}"
    if kind == "disk_full":
        return (
            f"{doing}: disk full (no space left on device): "
            "free space, or point RATTLER_CACHE_DIR or pkgs_dirs in condarc at a larger disk"
        )
    if kind == "dropped":
        return f"{doing}: the connection dropped mid-transfer{where}: try again{offline}"
    if kind == "offline":
        mark = " (offline: only cached repodata is used)"
        return f"{doing}{'' if doing.endswith(mark) else mark}: {_cause(text)}"  # the caller may have said it
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)
    cause = _cause(text)
    return f"{doing}: {first}" + (f": {cause}" if cause and cause != first else "")


# --- bounded transfers: a stall or an oversized body cancels the awaited rattler call -----------------

#: The most a download may exceed the size its record states, and the bound when it states none.
SIZE_MARGIN = 1 << 20
UNSTATED_SIZE_BOUND = 4 << 30


def size_cap(size: int | None) -> int:
    """The most bytes a download whose record states *size* may bring (a sane bound when none)."""
    if size is None or size <= 0:
        return UNSTATED_SIZE_BOUND
    return size + max(SIZE_MARGIN, size // 20)


class TransferAborted(Exception):
    """A transfer ce cancelled: it stalled or brought more than its record states (the reason is one line)."""


#: A transfer must bring this many bytes within each stall window, or it counts as stalled.
MIN_PROGRESS_BYTES = 1024


class Watch:
    """Runs one awaitable and cancels it when a transfer stalls or grows past its cap.

    ``await Watch(stall_secs).run(coroutine)``.  Transfers report through
    :meth:`started`, :meth:`progress` and :meth:`finished` (from any thread,
    rattler calls back from its own); a transfer that brings fewer than
    :data:`MIN_PROGRESS_BYTES` in *stall_secs* ends the call with
    :class:`TransferAborted` ("timed out after N s downloading <file>"), so a
    server that trickles a byte every few seconds ends like one that sends
    nothing; so does one that brings more than :func:`size_cap` of its size
    ("<file> is larger than its recorded size").
    """

    def __init__(self, stall_secs: float) -> None:
        self.stall_secs = stall_secs
        self.reason: str | None = None
        self._lock = threading.Lock()
        # key -> [file name, cap, bytes at the last progress, time of the last progress]
        self._active: dict[object, list[Any]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Future[Any] | None = None

    def started(self, key: object, file_name: str, size: int | None) -> None:
        """A transfer of *file_name* (recorded *size*, if known) begins."""
        with self._lock:
            self._active[key] = [file_name, size_cap(size), 0, time.monotonic()]

    def progress(self, key: object, done: int) -> None:
        """*done* bytes of transfer *key* have arrived."""
        with self._lock:
            entry = self._active.get(key)
            if entry is None:
                return
            if done - entry[2] >= MIN_PROGRESS_BYTES:
                entry[2], entry[3] = done, time.monotonic()
            too_large = done > entry[1]
        if too_large:
            self.abort(f"{entry[0]} is larger than its recorded size: the server sent more than {entry[1]} bytes")

    def finished(self, key: object) -> None:
        """Transfer *key* is complete."""
        with self._lock:
            self._active.pop(key, None)

    def abort(self, reason: str) -> None:
        """Cancel the call with *reason* (the first reason wins); safe from any thread."""
        with self._lock:
            if self.reason is not None:
                return
            self.reason = reason
        if self._loop is not None and self._task is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: the call is over anyway
                self._loop.call_soon_threadsafe(self._task.cancel)

    def _stalled(self) -> str | None:
        now = time.monotonic()
        with self._lock:
            for file_name, _cap, _done, last in self._active.values():
                if now - last > self.stall_secs:
                    return f"timed out after {format_secs(self.stall_secs)} s downloading {file_name}"
        return None

    async def _watchdog(self) -> None:
        pause = max(0.05, min(0.5, self.stall_secs / 8))
        while True:
            await asyncio.sleep(pause)
            reason = self._stalled()
            if reason is not None:
                self.abort(reason)
                return

    async def run(self, awaitable: Awaitable[T]) -> T:
        """The result of *awaitable*, or :class:`TransferAborted` when a transfer stalled or grew too large."""
        self._loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(awaitable)
        self._task = task
        watchdog = asyncio.ensure_future(self._watchdog()) if self.stall_secs > 0 else None
        try:
            return await task
        except (asyncio.CancelledError, Exception):
            # cancelled by abort(), or failed because a writer refused more bytes after abort()
            if self.reason is None or not task.done():
                raise
            raise TransferAborted(self.reason) from None
        finally:
            if watchdog is not None:
                watchdog.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watchdog
            if not task.done():
                task.cancel()


def abort_hint(reason: str) -> str:
    """What to do after a :class:`TransferAborted` with *reason*."""
    if reason.startswith("timed out"):
        return "raise remote_read_timeout_secs in condarc, or check the network or proxy_servers"
    return "the channel's or lock's record does not match the server's file; nothing was kept"
