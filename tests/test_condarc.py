"""condarc without conda: the files conda reads, its precedence and merging, and what ce does with them.

Every condarc lives in the test's tmp dir: HOME and XDG_CONFIG_HOME point
there, and conftest moves conda's system-wide entries (``/etc/conda``,
``/var/lib/conda``) under ``tmp/system`` through ``CE_CONDARC_SEARCH_PATH``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ce.config import condarc
from ce.config import merge as condarc_merge
from ce.config.channels import check_override_allowed, normalize_channel, resolve_channels
from ce.config.condarc import CondaSettings, load, package_cache
from ce.errors import ConfigurationError, UsageError
from ce.tool_request import resolve_tool_request
from conftest import run_ce
from fake_conda import FAKE_DEFAULT_CHANNELS, forget_conda_modules, write_fake_conda

ALIAS = "https://conda.anaconda.org/"


@pytest.fixture
def home() -> Path:
    return Path(os.environ["HOME"])


@pytest.fixture
def system(tmp_path: Path) -> Path:
    """Where conftest put conda's system-wide condarc locations (``<system>/etc/conda/...``)."""
    return tmp_path / "system"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def env(**variables: str) -> dict[str, str]:
    return {**os.environ, **variables}


def test_no_condarc_and_no_variables_means_conda_forge() -> None:
    assert load(env()) == CondaSettings()
    assert resolve_channels([], False, env()) == (ALIAS + "conda-forge",)


def test_every_search_path_location_is_read_in_conda_order(home: Path, system: Path, tmp_path: Path) -> None:
    prefix, root, xdg = tmp_path / "active-env", tmp_path / "conda-root", tmp_path / "xdg"
    files = [
        (system / "etc/conda/.condarc", "etc-dot"),
        (system / "etc/conda/condarc", "etc-plain"),
        (system / "etc/conda/condarc.d/b.yaml", "etc-d-b"),
        (system / "etc/conda/condarc.d/a.yml", "etc-d-a"),
        (system / "var/lib/conda/.condarc", "var-lib"),
        (root / ".condarc", "conda-root"),
        (xdg / "conda/condarc", "xdg"),
        (home / ".config/conda/.condarc", "dot-config"),
        (home / ".conda/condarc.d/x.yml", "dot-conda-d"),
        (home / ".condarc", "home"),
        (prefix / ".condarc", "conda-prefix"),
        (tmp_path / "explicit.yml", "condarc-variable"),
    ]
    for path, channel in files:
        write(path, f"channels: [{channel}]\n")
    write(system / "etc/conda/condarc.d/ignored.txt", "channels: [not-yaml-suffix]\n")
    variables = env(CONDA_PREFIX=str(prefix), CONDA_ROOT=str(root), XDG_CONFIG_HOME=str(xdg))
    variables["CONDARC"] = str(tmp_path / "explicit.yml")
    found = [Path(path) for path, _size, _mtime in condarc.find_files(variables)]
    expected_order = [path for path, _channel in files]
    expected_order[2:4] = [expected_order[3], expected_order[2]]  # condarc.d files in name order
    assert found == expected_order
    # lists merge with the most specific source first
    settings = load(variables)
    assert settings.channels == tuple(
        channel for _path, channel in reversed(files[:2] + files[3:4] + files[2:3] + files[4:])
    )
    assert settings.channels[0] == "condarc-variable" and settings.channels[-1] == "etc-dot"


def test_condarc_variable_must_name_a_condarc_or_yaml_file(tmp_path: Path) -> None:
    odd = write(tmp_path / "my-settings", "channels: [odd]\n")
    assert load(env(CONDARC=str(odd))).channels == ()
    named = write(tmp_path / "x" / "condarc", "channels: [named]\n")
    assert load(env(CONDARC=str(named))).channels == ("named",)


