"""Trust in locks: each package listed once per platform, every archive read bounded, no credential written.

Issue 21, items 3, 5 and 9: a duplicate name in a lock is one error naming both entries (conda and
PyPI, every format); a ``file://`` archive that is a FIFO or a device is refused at once; conda's
``/t/<token>/`` is a credential like ``user:pass@``, kept out of locks, ``conda-meta`` and messages.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from build_test_channel import serve_handler
from hostile.support import (
    HELLO_SCRIPT,
    archive_of,
    assert_ok,
    assert_one_error,
    explicit_lock,
    lock_digest,
    run,
    script_folder,
    snapshot,
)

DIGEST = lock_digest(["hello-tool"])
TOKEN = "ce-tk-0123456789abcdef"
SECRET = "ce-s3cret#pw"
HEADER = f"# conda-exec-lock-input-sha256: {DIGEST}\n"
FAKE_SHA = "ab" * 32


def _envs(env: dict[str, str]) -> list[str]:
    """The environments in ce's cache (nothing was installed when empty)."""
    envs = Path(env["CONDA_EXEC_HOME"]) / "envs"
    return sorted(p.name for p in envs.iterdir() if not p.name.startswith(".")) if envs.is_dir() else []


def _locked_error(folder: Path, env: dict[str, str], *needles: str, fmt: str | None = None) -> str:
    """``ce --locked s.sh`` fails in one line containing every one of *needles*, installing nothing."""
    before = snapshot(folder)
    args = ("--locked", *(("--lock-format", fmt) if fmt else ()), "s.sh")
    result = run(*args, env=env, cwd=folder, timeout=60)
    line = assert_one_error(result, 1, needles[0])
    for needle in needles:
        assert needle in line, line
    assert "hello from" not in result.stdout
    assert _envs(env) == []
    assert snapshot(folder) == before
    return line


# --------------------------------------------------------------------------
# Item 3: a lock lists each package once per platform
# --------------------------------------------------------------------------


def _other_url(url: str) -> str:
    """A second hello-tool archive URL beside *url* (another build: an added line a reviewer misses)."""
    return url.replace("hello-tool-1.0-0.conda", "hello-tool-1.0-1.conda")


def _v6(url: str, sha256: str, platforms: dict[str, list[dict[str, str]]], extra: list[dict[str, object]]) -> str:
    document = {
        "version": 6,
        "environments": {"default": {"channels": [{"url": url.rsplit("/noarch/", 1)[0] + "/"}], "packages": platforms}},
        "packages": [{"conda": url, "build_number": 0, "subdir": "noarch", "sha256": sha256}, *extra],
    }
    return HEADER + yaml.safe_dump(document, sort_keys=False)


def _pypi(name: str, version: str) -> dict[str, object]:
    url = f"https://files.example.invalid/{name.lower()}-{version}-py3-none-any.whl"
    return {"pypi": url, "name": name, "version": version, "sha256": FAKE_SHA}


def test_v6_two_references_to_one_name_is_an_error_naming_both(
    tmp_path: Path, env: dict[str, str], channel: Path
) -> None:
    url, _md5, sha256 = archive_of(channel, "hello-tool-1.0-0")
    other = _other_url(url)
    extra = [{"conda": other, "build_number": 1, "subdir": "noarch", "sha256": FAKE_SHA}]
    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    refs = [{"conda": url}, {"conda": other}]
    (folder / "s.sh.conda-exec.lock").write_text(_v6(url, sha256, {"linux-64": refs}, extra))
    _locked_error(folder, env, "hello-tool", "linux-64", "hello-tool-1.0-0.conda", "hello-tool-1.0-1.conda")


def test_v6_two_package_entries_for_one_url_is_an_error_naming_both(
    tmp_path: Path, env: dict[str, str], channel: Path
) -> None:
    url, _md5, sha256 = archive_of(channel, "hello-tool-1.0-0")
    twin = {"conda": url, "build_number": 0, "subdir": "noarch", "sha256": FAKE_SHA}
    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    (folder / "s.sh.conda-exec.lock").write_text(_v6(url, sha256, {"linux-64": [{"conda": url}]}, [twin]))
    _locked_error(folder, env, "packages[0]", "packages[1]", "hello-tool-1.0-0.conda")


