"""conda-forge-scale benchmark: a cold ``ce ruff --version`` against a channel of ~450k records on loopback.

    .venv/bin/python benchmarks/forge_scale.py [--small] [--runs 3] [--markdown docs/benchmarks-forge-scale.md]

The channel comes from ``benchmarks/forge_channel.py`` (generated once and
cached under ``.cache/forge-scale``). It is served over HTTP on 127.0.0.1 by
a threaded server in this process that counts the bytes it sends for every
request, in two variants from the same files:

* **full**: ``repodata.json`` and ``repodata.json.zst`` only (the sharded
  files answer 404, as on a channel that has none);
* **sharded**: the same plus ``repodata_shards.msgpack.zst`` and
  ``shards/<sha256>.msgpack.zst``, as rattler's indexer writes them.

For each variant it measures ``ce -c URL --override-channels ruff --version``:

* **cold**: fresh ``CONDA_EXEC_HOME``, ``RATTLER_CACHE_DIR`` (repodata and
  package cache) and ``HOME`` for every run;
* **warm repodata**: the repodata (and package) cache kept from a first run,
  a fresh ``CONDA_EXEC_HOME`` every run, so ce solves again.

Per run: wall time, bytes sent by the server (repodata and packages apart),
the requests made, and the peak RSS of the ce process (``wait4``'s
``ru_maxrss``, which covers the process across its ``exec`` of the tool).
Figures are medians of ``--runs`` runs. The server answers with
``Cache-Control: max-age=0`` by default (``--cache-control``), so a warm run
revalidates its cached repodata with a conditional request, as it would
against a CDN whose files change often.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import forge_channel

REPO = Path(__file__).resolve().parents[1]
CE = REPO / ".venv" / "bin" / "ce"
RUN_TIMEOUT_S = 900
TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else ""
NOTES = """\
## Reading the figures

- ce uses sharded repodata whenever a channel offers it: py-rattler's `SourceConfig` has
  `sharded_enabled=True` by default and ce does not change it. rattler asks every subdir for
  `repodata_shards.msgpack.zst` first and falls back to `repodata.json.zst` on a 404 (which it
  remembers in its cache: warm runs of the full variant do not ask again).
- With shards, rattler fetches the shard of every name reachable from *any* candidate record of the
  requested package, not only from the one finally chosen: the older (fake) `ruff` builds depend on
  `libgcc` and a few libraries, so a cold run fetches about a dozen linux-64 shards. `noarch` needs
  none because no such name is in its index.
- Without shards, a cold run downloads both `repodata.json.zst` files and rattler writes them,
  decompressed, into its cache; peak RSS includes those files' pages (rattler reads them
  memory-mapped and scans all of them for the names it needs), also on a warm run.
- A warm run revalidates the shard index (or the `repodata.json.zst`) with a conditional request
  (`Cache-Control: max-age=0`); shards are named by their hash and are never asked for again.
  py-rattler 0.28 fails a warm sharded run with `received unexpected status code (304 Not Modified)`
  when a 304 does not repeat the cached response's validators (Python's `http.server` sends a bare
  304 for `If-Modified-Since`); the server here sends `ETag` and `Last-Modified` on a 304, as CDNs do.
