"""A conda base's condarc without the shell hook, and channels as conda means them (issue 22, items 2 and 4).

- Standalone ``ce`` installed in a conda base (``<sys.prefix>/conda-meta``) reads
  ``<sys.prefix>/.condarc`` with no ``CONDA_EXE``/``_CONDA_ROOT``; ``conda exec``
  reads it under conda's own root (the ``CONDA_ROOT`` conda set for itself, which
  the tool does not inherit).
- ``channels: []`` (configured, empty) adds no default in either front door;
  ``conda exec -c X`` with nothing configured uses X alone; standalone ``ce -c X``
  keeps conda-forge behind X.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from ce.config import condarc
from ce.config.channels import resolve_channels
from ce.errors import ConfigurationError
from fake_conda import write_fake_conda

FORGE = "https://conda.anaconda.org/conda-forge"
X = "https://example.invalid/x"


@pytest.fixture(autouse=True)
def standalone() -> Iterator[None]:
    """Every test starts (and ends) as standalone ``ce``, with no settings loaded in this process."""
    state = getattr(condarc, "_CondaExec", None)  # (absent before issue 22: the tests then fail, not error)
    if state is not None:
        state.root = None
    condarc._loaded.clear()
    yield
    if state is not None:
        state.root = None
    condarc._loaded.clear()


def _base(tmp_path: Path, text: str | None, *, meta: bool = True) -> Path:
    base = tmp_path / "base"
    base.mkdir(exist_ok=True)
    if meta:
        (base / "conda-meta").mkdir(exist_ok=True)
    if text is not None:
        (base / ".condarc").write_text(text)
    return base


def _home_condarc(text: str) -> None:
    (Path(os.environ["HOME"]) / ".condarc").write_text(text)


# --- item 2: the base's condarc without the shell hook -------------------------------------------


def test_standalone_ce_in_a_conda_base_reads_its_condarc_without_any_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _base(tmp_path, f"channels: [{X}]\n")
    monkeypatch.setattr(sys, "prefix", str(base))
    assert condarc.conda_root(os.environ) == str(base)
    assert condarc.conda_root({"CONDA_EXE": "/elsewhere/bin/conda"}) == "/elsewhere"  # variables still come first
    assert resolve_channels([], False, os.environ) == (X,)
    watched, variables = condarc.watched_paths(os.environ)
    assert str(base / ".condarc") in watched and "CONDA_ROOT" in variables


def test_sys_prefix_is_a_conda_base_only_with_conda_meta(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = _base(tmp_path, f"channels: [{X}]\n", meta=False)
    monkeypatch.setattr(sys, "prefix", str(base))
    assert condarc.conda_root(os.environ) is None
    assert resolve_channels([], False, os.environ) == (FORGE,)
    # a conda-meta created later makes it the base: the tool index must notice (never a stale hit)
    watched, _ = condarc.watched_paths(os.environ)
    assert str(base / "conda-meta") in watched


def test_conda_exec_reads_condarc_under_conda_root_even_when_not_a_conda_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _base(tmp_path, f"channels: [{X}]\n", meta=False)  # conda pip-installed in a venv: no conda-meta
    condarc.use_root_of_conda(str(base))
    assert condarc.conda_root(os.environ) == str(base)
    assert resolve_channels([], False, os.environ) == (X,)


def test_the_tool_index_key_holds_the_front_door_and_sys_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    from ce import fastpath

    environ = dict(os.environ)
    key = fastpath.tool_key("ruff", [], [], environ)
    assert fastpath.tool_key("ruff", [], [], environ, "conda exec") != key
    monkeypatch.setattr(sys, "prefix", "/another/prefix")
    assert fastpath.tool_key("ruff", [], [], environ) != key


# --- item 4: channels ------------------------------------------------------------------------------


def _channels_with(home_condarc: str | None, cli: list[str]) -> tuple[str, ...]:
    path = Path(os.environ["HOME"]) / ".condarc"
    if home_condarc is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(home_condarc)
    condarc._loaded.clear()
    return resolve_channels(cli, False, os.environ)


def test_standalone_keeps_conda_forge_unless_channels_are_configured_even_empty() -> None:
    assert _channels_with(None, []) == (FORGE,)
    assert _channels_with(None, [X]) == (X, FORGE)  # README's `ce -c bioconda samtools` needs conda-forge
    assert _channels_with("channels: [https://example.invalid/y]\n", [X]) == (X, "https://example.invalid/y")
    assert _channels_with("channels: []\n", [X]) == (X,)  # configured, empty: nothing added


def test_conda_exec_channels_are_condas_own(tmp_path: Path) -> None:
    condarc.use_root_of_conda(str(_base(tmp_path, None, meta=False)))
    assert _channels_with(None, [X]) == (X,)  # as `conda create -c X`
    assert _channels_with("channels: []\n", [X]) == (X,)
    assert _channels_with("channels: [https://example.invalid/y]\n", [X]) == (X, "https://example.invalid/y")
    assert _channels_with(None, []) == (FORGE,)  # nothing configured and no -c: ce's documented default


@pytest.mark.parametrize("conda_exec", [False, True])
def test_channels_configured_empty_without_cli_channels_is_an_error_saying_where(
    tmp_path: Path, conda_exec: bool
) -> None:
    _home_condarc("channels: []\n")
    if conda_exec:
        condarc.use_root_of_conda(str(_base(tmp_path, None, meta=False)))
    with pytest.raises(ConfigurationError) as raised:
        resolve_channels([], False, os.environ)
    message = str(raised.value)
    assert "no channels" in message and str(Path(os.environ["HOME"]) / ".condarc") in message
    assert "-c CHANNEL" in message and "channels:" in message


def test_conda_channels_empty_counts_as_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONDA_CHANNELS", "")
    with pytest.raises(ConfigurationError, match="environment variables"):
        resolve_channels([], False, os.environ)
    assert resolve_channels([X], False, os.environ) == (X,)


def test_settings_cache_keeps_configured_empty_channels(tmp_path: Path) -> None:
    _home_condarc("channels: []\n")
    assert resolve_channels([X], False, os.environ) == (X,)
    condarc.save_pending()
    condarc._loaded.clear()  # a new process: the cached settings text, not the YAML
    assert resolve_channels([X], False, os.environ) == (X,)


def test_script_index_key_holds_the_front_door(tmp_path: Path) -> None:
    from ce.script import index

    script = tmp_path / "s.py"
    script.write_text("print(1)\n")
    data = script.read_bytes()
    key = index.fingerprint(str(script), data, [X], [], False, "linux-64", os.environ)
    condarc.use_root_of_conda(str(_base(tmp_path, None, meta=False)))
    assert index.fingerprint(str(script), data, [X], [], False, "linux-64", os.environ) != key


# --- end to end: a Python whose sys.prefix holds the condarc, fake conda -----------------------------


def _venv(tmp_path: Path, text: str, *, meta: bool) -> Path:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    if meta:
        (venv / "conda-meta").mkdir()
    (venv / ".condarc").write_text(text)
    return venv


def _run(venv: Path, fake: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    """*args* under the venv's Python, with ce (and the fake conda) importable, and no conda variable set."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    paths = [str(fake)] if fake is not None else []
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [*paths, src, sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    )
    for name in ("CONDA_ROOT", "_CONDA_ROOT", "CONDA_EXE", "CONDA_PYTHON_EXE", "CONDA_PREFIX", "CONDARC"):
        env.pop(name, None)
    return subprocess.run(
        [str(venv / "bin" / "python"), "-m", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.mark.skipif(os.name == "nt", reason="POSIX venv layout")
def test_conda_exec_uses_the_base_condarc_channels_without_the_shell_hook(
    tmp_path: Path, channel_url: str, ce_home: Path
) -> None:
    fake = write_fake_conda(tmp_path / "fake-conda")
    venv = _venv(tmp_path, f"channels: [{channel_url}]\n", meta=False)  # conda pip-installed: no conda-meta
    cold = _run(venv, fake, "conda", "exec", "--offline", "--from", "hello-tool", "hello", "a")
    assert (cold.returncode, cold.stdout) == (0, "hello from hello-tool a\n"), cold.stderr
    warm = _run(venv, fake, "conda", "exec", "--offline", "--from", "hello-tool", "hello", "b")
    assert (warm.returncode, warm.stdout, warm.stderr) == (0, "hello from hello-tool b\n", "")
    assert any(entry.name.startswith("tool-") for entry in (ce_home / "envs" / ".index").iterdir())
    # the tool does not inherit the CONDA_ROOT conda set for itself
    script = "echo ${CONDA_ROOT-unset}"
    env = _run(venv, fake, "conda", "exec", "--offline", "--from", "bash", "bash", "-c", script)
    assert env.stdout == "unset\n", env.stderr


@pytest.mark.skipif(os.name == "nt", reason="POSIX venv layout")
def test_conda_exec_with_channels_empty_uses_the_cli_channel_alone(
    tmp_path: Path, channel_url: str, ce_home: Path
) -> None:
    fake = write_fake_conda(tmp_path / "fake-conda")
    venv = _venv(tmp_path, "channels: []\n", meta=False)
    result = _run(venv, fake, "conda", "exec", "--offline", "-c", channel_url, "--from", "hello-tool", "hello")
    assert (result.returncode, result.stdout) == (0, "hello from hello-tool\n"), result.stderr
    none = _run(venv, fake, "conda", "exec", "--offline", "--from", "hello-tool", "hello")
    assert none.returncode == 1
    assert "conda exec: error: no channels to install from: channels is empty in " in none.stderr
    assert str(venv / ".condarc") in none.stderr


@pytest.mark.skipif(os.name == "nt", reason="POSIX venv layout")
def test_standalone_ce_in_a_conda_base_uses_its_condarc(tmp_path: Path, channel_url: str, ce_home: Path) -> None:
    venv = _venv(tmp_path, f"channels: [{channel_url}]\n", meta=True)
    result = _run(venv, None, "ce", "--offline", "--from", "hello-tool", "hello")
    assert (result.returncode, result.stdout) == (0, "hello from hello-tool\n"), result.stderr
    # a changed base condarc is a miss of the tool index, never a stale hit
    (venv / ".condarc").write_text("channels: []\n")
    changed = _run(venv, None, "ce", "--offline", "--from", "hello-tool", "hello")
    assert changed.returncode == 1 and "no channels to install from" in changed.stderr