def test_v6_one_pypi_name_twice_is_an_error_naming_both(tmp_path: Path, env: dict[str, str], channel: Path) -> None:
    url, _md5, sha256 = archive_of(channel, "hello-tool-1.0-0")
    first, second = _pypi("six", "1.16.0"), _pypi("Six", "1.17.0")
    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    refs = [{"conda": url}, {"pypi": str(first["pypi"])}, {"pypi": str(second["pypi"])}]
    (folder / "s.sh.conda-exec.lock").write_text(_v6(url, sha256, {"linux-64": refs}, [first, second]))
    _locked_error(folder, env, "six", "six-1.16.0-py3-none-any.whl", "six-1.17.0-py3-none-any.whl")


def test_v6_one_name_on_two_platforms_is_fine(tmp_path: Path, env: dict[str, str], channel: Path) -> None:
    url, _md5, sha256 = archive_of(channel, "hello-tool-1.0-0")
    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    platforms = {"linux-64": [{"conda": url}], "osx-arm64": [{"conda": url}]}
    (folder / "s.sh.conda-exec.lock").write_text(_v6(url, sha256, platforms, []))
    assert_ok(run("--locked", "s.sh", env=env, cwd=folder, timeout=60), "hello from hello-tool")


def _conda_lock(url: str, md5: str, sha256: str, entries: list[dict[str, object]], platforms: list[str]) -> str:
    def conda(url: str, platform: str, md5: str) -> dict[str, object]:
        return {
            "name": "hello-tool",
            "version": "1.0",
            "manager": "conda",
            "platform": platform,
            "dependencies": {},
            "url": url,
            "hash": {"md5": md5},
        }

    document = {
        "version": 1,
        "metadata": {"channels": [{"url": url.rsplit("/noarch/", 1)[0]}], "platforms": platforms},
        "package": [conda(url, platform, md5) for platform in platforms] + entries,
    }
    del sha256
    return HEADER + yaml.safe_dump(document, sort_keys=False)


def test_conda_lock_one_name_twice_is_an_error_naming_both(tmp_path: Path, env: dict[str, str], channel: Path) -> None:
    url, md5, sha256 = archive_of(channel, "hello-tool-1.0-0")
    other = {
        "name": "hello-tool",
        "version": "1.0",
        "manager": "conda",
        "platform": "linux-64",
        "url": _other_url(url),
        "hash": {"md5": "0" * 32},
    }
    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    (folder / "s.sh.conda-lock.yml").write_text(_conda_lock(url, md5, sha256, [other], ["linux-64"]))
    _locked_error(folder, env, "hello-tool", "package[0]", "package[1]", "hello-tool-1.0-1.conda")


def test_conda_lock_one_pip_name_twice_is_an_error_naming_both(
    tmp_path: Path, env: dict[str, str], channel: Path
) -> None:
    url, md5, sha256 = archive_of(channel, "hello-tool-1.0-0")
    pips = [
        {
            "name": name,
            "version": version,
            "manager": "pip",
            "platform": "linux-64",
            "url": f"https://files.example.invalid/{name}-{version}-py3-none-any.whl",
            "hash": {"sha256": FAKE_SHA},
        }
        for name, version in (("python-dateutil", "2.9.0"), ("python_dateutil", "2.8.0"))
    ]
    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    (folder / "s.sh.conda-lock.yml").write_text(_conda_lock(url, md5, sha256, pips, ["linux-64"]))
    _locked_error(folder, env, "dateutil", "package[1]", "package[2]")


