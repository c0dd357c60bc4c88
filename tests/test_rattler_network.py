"""The rattler backend on a bad network: loopback servers that stall, fail, refuse or want credentials.

Every server listens on 127.0.0.1 only, in a thread, and is stopped in the
fixture's teardown; every ``ce`` run has a hard timeout.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ce.backends.rattler_network import classify, explain, proxy_for, redact
from ce.config.settings import CondaSettings, dump_settings, parse_settings
from conftest import run_ce

_PREFIX = "cannot read channel repodata: error sending request for url (http://127.0.0.1:9/noarch/repodata.json)\n"


# --- the error classifier (texts as py-rattler 0.26/0.28 write them) -------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "words"),
    [
        (
            "error sending request for url (http://no-such-host.invalid/noarch/repodata.json)\n"
            "Caused by: client error (Connect)\nCaused by: dns error\n"
            "Caused by: failed to lookup address information: Temporary failure in name resolution",
            "dns",
            ["name resolution failed for no-such-host.invalid", "--offline"],
        ),
        (
            _PREFIX + "Caused by: client error (Connect)\nCaused by: tcp connect error\n"
            "Caused by: Connection refused (os error 111)",
            "refused",
            ["connection refused by 127.0.0.1", "-c"],
        ),
        (_PREFIX + "Caused by: operation timed out", "timeout", ["timed out after 7 s", "remote_read_timeout_secs"]),
        (
            "error sending request for url (https://127.0.0.1:9/x)\nCaused by: client error (Connect)\n"
            "Caused by: invalid peer certificate: UnknownIssuer",
            "tls",
            ["TLS verification failed", "ssl_verify"],
        ),
        (
            "HTTP status client error (401 Unauthorized) for url (http://u:secret@127.0.0.1:9/c/noarch/x)",
            "auth",
            ["401 Unauthorized", ".netrc", "RATTLER_AUTH_FILE"],
        ),
        (
            "HTTP status client error (403 Forbidden) for url (http://127.0.0.1:9/c/noarch/x)",
            "auth",
            ["403 Forbidden", "credentials"],
        ),
        (
            "could not find subdir 'noarch' in channel 'http://127.0.0.1:9/missing/'\n"
            "Caused by: HTTP status client error (404 Not Found) for url (http://127.0.0.1:9/missing/noarch/repodata.json)",
            "not_found",
            [
                "no such channel or subdir http://127.0.0.1:9/missing/",
                "http://127.0.0.1:9/missing/noarch/repodata.json",
            ],
        ),
        (
            "Request failed after 3 retries\nCaused by: HTTP status server error (500 Internal Server Error) "
            "for url (http://127.0.0.1:9/c/noarch/repodata.json)",
            "server",
            ["500 Internal Server Error (after 3 retries)", "try again later"],
        ),
        (
            "failed to fetch x.conda\nCaused by: failed to interact with the package cache layer.\n"
            "Caused by: No space left on device (os error 28)",
            "disk_full",
            ["disk full", "RATTLER_CACHE_DIR"],
        ),
    ],
)
def test_explain_names_the_cause_and_a_next_step(text: str, kind: str, words: list[str]) -> None:
    assert classify(text) == kind
    line = explain(text, doing="cannot read", settings=CondaSettings(), environ={}, deadline=7)
    assert "\n" not in line and line.startswith("cannot read: ")
    for word in words:
        assert word in line
    assert "secret" not in line


def test_refused_through_a_proxy_names_the_proxy() -> None:
    text = _PREFIX + "Caused by: tcp connect error\nCaused by: Connection refused (os error 111)"
    settings = CondaSettings(proxy_servers={"http": "http://user:pw@127.0.0.1:3128"})
    line = explain(text, doing="cannot read", settings=settings, environ={})
    assert "connection refused by the proxy http://127.0.0.1:3128" in line and "proxy_servers" in line
    assert (
        proxy_for("http://127.0.0.1:9/x", CondaSettings(), {"HTTP_PROXY": "http://p:1", "NO_PROXY": "127.0.0.1"})
        is None
    )
    assert proxy_for("https://example.org/x", CondaSettings(), {"https_proxy": "http://p:1"}) == "http://p:1"
    assert redact("https://u:p@h:1/a?b") == "https://h:1/a?b"


def test_network_settings_survive_the_settings_cache() -> None:
    settings = CondaSettings(
        remote_connect_timeout_secs=3.5,
        remote_read_timeout_secs=2,
        remote_max_retries=1,
        remote_backoff_factor=0.5,
        proxy_servers={"http": "http://127.0.0.1:3128", "https": "http://127.0.0.1:3129"},
        ssl_verify="/etc/ca.pem",
    )
    text = dump_settings(settings, "key")
    assert text is not None
    assert parse_settings(text, "key") == settings
    assert parse_settings(text.replace("ce-condarc-settings:2", "ce-condarc-settings:1"), "key") is None


def test_condarc_network_keys_are_read(tmp_path: Path) -> None:
    from ce.config.condarc import load

    condarc = tmp_path / "home" / ".condarc"
    condarc.write_text(
        "remote_read_timeout_secs: 12.5\nremote_max_retries: 5\nremote_connect_timeout_secs: 4\n"
        "remote_backoff_factor: 2\nssl_verify: false\nproxy_servers:\n  https: http://127.0.0.1:3128\n"
    )
    environ = dict(os.environ, CONDA_REMOTE_READ_TIMEOUT_SECS="2")
    settings = load(environ)
    assert settings.remote_read_timeout_secs == 2.0  # the variable wins, as in conda
    assert settings.remote_max_retries == 5 and settings.remote_connect_timeout_secs == 4.0
    assert settings.remote_backoff_factor == 2.0 and settings.ssl_verify == "false"
    assert settings.proxy_servers == {"https": "http://127.0.0.1:3128"}
    defaults = load({"HOME": str(tmp_path / "nohome"), "CE_CONDARC_SEARCH_PATH": ""})
    assert (defaults.remote_read_timeout_secs, defaults.remote_max_retries, defaults.ssl_verify) == (60.0, 3, "true")


# --- loopback servers ---------------------------------------------------------------------------------


class _Behaviour:
    """What the server does, shared with its handler threads."""

    def __init__(self) -> None:
        self.stall = False
        self.failures: list[int] = []  # status codes to answer first, one per request
        self.credentials: str | None = None  # "user:password" required when set
        self.released = threading.Event()
        self.requests: list[str] = []
        # "stall", "trickle", "drop" or "endless": how package archives are served
        self.archive: str | None = None
        self.trickle: float = 0.0  # seconds over which repodata.json is sent


class _Handler(http.server.SimpleHTTPRequestHandler):
    behaviour: _Behaviour

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _gate(self) -> bool:
        behaviour = self.behaviour
        behaviour.requests.append(self.path)
        if behaviour.stall:
            behaviour.released.wait(30)  # accept, read the request, never answer
            return False
        if behaviour.failures:
            self.send_error(behaviour.failures.pop(0))
            return False
        if behaviour.credentials is not None:
            expected = "Basic " + base64.b64encode(behaviour.credentials.encode()).decode()
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="ce"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return False
        return True

    def do_GET(self) -> None:
        """Serve the channel unless the behaviour says otherwise."""
        if self.path.startswith("/redirect/"):
            self.behaviour.requests.append(self.path)
            self.send_response(302)
            self.send_header("Location", self.path[len("/redirect") :])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if not self._gate():
            return
        path = Path(self.translate_path(self.path))
        archive = path.name.endswith((".conda", ".tar.bz2")) and path.is_file()
        if archive and self.behaviour.archive and "Range" not in self.headers:
            self._misbehave(path.read_bytes(), self.behaviour.archive)
        elif path.name == "repodata.json" and self.behaviour.trickle and path.is_file():
            self._trickle(path.read_bytes(), self.behaviour.trickle)
        else:
            super().do_GET()

    def _misbehave(self, data: bytes, how: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if how != "endless":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 3])
        self.wfile.flush()
        if how == "stall":
            self.behaviour.released.wait(30)
        elif how == "trickle":  # one byte every half second, for at most 30 s
            for index in range(len(data) // 3, min(len(data), len(data) // 3 + 60)):
                if self.behaviour.released.wait(0.5):
                    break
                self.wfile.write(data[index : index + 1])
                self.wfile.flush()
        elif how == "endless":  # the archive, then zeros until the client hangs up (at most 64 MB)
            self.wfile.write(data[len(data) // 3 :])
            zeros = bytes(1 << 16)
            for _ in range(1024):
                self.wfile.write(zeros)
        self.close_connection = True  # "drop": hang up mid-body

    def _trickle(self, data: bytes, seconds: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        pieces = 10
        step = len(data) // pieces + 1
        for start in range(0, len(data), step):
            self.wfile.write(data[start : start + step])
            self.wfile.flush()
            time.sleep(seconds / pieces)

    def do_HEAD(self) -> None:
        """As GET."""
        if self._gate():
            super().do_HEAD()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up are expected here."""


