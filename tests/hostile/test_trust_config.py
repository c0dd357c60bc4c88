"""Files read for networking and configuration are never special files; a broken plugin never
breaks a run that does not use it.

Every run here is bounded by a subprocess timeout: a FIFO read by rattler or a plugin that
hangs at import would otherwise hang the test, which is the failure being tested.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from build_test_channel import serve_channel
from hostile.support import (
    HELLO_SCRIPT,
    UNPRIVILEGED,
    assert_ok,
    assert_one_error,
    error_lines,
    run,
    script_folder,
)

#: Far above a cold run from a warm package cache (a second or two), far below "hung".
BOUND = 90
HELLO = ("--from", "hello-tool", "hello")


@pytest.fixture
def http_channel(channel: Path) -> Iterator[str]:
    """The test channel served on 127.0.0.1 (stopped on teardown)."""
    with serve_channel(channel) as url:
        yield url


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def _run_http(url: str, env: dict[str, str]) -> object:
    return run("-c", url, "--override-channels", *HELLO, env=env, timeout=BOUND)


# --------------------------------------------------------------------------
# Item 6: networking files
# --------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["home-netrc", "NETRC", "RATTLER_AUTH_FILE", "credentials-json"])
def test_a_fifo_where_rattler_reads_credentials_is_refused_in_one_line(
    tmp_path: Path, http_channel: str, where: str
) -> None:
    """``~/.netrc``, ``$NETRC``, ``$RATTLER_AUTH_FILE`` and ``~/.rattler/credentials.json`` as FIFOs
    hung every run that built rattler's client; now one error names the file."""
    env = dict(os.environ)
    home = Path(env["HOME"])
    if where == "home-netrc":
        fifo = _fifo(home / ".netrc")
    elif where == "credentials-json":
        fifo = _fifo(home / ".rattler" / "credentials.json")
    else:
        fifo = _fifo(tmp_path / "planted" / where.lower())
        env[where] = str(fifo)
    result = _run_http(http_channel, env)
    line = assert_one_error(result, 1, str(fifo))
    assert "FIFO" in line
    assert "hello from hello-tool" not in result.stdout


@pytest.mark.parametrize("how", ["condarc", "CONDA_SSL_VERIFY", "SSL_CERT_FILE"])
def test_a_ca_bundle_that_is_a_fifo_is_refused(tmp_path: Path, http_channel: str, how: str) -> None:
    """``ssl_verify: <a FIFO>`` (in a condarc or ``CONDA_SSL_VERIFY``), or ``SSL_CERT_FILE`` naming one,
    hung the run; now one line names it and where it was configured."""
    fifo = _fifo(tmp_path / "planted" / "ca.pem")
    env = dict(os.environ)
    if how == "condarc":
        (Path(env["HOME"]) / ".condarc").write_text(f"ssl_verify: {fifo}\n")
    else:
        env[how] = str(fifo)
    result = _run_http(http_channel, env)
    line = assert_one_error(result, 1, str(fifo))
    assert "FIFO" in line
    assert ("SSL_CERT_FILE" if how == "SSL_CERT_FILE" else "ssl_verify") in line


def test_a_directory_as_the_netrc_is_refused(http_channel: str) -> None:
    """Own case: a directory at ``~/.netrc`` was silently ignored (rattler only logs it); now it is named."""
    env = dict(os.environ)
    netrc = Path(env["HOME"]) / ".netrc"
    netrc.mkdir()
    line = assert_one_error(_run_http(http_channel, env), 1, str(netrc))
    assert "directory" in line


# --------------------------------------------------------------------------
# Item 6: CONDARC
# --------------------------------------------------------------------------


def test_condarc_variable_naming_a_fifo_is_an_error(tmp_path: Path, env: dict[str, str]) -> None:
    """A ``CONDARC`` that is a FIFO was skipped silently (falling back to other channels)."""
    fifo = _fifo(tmp_path / "planted" / ".condarc")
    result = run(*HELLO, env=dict(env, CONDARC=str(fifo)), timeout=BOUND)
    line = assert_one_error(result, 1, str(fifo))
    assert "FIFO" in line
    assert "hello from hello-tool" not in result.stdout


def test_condarc_variable_naming_nothing_is_an_error(tmp_path: Path, env: dict[str, str]) -> None:
    """An explicitly given ``CONDARC`` that does not exist is an error, never a silent fallback."""
    missing = tmp_path / "nowhere" / "condarc"
    result = run(*HELLO, env=dict(env, CONDARC=str(missing)), timeout=BOUND)
    line = assert_one_error(result, 1, str(missing))
    assert "CONDARC" in line


def test_a_fifo_on_the_condarc_search_path_is_an_error(env: dict[str, str]) -> None:
    """Own case: ``~/.condarc`` (or a ``condarc.d/*.yml``) that is a FIFO is refused, not skipped."""
    home = Path(env["HOME"])
    for fifo in (home / ".condarc", home / ".conda" / "condarc.d" / "x.yml"):
        _fifo(fifo)
        line = assert_one_error(run(*HELLO, env=env, timeout=BOUND), 1, str(fifo))
        assert "FIFO" in line
        fifo.unlink()