"""


@dataclass
class Request:
    """One request the server answered."""

    method: str
    path: str
    status: int
    sent: int


class CountingServer(http.server.ThreadingHTTPServer):
    """Static file server on loopback that records every request and the bytes it sent."""

    daemon_threads = True

    def __init__(self, root: Path, cache_control: str) -> None:
        handler = functools.partial(CountingHandler, directory=str(root))
        super().__init__(("127.0.0.1", 0), handler)
        self.hide_shards = False
        self.cache_control = cache_control
        self.requests: list[Request] = []
        self.lock = threading.Lock()

    def take(self) -> list[Request]:
        """The requests recorded since the last call."""
        with self.lock:
            out, self.requests = self.requests, []
        return out

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients hanging up; report anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _CountingWriter:
    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.count = 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        return int(self.raw.write(data))

    def flush(self) -> None:
        self.raw.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class CountingHandler(http.server.SimpleHTTPRequestHandler):
    """HTTP/1.1 static handler: counts bytes, can hide sharded repodata, adds Cache-Control."""

    protocol_version = "HTTP/1.1"
    server: CountingServer
    _status = 0
    _validators: tuple[str, str] | None = None

    def setup(self) -> None:
        """Wrap the output stream in a byte counter."""
        super().setup()
        self.wfile = _CountingWriter(self.wfile)  # type: ignore[assignment]

    def handle_one_request(self) -> None:
        """Serve one request and record it."""
        self.command = ""
        self._status = 0
        self._validators = None
        before = self.wfile.count  # type: ignore[attr-defined]
        super().handle_one_request()
        if self.command:
            sent = self.wfile.count - before  # type: ignore[attr-defined]
            with self.server.lock:
                self.server.requests.append(Request(self.command, self.path, self._status, sent))

    def send_response(self, code: int, message: str | None = None) -> None:
        """Remember the status of the response."""
        self._status = code
        super().send_response(code, message)

    def send_head(self) -> Any:
        """Like a CDN: ETag and Last-Modified validators, and 404 for shards when the channel plays without."""
        if self.server.hide_shards and ("repodata_shards" in self.path or "/shards/" in self.path):
            self.send_error(404)
            return None
        self._validators = None
        path = self.translate_path(self.path)
        if os.path.isfile(path):
            stat = os.stat(path)
            etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
            self._validators = (etag, self.date_time_string(int(stat.st_mtime)))
            if etag in self.headers.get("If-None-Match", ""):
                self.send_response(304)
                self.end_headers()
                return None
        return super().send_head()

    def end_headers(self) -> None:
        """Add Cache-Control and validators (also on a 304, which http.server leaves without them)."""
        if self.server.cache_control:
            self.send_header("Cache-Control", self.server.cache_control)
        validators = getattr(self, "_validators", None)
        if validators and self._status in (200, 304):
            self.send_header("ETag", validators[0])
            if self._status == 304:
                self.send_header("Last-Modified", validators[1])
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """No request log on stderr."""


@contextlib.contextmanager
def serve(root: Path, cache_control: str) -> Iterator[CountingServer]:
    """Run a :class:`CountingServer` for *root* in a thread."""
    server = CountingServer(root, cache_control)
    thread = threading.Thread(target=server.serve_forever, name="forge-scale-http", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Run:
    """One measured ce run."""

    wall_s: float
    max_rss_mb: float
    requests: list[Request]
    output: str

    @property
    def repodata_bytes(self) -> int:
        """Bytes of repodata sent (everything but package archives)."""
        return sum(r.sent for r in self.requests if not r.path.endswith((".conda", ".tar.bz2")))

    @property
    def package_bytes(self) -> int:
        """Bytes of package archives sent."""
        return sum(r.sent for r in self.requests if r.path.endswith((".conda", ".tar.bz2")))

    def count(self, what: str) -> int:
        """How many requests of one kind were answered (``shard``, ``index``, ``json``)."""
        if what == "shard":
            return sum(1 for r in self.requests if "/shards/" in r.path and r.status == 200)
        if what == "index":
            return sum(1 for r in self.requests if "repodata_shards" in r.path and r.status in (200, 304))
        return sum(1 for r in self.requests if "/repodata.json" in r.path and r.status in (200, 304))


def run_ce(argv: list[str], env: dict[str, str], server: CountingServer) -> Run:
    """Run ce once; wall time, the requests it made and its peak RSS.

    The peak RSS comes from ``/usr/bin/time`` (a small process that forks ce): a child forked
    straight from this (large) process would inherit its RSS into ``ru_maxrss``.
    """
    server.take()
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as rss:
        command = [TIME, "-f", "%M", "-o", rss.name, *argv] if TIME else argv
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        timer = threading.Timer(RUN_TIMEOUT_S, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read().decode(errors="replace")
        max_rss_kb = int(rss.read().strip().splitlines()[-1]) if TIME else usage.ru_maxrss
    time.sleep(0.05)  # let the server threads record their last request
    if process.returncode != 0 or "0.17.6" not in output:
        msg = f"{' '.join(argv)} failed ({process.returncode}): {output[-2000:]}"
        raise RuntimeError(msg)
    return Run(wall, max_rss_kb / 1024, server.take(), output.strip())


@dataclass
class Series:
    """The runs of one variant and cache state."""

    variant: str
    state: str
    runs: list[Run] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        """Median of one numeric attribute over the runs."""
        return statistics.median(float(getattr(run, attribute)) for run in self.runs)


def verify_shards(channel: Path, work: Path, sample: int = 20) -> str:
    """Read some names back through rattler's Gateway, sharded and not; both must equal repodata.json."""
    import asyncio

    import rattler

    expected: dict[tuple[str, str], set[str]] = {}
    for subdir in forge_channel.SUBDIRS:
        data = json.loads((channel / subdir / "repodata.json").read_bytes())
        for key in ("packages", "packages.conda"):
            for filename, record in data[key].items():
                expected.setdefault((subdir, record["name"]), set()).add(filename)
        del data
    names = ["ruff", "python", "numpy", "libgcc", "pyflakes", "six"]
    names += [name for _, name in random.Random(1).sample(sorted(expected), sample)]
    expected = {key: files for key, files in expected.items() if key[1] in names}

    async def query(url: str, sharded: bool, cache: Path) -> dict[tuple[str, str], set[str]]:
        gateway = rattler.Gateway(cache_dir=cache, default_config=rattler.SourceConfig(sharded_enabled=sharded))
        platforms = [rattler.Platform(subdir) for subdir in forge_channel.SUBDIRS]
        specs = [rattler.MatchSpec(name) for name in names]
        found: dict[tuple[str, str], set[str]] = {}
        for records in await gateway.query([rattler.Channel(url)], platforms, specs, recursive=False):
            for record in records:
                found.setdefault((record.subdir, record.name.normalized), set()).add(record.file_name)
        return found

    with serve(channel.parent, "") as server:
        url = f"http://127.0.0.1:{server.server_address[1]}/channel"
        via_shards = asyncio.run(query(url, True, work / "verify-sharded"))
        shards = sum(1 for request in server.take() if "/shards/" in request.path and request.status == 200)
        via_json = asyncio.run(query(url, False, work / "verify-json"))
    shutil.rmtree(work / "verify-sharded")
    shutil.rmtree(work / "verify-json")
    records = sum(len(files) for files in expected.values())
    if not (via_shards == via_json == expected) or not shards:
        msg = f"shards and repodata.json disagree for {names}"
        raise RuntimeError(msg)
    return (
        f"Checked: rattler's Gateway reads the same {records} records of {len(names)} names "
        f"(`ruff`, `python` and {sample} random ones) from the shards ({shards} fetched) as from "
        "`repodata.json`, and both equal the generated records."
    )