def test_restricted_search_path_reads_only_condarc(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(home / ".condarc", "channels: [home]\n")
    only = write(tmp_path / "only.yaml", "channels: [only]\n")
    monkeypatch.delenv(condarc.SEARCH_PATH_VARIABLE)
    variables = env(CONDA_RESTRICT_RC_SEARCH_PATH="1", CONDARC=str(only))
    assert load(variables).channels == ("only",)


def test_environment_variables_win_over_files(home: Path, system: Path) -> None:
    write(system / "etc/conda/.condarc", "channels: [site]\nchannel_alias: https://site.example\n")
    write(home / ".condarc", "channels: [mine, site]\noverride_channels_enabled: false\npkgs_dirs: [~/pkgs]\n")
    settings = load(env())
    assert settings.channels == ("mine", "site")
    assert settings.channel_alias == "https://site.example"
    assert not settings.override_channels_enabled
    variables = env(
        CONDA_CHANNELS="from-env, mine",
        CONDA_CHANNEL_ALIAS="https://env.example/",
        CONDA_OVERRIDE_CHANNELS_ENABLED="true",
        CONDA_PKGS_DIRS="/tmp/env-pkgs",
        CONDA_DEFAULT_CHANNELS="https://env.example/main",
    )
    settings = load(variables)
    assert settings.channels == ("from-env", "mine", "site")
    assert settings.channel_alias == "https://env.example"
    assert settings.override_channels_enabled
    assert settings.pkgs_dirs == ("/tmp/env-pkgs", str(home / "pkgs"))
    assert settings.default_channels == ("https://env.example/main",)
    assert settings.sources["channel_alias"] == "environment variables"


def test_final_marker_stops_later_sources(home: Path, system: Path) -> None:
    write(
        system / "etc/conda/.condarc",
        "channels:  #!final\n  - approved\nchannel_alias: https://mirror.example  #!final\n"
        "override_channels_enabled: false #!final\n",
    )
    write(home / ".condarc", "channels: [other]\nchannel_alias: https://elsewhere.example\n")
    settings = load(env(CONDA_CHANNELS="from-env", CONDA_OVERRIDE_CHANNELS_ENABLED="true"))
    assert settings.channels == ("approved",)
    assert settings.channel_alias == "https://mirror.example"
    assert not settings.override_channels_enabled
    assert resolve_channels([], False, env()) == ("https://mirror.example/approved",)


def test_channel_alias_and_custom_channels_map_names(home: Path, system: Path) -> None:
    write(
        system / "etc/conda/.condarc",
        "custom_channels:\n  conda-forge: https://site-mirror.example/\n  internal: https://site.example\n",
    )
    write(
        home / ".condarc",
        "channel_alias: https://alias.example\ncustom_channels:\n  conda-forge: https://my-mirror.example\n",
    )
    settings = load(env())
    assert settings.custom_channels == {
        "conda-forge": "https://my-mirror.example",
        "internal": "https://site.example",
    }
    assert resolve_channels(["conda-forge/label/dev", "internal", "bioconda"], True, env()) == (
        "https://my-mirror.example/conda-forge/label/dev",
        "https://site.example/internal",
        "https://alias.example/bioconda",
    )
    assert normalize_channel("https://direct.example/x/", settings.channel_alias, settings.custom_channels) == (
        "https://direct.example/x"
    )


def test_defaults_expands_to_default_channels(home: Path) -> None:
    write(
        home / ".condarc",
        "channels: [conda-forge, defaults]\ndefault_channels:\n  - https://internal.example/main\n  - extra\n",
    )
    assert resolve_channels(["defaults"], False, env()) == (
        "https://internal.example/main",
        ALIAS + "extra",
        ALIAS + "conda-forge",
    )


def test_defaults_without_default_channels_is_condas_builtin_list(home: Path) -> None:
    write(home / ".condarc", "channels: [defaults, conda-forge]\n")
    assert resolve_channels([], False, env()) == (
        "https://repo.anaconda.com/pkgs/main",
        "https://repo.anaconda.com/pkgs/r",
        ALIAS + "conda-forge",
    )


@pytest.fixture
def fake_conda_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    forget_conda_modules()
    root = write_fake_conda(tmp_path / "fake-conda", base=True)
    monkeypatch.syspath_prepend(str(root))
    yield root
    forget_conda_modules()


def test_defaults_uses_conda_builtin_list_when_conda_is_importable(home: Path, fake_conda_base: Path) -> None:
    write(home / ".condarc", "channels: [defaults]\n")
    assert resolve_channels([], False, env()) == FAKE_DEFAULT_CHANNELS


def test_override_channels_enabled_false_refuses_override(home: Path, channel_url: str) -> None:
    write(home / ".condarc", "override_channels_enabled: false\n")
    with pytest.raises(ConfigurationError, match=r"--override-channels is disabled \(override_channels_enabled"):
        check_override_allowed(env())
    with pytest.raises(ConfigurationError):
        resolve_tool_request("ruff", None, [], ["x"], True, "linux-64", env())
    assert resolve_tool_request("ruff", None, [], ["x"], False, "linux-64", env()).channels[0] == ALIAS + "x"
    result = run_ce("-c", channel_url, "--override-channels", "--from", "hello-tool", "hello")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("ce: error: --override-channels is disabled") and str(home / ".condarc") in line


def test_pkgs_dirs_first_writable_is_the_rattler_package_cache(home: Path, tmp_path: Path) -> None:
    locked = tmp_path / "read-only"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        write(home / ".condarc", f"pkgs_dirs:\n  - {locked}/pkgs\n  - ~/conda-pkgs\n")
        variables = {key: value for key, value in os.environ.items() if key != "RATTLER_CACHE_DIR"}
        if os.access(locked, os.W_OK):  # running as root: everything is writable
            assert package_cache(variables) == str(locked / "pkgs")
        else:
            assert package_cache(variables) == str(home / "conda-pkgs")
        # an explicit RATTLER_CACHE_DIR wins
        assert package_cache(env(RATTLER_CACHE_DIR=str(tmp_path / "r"))) == str(tmp_path / "r" / "pkgs")
        assert condarc_merge.package_cache_dir(CondaSettings()) is None
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("channels: [a\n", "invalid YAML in condarc"),
        ("- just\n- a list\n", "must be a mapping"),
        ("channels: conda-forge\n", "channels in"),
        ("channel_alias: not-a-url\n", "channel_alias in"),
        ("custom_channels: [a]\n", "custom_channels in"),
        ("override_channels_enabled: maybe\n", "override_channels_enabled in"),
    ],
)
def test_bad_condarc_is_a_clear_error(home: Path, text: str, needle: str) -> None:
    path = write(home / ".condarc", text)
    with pytest.raises(ConfigurationError, match=needle) as caught:
        load(env())
    assert str(path) in str(caught.value)
    result = run_ce("ruff")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("ce: error: ") and needle in line