@contextlib.contextmanager
def _serve(directory: Path, behaviour: _Behaviour) -> Iterator[str]:
    from build_test_channel import serve_handler

    handler = type("Handler", (_Handler,), {"behaviour": behaviour})
    with serve_handler(functools.partial(handler, directory=str(directory)), "ce-bad-network", _Server) as url:
        try:
            yield url
        finally:
            behaviour.released.set()  # before the server shuts down: stalled handlers let go


@pytest.fixture
def behaviour() -> _Behaviour:
    return _Behaviour()


@pytest.fixture
def server(channel: Path, behaviour: _Behaviour) -> Iterator[str]:
    with _serve(channel, behaviour) as url:
        yield url


@pytest.fixture
def net_env(tmp_path: Path) -> dict[str, str]:
    """``ce``'s environment: its own caches, no proxies, a quick retry budget."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(NO_PROXY="127.0.0.1", RATTLER_CACHE_DIR=str(tmp_path / "rattler"), CONDA_REMOTE_MAX_RETRIES="3")
    return env


def _run(url: str, env: dict[str, str], timeout: float = 90) -> tuple[int, str, float]:
    started = time.monotonic()
    result = run_ce("-c", url, "--override-channels", "--from", "hello-tool", "hello", env=env, timeout=timeout)
    return result.returncode, result.stderr.strip(), time.monotonic() - started


def _assert_no_partial_files(env: dict[str, str]) -> None:
    """Nothing but lock files, cache tags and complete entries in rattler's caches or ce's home."""
    leftovers = []
    for root in (Path(env["RATTLER_CACHE_DIR"]), Path(env["CONDA_EXEC_HOME"])):
        for path in root.rglob("*") if root.exists() else ():
            name = path.name
            if name.endswith((".partial", ".tmp", ".part")) or (
                name.startswith(".")
                and not name.endswith(".lock")
                and name not in (".cache.lock", ".locks", ".index", ".ce-env.json", ".ce-activation")
            ):
                leftovers.append(str(path))
    envs = Path(env["CONDA_EXEC_HOME"]) / "envs"
    if envs.exists():
        leftovers += [str(p) for p in envs.iterdir() if p.name.startswith((".build", ".trash"))]
    assert leftovers == []


def _one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("ce: error: ")
    return lines[0]


def test_a_stalled_server_times_out_after_the_deadline(
    server: str, behaviour: _Behaviour, net_env: dict[str, str]
) -> None:
    behaviour.stall = True
    net_env["CONDA_REMOTE_READ_TIMEOUT_SECS"] = "2"
    code, stderr, took = _run(server, net_env, timeout=60)
    assert code == 1
    line = _one_line(stderr)
    assert "timed out after 2 s" in line and "remote_read_timeout_secs" in line
    assert took < 30
    _assert_no_partial_files(net_env)


def test_a_missing_channel_names_the_url(server: str, net_env: dict[str, str]) -> None:
    code, stderr, _took = _run(server + "/missing", net_env, timeout=60)
    assert code == 1
    line = _one_line(stderr)
    assert "no such channel or subdir" in line and f"{server}/missing/" in line and "404 Not Found" in line
    _assert_no_partial_files(net_env)


def test_a_server_error_is_retried(server: str, behaviour: _Behaviour, net_env: dict[str, str]) -> None:
    behaviour.failures = [500]
    code, stderr, _took = _run(server, dict(net_env, CONDA_REMOTE_MAX_RETRIES="0"), timeout=60)
    assert code == 1 and "500 Internal Server Error" in _one_line(stderr)  # no retries: the first 500 ends it
    behaviour.failures = [500, 500]
    code, stderr, _took = _run(server, net_env)
    assert code == 0, stderr
    assert behaviour.failures == []


def test_a_server_that_keeps_failing_says_so(server: str, behaviour: _Behaviour, net_env: dict[str, str]) -> None:
    behaviour.failures = [500] * 50
    net_env["CONDA_REMOTE_MAX_RETRIES"] = "1"
    code, stderr, _took = _run(server, net_env, timeout=60)
    assert code == 1
    line = _one_line(stderr)
    assert "500 Internal Server Error" in line and "try again later" in line
    _assert_no_partial_files(net_env)


def test_a_refused_connection_says_so(net_env: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    net_env["CONDA_REMOTE_MAX_RETRIES"] = "0"
    code, stderr, _took = _run(f"http://127.0.0.1:{port}", net_env, timeout=60)
    assert code == 1
    line = _one_line(stderr)
    assert "connection refused by 127.0.0.1" in line and "--offline" in line
    _assert_no_partial_files(net_env)


def test_basic_auth(server: str, behaviour: _Behaviour, net_env: dict[str, str], tmp_path: Path) -> None:
    behaviour.credentials = "ce-user:ce-secret"
    code, stderr, _took = _run(server, net_env, timeout=60)
    assert code == 1
    line = _one_line(stderr)
    assert "401 Unauthorized" in line and ".netrc" in line and "RATTLER_AUTH_FILE" in line
    _assert_no_partial_files(net_env)
    # rattler's authentication storage: the file RATTLER_AUTH_FILE names (the host without its port)
    auth = tmp_path / "auth.json"
    auth.write_text(json.dumps({"127.0.0.1": {"BasicHTTP": {"username": "ce-user", "password": "ce-secret"}}}))
    code, stderr, _took = _run(server, dict(net_env, RATTLER_AUTH_FILE=str(auth)))
    assert code == 0, stderr


def test_credentials_in_the_channel_url(server: str, behaviour: _Behaviour, net_env: dict[str, str]) -> None:
    behaviour.credentials = "ce-user:ce-secret"
    wrong = server.replace("http://", "http://ce-user:wrong-secret@")
    code, stderr, _took = _run(wrong, net_env, timeout=60)
    assert code == 1
    line = _one_line(stderr)
    assert "401 Unauthorized" in line and "wrong-secret" not in line
    code, stderr, _took = _run(server.replace("http://", "http://ce-user:ce-secret@"), net_env)
    assert code == 0, stderr


# --- package downloads through rattler's installer --------------------------------------------------


def _assert_no_partial_packages(env: dict[str, str]) -> None:
    _assert_no_partial_files(env)
    pkgs = Path(env["RATTLER_CACHE_DIR"]) / "pkgs"
    if pkgs.exists():  # nothing extracted for hello-tool unless complete
        assert [p.name for p in pkgs.iterdir() if p.name.startswith(".hello-tool")] == []


@pytest.mark.parametrize("how", ["stall", "trickle"])  # a byte every half second is no progress either
def test_a_stalled_package_download_times_out(
    how: str, server: str, behaviour: _Behaviour, net_env: dict[str, str]
) -> None:
    behaviour.archive = how
    net_env["CONDA_REMOTE_READ_TIMEOUT_SECS"] = "2"
    code, stderr, took = _run(server, net_env, timeout=60)
    assert code == 1
    line = _one_line(stderr)
    assert "timed out after 2 s downloading hello-tool-1.0-0.conda" in line, line
    assert "remote_read_timeout_secs" in line
    assert took < 30
    _assert_no_partial_packages(net_env)


def test_a_package_download_dropped_mid_body(server: str, behaviour: _Behaviour, net_env: dict[str, str]) -> None:
    behaviour.archive = "drop"
    code, stderr, took = _run(server, net_env, timeout=60)
    assert code == 1
    line = _one_line(stderr)
    assert "the connection dropped mid-transfer" in line and "hello-tool-1.0-0.conda" in line, line
    assert took < 45
    _assert_no_partial_packages(net_env)


def test_a_package_larger_than_its_record_is_cut_off(
    server: str, behaviour: _Behaviour, net_env: dict[str, str]
) -> None:
    behaviour.archive = "endless"
    code, stderr, took = _run(server, net_env, timeout=60)
    assert code == 1
    line = _one_line(stderr)
    assert "hello-tool-1.0-0.conda is larger than its recorded size" in line, line
    assert took < 45
    _assert_no_partial_packages(net_env)


def test_a_redirected_channel_is_followed(server: str, behaviour: _Behaviour, net_env: dict[str, str]) -> None:
    code, stderr, _took = _run(server + "/redirect", net_env, timeout=60)
    assert code == 0, stderr
    assert any(path.startswith("/redirect/") and path.endswith(".conda") for path in behaviour.requests)
    _assert_no_partial_packages(net_env)


# --- lock archives through the same client ----------------------------------------------------------


def _locked_run(server: str, channel: Path, env: dict[str, str], tmp_path: Path, url_base: str | None = None) -> Any:
    """Run a script whose explicit lock points hello-tool at *server* (or *url_base*)."""
    from hostile.support import HELLO_SCRIPT, archive_of, explicit_lock, lock_digest

    _url, _md5, sha256 = archive_of(channel, "hello-tool-1.0-0")
    folder = tmp_path / "work"
    folder.mkdir(exist_ok=True)
    (folder / "s.sh").write_text(HELLO_SCRIPT)
    base = url_base or server
    lock = explicit_lock(lock_digest(["hello-tool"]), [f"{base}/noarch/hello-tool-1.0-0.conda#sha256:{sha256}"])
    (folder / "s.sh.linux-64.explicit.txt").write_text(lock)
    started = time.monotonic()
    result = run_ce("--locked", "--lock-format", "explicit", "s.sh", cwd=folder, env=env, timeout=60)
    return result.returncode, result.stderr.strip(), time.monotonic() - started, result.stdout


def _archive_gets(behaviour: _Behaviour) -> int:
    return sum(1 for path in behaviour.requests if path.endswith("hello-tool-1.0-0.conda"))


def test_a_lock_archive_behind_basic_auth(
    server: str, behaviour: _Behaviour, channel: Path, net_env: dict[str, str], tmp_path: Path
) -> None:
    behaviour.credentials = "ce-user:ce-secret"
    code, stderr, _took, _out = _locked_run(server, channel, net_env, tmp_path)
    assert code == 1
    line = _one_line(stderr)
    assert "cannot fetch a locked archive" in line and "401 Unauthorized" in line and "RATTLER_AUTH_FILE" in line
    _assert_no_partial_files(net_env)
    auth = tmp_path / "auth.json"
    auth.write_text(json.dumps({"127.0.0.1": {"BasicHTTP": {"username": "ce-user", "password": "ce-secret"}}}))
    behaviour.requests.clear()
    code, stderr, _took, out = _locked_run(server, channel, dict(net_env, RATTLER_AUTH_FILE=str(auth)), tmp_path)
    assert code == 0, stderr
    assert "hello from hello-tool" in out
    assert _archive_gets(behaviour) == 1  # downloaded once, then installed from the verified copy


def test_a_lock_archive_with_credentials_in_its_url(
    server: str, behaviour: _Behaviour, channel: Path, net_env: dict[str, str], tmp_path: Path
) -> None:
    behaviour.credentials = "ce-user:ce-secret"
    with_credentials = server.replace("http://", "http://ce-user:ce-secret@")
    code, stderr, _took, out = _locked_run(server, channel, net_env, tmp_path, url_base=with_credentials)
    assert code == 0, stderr
    assert "hello from hello-tool" in out


def test_credentials_never_reach_a_lock_file_or_conda_meta(
    server: str, behaviour: _Behaviour, net_env: dict[str, str], tmp_path: Path
) -> None:
    from hostile.support import HELLO_SCRIPT

    behaviour.credentials = "ce-user:ce-secret"
    with_credentials = server.replace("http://", "http://ce-user:ce-secret@")
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "s.sh").write_text(HELLO_SCRIPT)
    for format_name in ("rattler-lock-v6", "conda-lock", "explicit"):
        result = run_ce(
            "-c",
            with_credentials,
            "--override-channels",
            "--lock",
            "--lock-format",
            format_name,
            "s.sh",
            cwd=folder,
            env=net_env,
            timeout=90,
        )
        assert result.returncode == 0, result.stderr
        assert "hello from hello-tool" in result.stdout
    written = [path for path in folder.iterdir() if path.name != "s.sh"]
    assert len(written) == 3
    for path in written:
        text = path.read_text()
        assert "ce-secret" not in text and "ce-user" not in text, path.name
        assert server.split("://", 1)[1] in text  # the URL itself is kept
    home = Path(net_env["CONDA_EXEC_HOME"])
    metas = [*home.glob("envs/*/conda-meta/*.json"), *home.glob("envs/*/.ce-env.json")]
    assert metas and not [meta for meta in metas if "ce-secret" in meta.read_text()]


def test_a_lock_archive_is_retried_after_a_server_error(
    server: str, behaviour: _Behaviour, channel: Path, net_env: dict[str, str], tmp_path: Path
) -> None:
    behaviour.failures = [500]
    code, stderr, _took, out = _locked_run(server, channel, net_env, tmp_path)
    assert code == 0, stderr
    assert behaviour.failures == [] and "hello from hello-tool" in out
    _assert_no_partial_files(net_env)


@pytest.mark.parametrize("how", ["stall", "trickle"])
def test_a_stalled_lock_archive_times_out(
    how: str, server: str, behaviour: _Behaviour, channel: Path, net_env: dict[str, str], tmp_path: Path
) -> None:
    behaviour.archive = how
    net_env["CONDA_REMOTE_READ_TIMEOUT_SECS"] = "2"
    code, stderr, took, _out = _locked_run(server, channel, net_env, tmp_path)
    assert code == 1
    line = _one_line(stderr)
    assert "timed out after 2 s downloading hello-tool-1.0-0.conda" in line, line
    assert took < 30
    _assert_no_partial_files(net_env)


def test_an_endless_lock_archive_is_cut_off(
    server: str, behaviour: _Behaviour, channel: Path, net_env: dict[str, str], tmp_path: Path
) -> None:
    behaviour.archive = "endless"  # an explicit lock records no size: the sane bound, then the hash, apply
    code, stderr, took, _out = _locked_run(server, channel, net_env, tmp_path)
    assert code == 1
    assert "sha256 mismatch" in _one_line(stderr)
    assert took < 45
    _assert_no_partial_files(net_env)


# --- status while repodata trickles in ---------------------------------------------------------------


def test_a_slow_repodata_fetch_shows_a_status_line_on_a_terminal(
    server: str, behaviour: _Behaviour, net_env: dict[str, str]
) -> None:
    from helpers import run_on_terminal

    behaviour.trickle = 2.0
    port = server.rsplit(":", 1)[1]
    args = ["-c", server, "--override-channels", "--from", "hello-tool", "hello"]
    code, stdout, shown = run_on_terminal(args, net_env)
    assert code == 0 and "hello from hello-tool" in stdout, shown
    assert f"fetching repodata from 127.0.0.1:{port}" in shown
    assert f"fetching repodata from 127.0.0.1:{port} · 1 s" in shown  # redrawn while the fetch goes on
    assert shown.rstrip().splitlines()[-1].split("\x1b[K")[-1].startswith("ce: created hello-tool--")


def test_a_slow_repodata_fetch_shows_nothing_on_a_pipe_or_with_quiet(
    server: str, behaviour: _Behaviour, net_env: dict[str, str]
) -> None:
    from helpers import run_on_terminal

    behaviour.trickle = 1.0
    code, stderr, _took = _run(server, net_env)
    assert code == 0, stderr
    assert [line for line in stderr.splitlines() if not line.startswith("ce: created hello-tool--")] == []
    assert "\x1b[" not in stderr and "\r" not in stderr
    args = ["-q", "-c", server, "--override-channels", "--from", "hello-tool", "hello"]
    code, _stdout, shown = run_on_terminal(args, dict(net_env, RATTLER_CACHE_DIR=net_env["RATTLER_CACHE_DIR"] + "-q"))
    assert code == 0 and shown == ""