def test_conda_lock_one_name_on_two_platforms_is_fine(tmp_path: Path, env: dict[str, str], channel: Path) -> None:
    url, md5, sha256 = archive_of(channel, "hello-tool-1.0-0")
    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    (folder / "s.sh.conda-lock.yml").write_text(_conda_lock(url, md5, sha256, [], ["linux-64", "osx-arm64"]))
    assert_ok(run("--locked", "s.sh", env=env, cwd=folder, timeout=60), "hello from hello-tool")


def test_explicit_one_name_twice_is_an_error_naming_both_lines(
    tmp_path: Path, env: dict[str, str], channel: Path
) -> None:
    url, _md5, sha256 = archive_of(channel, "hello-tool-1.0-0")
    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    lines = [f"{url}#sha256:{sha256}", f"{_other_url(url)}#sha256:{FAKE_SHA}"]
    (folder / "s.sh.linux-64.explicit.txt").write_text(explicit_lock(DIGEST, lines))
    _locked_error(folder, env, "hello-tool", "line 4", "line 5", "hello-tool-1.0-1.conda", fmt="explicit")


# --------------------------------------------------------------------------
# Item 5: every archive read is bounded, whatever the scheme
# --------------------------------------------------------------------------


@pytest.mark.parametrize("special", ["fifo", "dev-zero", "dev-urandom"])
def test_a_special_file_as_a_file_archive_is_refused_at_once(
    tmp_path: Path, env: dict[str, str], own_rattler_cache: Path, special: str
) -> None:
    """A ``file://`` archive that is a FIFO hung forever; a link to a device wrote without end."""
    env = dict(env, RATTLER_CACHE_DIR=str(own_rattler_cache))
    channel = tmp_path / "channel" / "noarch"
    channel.mkdir(parents=True)
    archive = channel / "hello-tool-1.0-0.conda"
    if special == "fifo":
        os.mkfifo(archive)
    else:
        archive.symlink_to("/" + special.replace("-", "/"))
    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    lock = explicit_lock(DIGEST, [f"{archive.as_uri()}#sha256:{FAKE_SHA}"])
    (folder / "s.sh.linux-64.explicit.txt").write_text(lock)
    started = time.monotonic()
    result = run("--locked", "--lock-format", "explicit", "s.sh", env=env, cwd=folder, timeout=60)
    took = time.monotonic() - started
    assert_one_error(result, 1, "hello-tool-1.0-0.conda")
    assert "regular file" in result.stderr
    assert took < 30, took  # the timeout is 60 s; a refusal takes about one second
    written = sum(path.stat().st_size for path in own_rattler_cache.rglob("*") if path.is_file())
    assert written < 1 << 20, written


def test_a_file_archive_larger_than_its_recorded_size_is_refused(
    tmp_path: Path, env: dict[str, str], own_rattler_cache: Path
) -> None:
    """A regular ``file://`` archive is read only up to its record's size (plus a margin), never to its end."""
    env = dict(env, RATTLER_CACHE_DIR=str(own_rattler_cache))
    local = tmp_path / "channel" / "noarch" / "hello-tool-1.0-0.conda"
    local.parent.mkdir(parents=True)
    with local.open("wb") as handle:  # a sparse 64 MB file: costs no disk
        handle.truncate(64 << 20)
    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    entry = {"conda": local.as_uri(), "build_number": 0, "subdir": "noarch", "sha256": FAKE_SHA, "size": 957}
    document = {
        "version": 6,
        "environments": {"default": {"channels": [], "packages": {"linux-64": [{"conda": local.as_uri()}]}}},
        "packages": [entry],
    }
    (folder / "s.sh.conda-exec.lock").write_text(HEADER + yaml.safe_dump(document, sort_keys=False))
    line = _locked_error(folder, env, "hello-tool-1.0-0.conda", "larger than its recorded size")
    assert line
    written = sum(path.stat().st_size for path in own_rattler_cache.rglob("*") if path.is_file())
    assert written < 8 << 20, written


# --------------------------------------------------------------------------
# Item 9: credentials never leave the machine
# --------------------------------------------------------------------------


