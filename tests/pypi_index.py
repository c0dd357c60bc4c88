"""A loopback PEP 503 simple index built from real wheels, for offline PyPI tests.

Two servers on 127.0.0.1: the *index* (``/simple/<name>/`` pages whose links
carry ``#sha256=``) and the *files* server the links point at, so a test can
stop the index and keep the archives reachable, as when the index is down but
the files host (or uv's cache) still answers.
"""

from __future__ import annotations

import hashlib
import html
import re
import shutil
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Server:
    """One loopback HTTP server serving a directory, stoppable on its own."""

    httpd: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.thread.join(timeout=10)
        self.httpd.server_close()


def serve(directory: Path) -> Server:
    """Serve *directory* on a free loopback port, in a daemon thread."""
    handler = partial(_QuietHandler, directory=str(directory))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.timeout = 5
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    return Server(httpd, thread)


def _project(wheel: Path) -> str:
    """The normalized project name of a wheel file (PEP 503)."""
    return re.sub(r"[-_.]+", "-", wheel.name.split("-", 1)[0]).lower()


def build_index(root: Path, wheels: Iterable[Path], files_url: str) -> Path:
    """Write ``root/files/*.whl`` and ``root/simple/...`` pages linking to *files_url*; return ``root``."""
    files = root / "files"
    files.mkdir(parents=True, exist_ok=True)
    projects: dict[str, list[str]] = {}
    for wheel in wheels:
        shutil.copy2(wheel, files / wheel.name)
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        link = f'<a href="{html.escape(files_url)}/files/{wheel.name}#sha256={digest}">{wheel.name}</a><br/>'
        projects.setdefault(_project(wheel), []).append(link)
    simple = root / "simple"
    simple.mkdir(parents=True, exist_ok=True)
    names = []
    for name, links in sorted(projects.items()):
        (simple / name).mkdir(exist_ok=True)
        (simple / name / "index.html").write_text(
            "<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n"
        )
        names.append(f'<a href="{name}/">{name}</a><br/>')
    (simple / "index.html").write_text("<!DOCTYPE html><html><body>\n" + "\n".join(names) + "\n</body></html>\n")
    return root


@dataclass
class LoopbackIndex:
    """The running pair: ``index_url`` for uv, ``files`` for the archives."""

    index: Server
    files: Server
    root: Path

    @property
    def index_url(self) -> str:
        """The simple index URL (``UV_INDEX_URL``)."""
        return f"{self.index.url}/simple"


@contextmanager
def loopback_index(root: Path, wheels: Iterable[Path]) -> Iterator[LoopbackIndex]:
    """Serve *wheels* as a simple index (and a separate files server) until the block ends."""
    files_dir = root / "files-root"
    files_dir.mkdir(parents=True, exist_ok=True)
    files = serve(files_dir)
    try:
        build_index(files_dir, wheels, files.url)
        index = serve(files_dir)  # the same tree: /simple from one port, /files from the other
        try:
            yield LoopbackIndex(index, files, files_dir)
        finally:
            index.stop()
    finally:
        files.stop()