def measure(channel: Path, runs: int, cache_control: str, work: Path) -> list[Series]:
    """Cold and warm-repodata series for the full and the sharded variant."""
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CONDA", "RATTLER", "CE_", "PIXI", "MAMBA")) and key.lower() != "no_proxy"
    }
    base.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")

    def env_for(root: Path, rattler: Path) -> dict[str, str]:
        for sub in ("home", "xdg"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        return dict(
            base,
            HOME=str(root / "home"),
            XDG_CACHE_HOME=str(root / "xdg"),
            XDG_CONFIG_HOME=str(root / "xdg"),
            CONDA_EXEC_HOME=str(root / "ce"),
            RATTLER_CACHE_DIR=str(rattler),
        )

    out: list[Series] = []
    with serve(channel.parent, cache_control) as server:
        url = f"http://127.0.0.1:{server.server_address[1]}/channel"
        argv = [str(CE), "-c", url, "--override-channels", "ruff", "--version"]
        for variant in ("full", "sharded"):
            server.hide_shards = variant == "full"
            cold = Series(variant, "cold")
            for number in range(runs):
                root = work / f"{variant}-cold-{number}"
                cold.runs.append(run_ce(argv, env_for(root, root / "rattler"), server))
                shutil.rmtree(root)
                print(f"{variant} cold {number}: {cold.runs[-1].wall_s:.2f} s", file=sys.stderr)
            warm = Series(variant, "warm repodata")
            rattler = work / f"{variant}-warm-rattler"
            run_ce(argv, env_for(work / f"{variant}-prime", rattler), server)
            shutil.rmtree(work / f"{variant}-prime")
            for number in range(runs):
                root = work / f"{variant}-warm-{number}"
                warm.runs.append(run_ce(argv, env_for(root, rattler), server))
                shutil.rmtree(root)
                print(f"{variant} warm {number}: {warm.runs[-1].wall_s:.2f} s", file=sys.stderr)
            shutil.rmtree(rattler)
            out += [cold, warm]
    return out


def _mb(count: float) -> str:
    return f"{count / 1e6:.2f} MB" if count >= 1e5 else f"{count / 1e3:.1f} kB"


def _requests_summary(run: Run) -> str:
    groups: dict[str, list[Request]] = {}
    for request in run.requests:
        path = request.path.split("/channel/", 1)[-1]
        key = f"{request.method} {path.split('/shards/')[0]}/shards/* {request.status}" if "/shards/" in path else ""
        groups.setdefault(key or f"{request.method} {path} {request.status}", []).append(request)
    lines = []
    for key, requests in groups.items():
        count = f"{len(requests)} x " if len(requests) > 1 else ""
        lines.append(f"  - {count}`{key}`: {_mb(sum(r.sent for r in requests))}")
    return "\n".join(lines)


def render(
    params: forge_channel.Params,
    series: list[Series],
    runs: int,
    cache_control: str,
    ce_version: str,
    checked: str,
    load: str,
) -> str:
    """The markdown report."""
    stats = params.stats
    lines = [
        "# conda-forge-scale benchmark",
        "",
        "Generated by `benchmarks/forge_scale.py`; do not edit by hand. Command:",
        "",
        "    .venv/bin/python benchmarks/forge_scale.py"
        + (
            f" --linux-64 {params.counts['linux-64']} --noarch {params.counts['noarch']}"
            if params.counts != forge_channel.FULL_COUNTS
            else ""
        )
        + f" --runs {runs}",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"py-rattler {_rattler_version()}, {ce_version}. Loopback HTTP/1.1 server in the benchmark process, "
        f"`Cache-Control: {cache_control or '(none)'}`; {load} (other jobs shared the machine). "
        f"Peak RSS: {'/usr/bin/time' if TIME else 'wait4 (includes the benchmark process at fork)'}.",
        "",
        "## The channel",
        "",
        "| subdir | records | names | repodata.json | .json.zst | shard index | shards (total) | largest shard |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for subdir, g in stats.items():
        lines.append(
            f"| {subdir} | {g.records:,} | {g.names:,} | {_mb(g.json_bytes)} | {_mb(g.zst_bytes)} | "
            f"{_mb(g.index_bytes)} | {g.shard_count:,} ({_mb(g.shard_bytes)}) | "
            f"`{g.largest_shard[0]}` {_mb(g.largest_shard[1])} |"
        )
    lines += [
        "",
        "Fake records imitate conda-forge's (python-version-specific builds, noarch python and R packages, "
        "constrained dependencies, some very long `depends` lists); the test channel's real `ruff`, `python` and "
        "others are merged in with their archives, so `ce ruff --version` solves and installs the real ruff "
        "(one 10 MB archive) against the whole channel.",
        "",
        checked,
        "",
        f"## `ce -c http://127.0.0.1:PORT/channel --override-channels ruff --version` (median of {runs})",
        "",
        "| variant | repodata cache | wall | peak RSS | repodata bytes | package bytes | requests | shards fetched |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in series:
        walls = sorted(run.wall_s for run in s.runs)
        lines.append(
            f"| {s.variant} | {s.state} | {s.median('wall_s'):.2f} s ({walls[0]:.2f}-{walls[-1]:.2f}) | "
            f"{s.median('max_rss_mb'):.0f} MB | {_mb(s.median('repodata_bytes'))} | {_mb(s.median('package_bytes'))} "
            f"| {statistics.median(len(r.requests) for r in s.runs):.0f} | "
            f"{statistics.median(r.count('shard') for r in s.runs):.0f} |"
        )
    lines += ["", "Requests of the first run of each series:", ""]
    for s in series:
        lines += [f"- {s.variant}, {s.state}:", _requests_summary(s.runs[0])]
    lines += ["", NOTES]
    return "\n".join(lines) + "\n"


def _rattler_version() -> str:
    from importlib.metadata import version

    return version("py-rattler")


def main() -> int:
    """Generate (or reuse) the channel, measure, print and optionally write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    forge_channel.add_arguments(parser)
    parser.add_argument("--runs", type=int, default=None, help="runs per series (default 3; 5 with --small)")
    parser.add_argument("--cache-control", default="max-age=0", help="Cache-Control header the server sends")
    parser.add_argument("--markdown", type=Path, default=None, help="write the report there")
    args = parser.parse_args()
    runs = args.runs or (5 if args.small else 3)
    params = forge_channel.params_from(args)
    started = time.perf_counter()
    channel = forge_channel.build(params)
    print(f"channel {channel} ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    ce_version = subprocess.run([str(CE), "--version"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="forge-scale-") as work:
        load_before = os.getloadavg()[0]
        series = measure(channel, runs, args.cache_control, Path(work))
        load_after = os.getloadavg()[0]
        checked = verify_shards(channel, Path(work))
    machine = f"load average {load_before:.1f} before, {load_after:.1f} after the runs"
    report = render(params, series, runs, args.cache_control, ce_version, checked, machine)
    print(report)
    if args.markdown:
        args.markdown.write_text(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