class _TokenChannel(http.server.SimpleHTTPRequestHandler):
    """Serves a channel only under ``/t/<TOKEN>/`` (as anaconda.org does); anything else is 401."""

    requests: list[str]

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def _gate(self) -> bool:
        self.requests.append(self.path)
        prefix = f"/t/{TOKEN}/"
        if not self.path.startswith(prefix):
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False
        self.path = "/" + self.path[len(prefix) :]
        return True

    def do_GET(self) -> None:
        """The channel, behind the token."""
        if self._gate():
            super().do_GET()

    def do_HEAD(self) -> None:
        """As GET."""
        if self._gate():
            super().do_HEAD()


@pytest.fixture
def token_server(channel: Path) -> Iterator[tuple[str, list[str]]]:
    """``http://127.0.0.1:PORT`` serving the test channel under ``/t/<TOKEN>/``, and the paths requested."""
    requests: list[str] = []
    handler = type("Handler", (_TokenChannel,), {"requests": requests})
    with serve_handler(functools.partial(handler, directory=str(channel)), "ce-token-channel") as url:
        yield url, requests


@pytest.fixture
def net_env(env: dict[str, str]) -> dict[str, str]:
    """The environment without proxies (loopback) and with a short retry budget."""
    clean = {k: v for k, v in env.items() if not k.lower().endswith("_proxy")}
    clean.update(NO_PROXY="127.0.0.1", CONDA_REMOTE_MAX_RETRIES="1")
    clean.pop("CONDA_CHANNELS", None)
    return clean


def _texts_under(*roots: Path) -> dict[str, str]:
    found = {}
    for root in roots:
        for path in root.rglob("*") if root.is_dir() else ():
            if path.is_file() and not path.is_symlink() and path.stat().st_size < 4 << 20:
                found[str(path)] = path.read_bytes().decode("utf-8", "replace")
    return found


def test_a_token_channel_writes_no_token_anywhere(
    tmp_path: Path, net_env: dict[str, str], token_server: tuple[str, list[str]]
) -> None:
    """A lock written from ``-c http://host/t/<token>/`` holds no token (three formats), nor conda-meta;
    the lock then installs again from the same configured channel, the token put back at install."""
    server, requests = token_server
    channel = f"{server}/t/{TOKEN}"
    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    outputs = []
    for fmt in ("rattler-lock-v6", "conda-lock", "explicit"):
        args = ("-c", channel, "--override-channels", "--lock", "--lock-format", fmt, "s.sh")
        result = run(*args, env=net_env, cwd=folder)
        assert_ok(result, "hello from hello-tool")
        outputs.append(result.stdout + result.stderr)
    written = {p.name: p.read_text() for p in folder.iterdir() if p.name != "s.sh"}
    assert len(written) == 3, sorted(written)
    for name, text in written.items():
        assert TOKEN not in text, (name, text)
        assert "/t/" not in text, (name, text)
        assert server.split("://", 1)[1] + "/noarch/hello-tool-1.0-0.conda" in text, (name, text)
    home = Path(net_env["CONDA_EXEC_HOME"])
    leaked = [path for path, text in _texts_under(home).items() if TOKEN in text]
    assert leaked == []
    assert any(home.glob("envs/*/conda-meta/hello-tool-*.json"))
    # installing from the token-free lock: a fresh cache, the same configured channel (its token goes back in)
    fresh = dict(net_env, CONDA_EXEC_HOME=str(tmp_path / "ce-home-2"), RATTLER_CACHE_DIR=str(tmp_path / "rc-2"))
    requests.clear()
    for fmt in ("rattler-lock-v6", "conda-lock", "explicit"):
        args = ("-c", channel, "--override-channels", "--locked", "--refresh", "--lock-format", fmt, "s.sh")
        result = run(*args, env=fresh, cwd=folder)
        assert_ok(result, "hello from hello-tool")
        outputs.append(result.stdout + result.stderr)
    assert any(path.endswith("hello-tool-1.0-0.conda") for path in requests), requests
    leaked = [path for path, text in _texts_under(Path(fresh["CONDA_EXEC_HOME"])).items() if TOKEN in text]
    assert leaked == []
    assert not [out for out in outputs if TOKEN in out]