def test_empty_condarc_is_fine(home: Path) -> None:
    write(home / ".condarc", "# nothing yet\n")
    assert load(env()).channels == ()


def test_settings_are_cached_until_a_condarc_changes(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rc = write(home / ".condarc", "channels: [first]\n")
    assert load(env()).channels == ("first",)
    cache = Path(condarc.cache_path(env(), condarc._cache_key(condarc.find_files(env()), env())))
    assert not cache.exists()  # written only when the run starts its tool
    condarc.save_pending()
    assert cache.is_file()
    condarc._loaded.clear()

    def no_yaml(path: str) -> object:
        raise AssertionError("the cached settings should have been used")

    with monkeypatch.context() as patched:
        patched.setattr(condarc_merge, "read_file", no_yaml)
        assert load(env()).channels == ("first",)
    rc.write_text("channels: [second, third]\n")  # new size: a new key
    assert load(env()).channels == ("second", "third")
    # environment variables are part of the key
    assert load(env(CONDA_CHANNELS="x")).channels == ("x", "second", "third")


def test_variables_alone_are_cached_too(monkeypatch: pytest.MonkeyPatch) -> None:
    variables = env(CONDA_CHANNELS="a,b", CONDA_CHANNEL_ALIAS="https://alias.example")
    assert load(variables).channels == ("a", "b")
    condarc.save_pending()
    assert Path(condarc.cache_path(variables, condarc._cache_key([], variables))).is_file()
    condarc._loaded.clear()
    with monkeypatch.context() as patched:
        patched.setattr(condarc_merge, "settle", None)  # importing the merge module is the slow path
        assert load(variables).channel_alias == "https://alias.example"


def test_distinct_settings_do_not_evict_each_other(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(home / ".condarc", "channels: [from-file]\n")
    first, second = env(), env(CONDA_CHANNELS="from-variable")
    for variables in (first, second, first):
        load(variables)
        condarc.save_pending()
    condarc._loaded.clear()
    with monkeypatch.context() as patched:
        patched.setattr(condarc_merge, "settle", None)
        assert load(first).channels == ("from-file",)
        assert load(second).channels == ("from-variable", "from-file")
    for number in range(condarc.KEEP_CACHED + 3):
        load(env(CONDA_CHANNELS=f"c{number}"))
        condarc.save_pending()
    cached = list((Path(os.environ["CONDA_EXEC_HOME"]) / condarc.CACHE_DIR).iterdir())
    assert len(cached) == condarc.KEEP_CACHED


def test_values_with_variables_expand_and_are_not_cached(home: Path) -> None:
    write(home / ".condarc", 'channels:\n  - "${TEAM}-tools"\n')
    assert load(env(TEAM="red")).channels == ("red-tools",)
    assert load(env(TEAM="blue")).channels == ("blue-tools",)


def test_warm_run_with_a_condarc_reads_no_yaml(home: Path, channel_url: str) -> None:
    write(home / ".condarc", f"channels:\n  - {channel_url}\n")
    cold = run_ce("--from", "hello-tool", "hello", "x")
    assert (cold.returncode, cold.stdout) == (0, "hello from hello-tool x\n"), cold.stderr
    warm = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ce", "--from", "hello-tool", "hello", "y"],
        capture_output=True,
        text=True,
    )
    assert warm.stdout == "hello from hello-tool y\n"
    imported = {line.rsplit("|", 1)[1].strip() for line in warm.stderr.splitlines() if line.startswith("import time:")}
    # the tool index decides the hit by stat calls on the recorded condarc paths: no configuration module at all
    assert not {"yaml", "ce.cli", "rattler", "ce.config.condarc", "ce.config.settings"} & imported


def test_script_override_is_refused_too(home: Path, tmp_path: Path) -> None:
    write(home / ".condarc", "override_channels_enabled: no\n")
    script = write(tmp_path / "s.sh", "# /// script\n# [tool.conda]\n# run-with = ['bash']\n# ///\necho hi\n")
    result = run_ce("-c", "x", "--override-channels", str(script))
    assert result.returncode == 1 and "--override-channels is disabled" in result.stderr


def test_override_without_channels_is_still_a_usage_error() -> None:
    with pytest.raises(UsageError):
        resolve_channels([], True, env())


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CONDA_ROOT", "{base}"),
        ("_CONDA_ROOT", "{base}"),
        ("CONDA_EXE", "{base}/bin/conda"),
        ("CONDA_EXE", "{base}/condabin/conda"),
        ("CONDA_PYTHON_EXE", "{base}/bin/python3.11"),
    ],
)
def test_the_base_installs_condarc_is_found_as_conda_expands_conda_root(
    tmp_path: Path, variable: str, value: str
) -> None:
    from ce.config.condarc import conda_root, find_files

    base = tmp_path / "base"
    base.mkdir()
    (base / ".condarc").write_text("channels: [from-base]\n")
    environ = {"HOME": str(tmp_path / "home"), variable: value.format(base=base)}
    assert conda_root(environ) == str(base)
    assert [path for path, _, _ in find_files(environ)] == [str(base / ".condarc")]


def test_conda_root_wins_over_what_the_shell_hook_exports(tmp_path: Path) -> None:
    from ce.config.condarc import conda_root

    hook = {"_CONDA_ROOT": "/hook", "CONDA_EXE": "/exe/bin/conda", "CONDA_PYTHON_EXE": "/py/bin/python"}
    assert conda_root({"CONDA_ROOT": "/root", **hook}) == "/root"
    assert conda_root(hook) == "/hook"
    assert conda_root({"CONDA_EXE": "/exe/bin/conda", "CONDA_PYTHON_EXE": "/py/bin/python"}) == "/exe"
    assert conda_root({"CONDA_EXE": "/dev/bin/python", "CONDA_PYTHON_EXE": "/py/bin/python"}) == "/py"
    assert conda_root({"CONDA_EXE": "/somewhere/conda"}) is None
    assert conda_root({}) is None