def test_condarc_variable_the_user_cannot_read_is_an_error(shared_tmp: Path, channel_url: str) -> None:
    """``CONDARC`` in a directory this user cannot enter was skipped silently (run as an unprivileged user)."""
    if os.getuid() != 0:
        pytest.skip("needs root to run ce as another user")
    closed = shared_tmp / "closed"
    closed.mkdir()
    (closed / ".condarc").write_text("channels: [nowhere]\n")
    closed.chmod(0o700)  # root's: the unprivileged user cannot look inside
    home = shared_tmp / "home"
    home.mkdir()
    os.chown(home, 65534, 65534)
    env = dict(
        os.environ,
        HOME=str(home),
        CONDA_EXEC_HOME=str(home / "ce"),
        RATTLER_CACHE_DIR=str(home / "rattler"),
        XDG_CACHE_HOME=str(home / ".cache"),
        TMPDIR=str(home),
        CONDA_CHANNELS=channel_url,
        CONDARC=str(closed / ".condarc"),
    )
    result = run(*HELLO, env=env, timeout=BOUND, prefix=UNPRIVILEGED)
    line = assert_one_error(result, 1, str(closed / ".condarc"))
    assert "permission denied" in line.lower()


# --------------------------------------------------------------------------
# Item 7: plugins on demand
# --------------------------------------------------------------------------

PLUGIN_BODIES = {
    "raises": "raise RuntimeError('plugin import failed on purpose')\n",
    "exits": "import sys\nsys.exit(3)\n",
    "prints": "import os\nprint('PLUGIN-NOISE-PY')\nos.write(1, b'PLUGIN-NOISE-FD\\n')\n",
    "hangs": "import time\ntime.sleep(3600)\n",
}


def _plugin_site(root: Path, behaviour: str) -> Path:
    """A site directory holding one installed distribution, ``broken-ce-plugin``, whose module *behaviour*s."""
    site = root / "site"
    site.mkdir()
    (site / "broken_ce_plugin.py").write_text(PLUGIN_BODIES[behaviour])
    info = site / "broken_ce_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-ce-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[ce]\ntheplugin = broken_ce_plugin\n")
    return site


@pytest.mark.parametrize("behaviour", list(PLUGIN_BODIES))
def test_a_broken_plugin_never_touches_a_script_run_with_an_unrelated_file_beside_it(
    tmp_path: Path, env: dict[str, str], behaviour: str
) -> None:
    """``setup.cfg`` beside ``s.py`` made ce load every plugin: a hang hung ``ce s.py``, a raise
    warned, ``sys.exit(3)`` exited silently, a print wrote into the tool's stdout."""
    folder = script_folder(tmp_path, "s.py", HELLO_SCRIPT)
    (folder / "setup.cfg").write_text("[metadata]\nname = x\n")
    (folder / "s.cfg").mkdir()  # a directory is no sidecar either
    env = dict(env, PYTHONPATH=str(_plugin_site(tmp_path, behaviour)))
    result = run("s.py", env=env, cwd=folder, timeout=BOUND)
    assert_ok(result)
    assert result.stdout == "hello from hello-tool s.py\n", result.stdout
    assert "broken-ce-plugin" not in result.stderr  # never loaded


@pytest.mark.parametrize("behaviour", ["exits", "prints"])
def test_a_broken_plugin_loaded_for_a_possible_sidecar_is_skipped_and_stays_quiet(
    tmp_path: Path, env: dict[str, str], behaviour: str
) -> None:
    """A file that could be a plugin's sidecar loads the plugins; a failing one is skipped with one
    line naming its distribution and entry point, the run succeeds and stdout holds only the tool's."""
    folder = script_folder(tmp_path, "s.py", HELLO_SCRIPT)
    (folder / "s.py.some-lock").write_text("not a lock ce knows\n")
    env = dict(env, PYTHONPATH=str(_plugin_site(tmp_path, behaviour)))
    result = run("s.py", env=env, cwd=folder, timeout=BOUND)
    assert_ok(result)
    assert result.stdout == "hello from hello-tool s.py\n", result.stdout
    named = [line for line in result.stderr.splitlines() if "broken-ce-plugin" in line and "theplugin" in line]
    if behaviour == "prints":
        assert named == []  # it imported fine: nothing to report
        assert "PLUGIN-NOISE-PY" in result.stderr and "PLUGIN-NOISE-FD" in result.stderr
    else:
        assert len(named) == 1, result.stderr
        assert "sys.exit(3)" in named[0]


@pytest.mark.parametrize("behaviour", ["raises", "exits"])
def test_naming_a_broken_plugins_backend_says_which_plugin_failed(
    tmp_path: Path, env: dict[str, str], behaviour: str
) -> None:
    """``--solver theplugin``: one warning line names the distribution and entry point, then one error."""
    env = dict(env, PYTHONPATH=str(_plugin_site(tmp_path, behaviour)))
    result = run("--solver", "theplugin", *HELLO, env=env, timeout=BOUND)
    line = assert_one_error(result, 2, "theplugin")
    assert "skipped" in line
    named = [text for text in result.stderr.splitlines() if "broken-ce-plugin" in text and "theplugin" in text]
    assert len([text for text in named if "warning" in text]) == 1, result.stderr
    assert result.stdout == ""


def test_a_printing_plugin_never_writes_into_the_backends_listing(tmp_path: Path, env: dict[str, str]) -> None:
    """Own case: ``--backends`` loads every plugin; their prints go to stderr, stdout is the listing."""
    env = dict(env, PYTHONPATH=str(_plugin_site(tmp_path, "prints")))
    result = run("--backends", env=env, timeout=BOUND)
    assert_ok(result)
    assert "PLUGIN-NOISE" not in result.stdout
    assert "PLUGIN-NOISE-FD" in result.stderr
    assert error_lines(result.stderr) == []