def test_a_token_in_a_lock_url_is_masked_in_messages(
    tmp_path: Path, net_env: dict[str, str], own_rattler_cache: Path
) -> None:
    """A refused download from a tokenized lock URL names the URL without its token."""
    net_env = dict(net_env, RATTLER_CACHE_DIR=str(own_rattler_cache))
    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    url = f"http://127.0.0.1:9/t/{TOKEN}/chan/noarch/hello-tool-1.0-0.conda"
    (folder / "s.sh.linux-64.explicit.txt").write_text(explicit_lock(DIGEST, [f"{url}#sha256:{FAKE_SHA}"]))
    result = run("--offline", "--locked", "--lock-format", "explicit", "s.sh", env=net_env, cwd=folder, timeout=90)
    line = assert_one_error(result, 1, "--offline")
    assert "127.0.0.1:9/chan/noarch/hello-tool-1.0-0.conda" in line, line
    assert TOKEN not in result.stderr + result.stdout
    result = run("--locked", "--lock-format", "explicit", "s.sh", env=net_env, cwd=folder, timeout=90)
    assert_one_error(result, 1, "hello-tool-1.0-0.conda")
    assert TOKEN not in result.stderr + result.stdout


def test_an_explicit_lock_with_a_password_parses_and_never_echoes_it(
    tmp_path: Path, net_env: dict[str, str], channel: Path, own_rattler_cache: Path
) -> None:
    """An explicit line with ``user:pass@`` reads like the same URL in v6; the password is never shown."""
    net_env = dict(net_env, RATTLER_CACHE_DIR=str(own_rattler_cache))
    _url, _md5, sha256 = archive_of(channel, "hello-tool-1.0-0")
    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    url = f"http://ce-user:{SECRET}@127.0.0.1:9/chan/noarch/hello-tool-1.0-0.conda"  # "#" unencoded, as typed
    (folder / "s.sh.linux-64.explicit.txt").write_text(explicit_lock(DIGEST, [f"{url}#sha256:{sha256}"]))
    result = run("--locked", "--lock-format", "explicit", "s.sh", env=net_env, cwd=folder, timeout=90)
    line = assert_one_error(result, 1, "cannot fetch a locked archive")  # read, then refused by the network
    assert "hello-tool-1.0-0.conda" in line and "invalid" not in line, line
    assert SECRET not in result.stderr + result.stdout


@pytest.mark.parametrize("special", ["fifo", "dev-zero"])
def test_a_special_file_in_a_file_channel_is_refused_at_once(
    tmp_path: Path, channel: Path, own_rattler_cache: Path, special: str
) -> None:
    """Solved from a ``file://`` channel, not locked: an archive that is a FIFO or a device is refused too."""
    local = tmp_path / "channel"
    shutil.copytree(channel / "noarch", local / "noarch", ignore=shutil.ignore_patterns("*.conda"))
    shutil.copytree(channel / "linux-64", local / "linux-64", ignore=shutil.ignore_patterns("*.conda"))
    archive = local / "noarch" / "hello-tool-1.0-0.conda"
    if special == "fifo":
        os.mkfifo(archive)
    else:
        archive.symlink_to("/dev/zero")
    env = dict(os.environ, RATTLER_CACHE_DIR=str(own_rattler_cache))
    started = time.monotonic()
    args = ("-c", local.as_uri(), "--override-channels", "--from", "hello-tool", "hello")
    result = run(*args, env=env, timeout=60)
    took = time.monotonic() - started
    line = assert_one_error(result, 1, "hello-tool-1.0-0.conda")
    assert "regular file" in line, line
    assert took < 30, took
    written = sum(path.stat().st_size for path in own_rattler_cache.rglob("*") if path.is_file())
    assert written < 1 << 20, written
