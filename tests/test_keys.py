from __future__ import annotations

import pytest

from ce.base import env_name
from ce.config.channels import normalize_channel, resolve_channels
from ce.errors import InvalidNameError, UsageError
from ce.specs import normalize_spec, spec_package_name, tool_argument_spec
from ce.tool_request import resolve_tool_request


@pytest.mark.parametrize(
    ("spec", "normalized"),
    [
        ("ruff", "ruff"),
        ("  ruff  ", "ruff"),
        ("ruff >= 0.4 , <0.5", "ruff>=0.4,<0.5"),
        ("ruff>=0.4,<0.5", "ruff>=0.4,<0.5"),
        ("ruff 0.4.*", "ruff 0.4.*"),
        ("ruff   0.4.*   py_0", "ruff 0.4.* py_0"),
        ("conda-forge::ruff", "conda-forge::ruff"),
        ("python =3.11", "python=3.11"),
    ],
)
def test_normalize_spec(spec: str, normalized: str) -> None:
    assert normalize_spec(spec) == normalized


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("ruff", "ruff"),
        ("Ruff>=1", "ruff"),
        ("conda-forge::python-dateutil 2.9.*", "python-dateutil"),
        ("numpy[version='>=1']", "numpy"),
        ("libgcc-ng==12", "libgcc-ng"),
    ],
)
def test_spec_package_name(spec: str, name: str) -> None:
    assert spec_package_name(spec) == name


@pytest.mark.parametrize("spec", ["", ">=1", "../x", "a/b", "-rf", ".hidden", "x" * 200, "bad$name"])
def test_spec_package_name_rejects(spec: str) -> None:
    with pytest.raises((InvalidNameError, UsageError)):
        spec_package_name(normalize_spec(spec) if spec.strip() else spec)


@pytest.mark.parametrize("tool", ["../x", "/bin/sh", "a/b", "..", ".", "-x", "a\0b", "a\nb", "", "  "])
def test_tool_names_that_could_escape_are_refused(tool: str) -> None:
    with pytest.raises((InvalidNameError, UsageError)):
        tool_argument_spec(tool)


def test_tool_argument_accepts_specs_and_uvx_style_versions() -> None:
    assert tool_argument_spec("ruff") == ("ruff", "ruff")
    assert tool_argument_spec("ruff>=0.4") == ("ruff", "ruff>=0.4")
    assert tool_argument_spec("ruff@0.4.1") == ("ruff", "ruff==0.4.1")
    with pytest.raises(InvalidNameError):
        tool_argument_spec("ruff@")


def test_channels_normalize_to_urls(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    assert normalize_channel("conda-forge") == "https://conda.anaconda.org/conda-forge"
    assert normalize_channel("https://example.invalid/chan/") == "https://example.invalid/chan"
    assert normalize_channel("file:///srv/chan") == "file:///srv/chan"
    monkeypatch.chdir(str(tmp_path))
    (tmp_path / "local").mkdir()  # type: ignore[operator]
    # a bare name stays a name even when a directory of that name is in the cwd (issue 13)
    assert normalize_channel("local") == "https://conda.anaconda.org/local"
    assert normalize_channel("./local") == f"file://{tmp_path}/local"
    assert normalize_channel("../local") == f"file://{tmp_path.parent}/local"  # type: ignore[attr-defined]
    assert normalize_channel(".") == f"file://{tmp_path}"
    assert normalize_channel(str(tmp_path / "local")) == f"file://{tmp_path}/local"  # type: ignore[operator]
    with pytest.raises(UsageError):
        normalize_channel("ftp://x")
    with pytest.raises(UsageError):
        normalize_channel("")


def test_channel_resolution_prepends_cli_channels() -> None:
    env = {"CONDA_CHANNELS": "a,b"}
    base = "https://conda.anaconda.org/"
    assert resolve_channels(["c"], False, env) == (base + "c", base + "a", base + "b")
    assert resolve_channels(["c"], True, env) == (base + "c",)
    assert resolve_channels([], False, {}) == (base + "conda-forge",)
    assert resolve_channels(["a", "a"], True, {}) == (base + "a",)
    with pytest.raises(UsageError):
        resolve_channels([], True, env)


def test_key_covers_every_input_but_not_spec_order() -> None:
    base = env_name("ruff", ("ruff", "pytest"), ("c1", "c2"), "linux-64")
    assert base.startswith("ruff--") and len(base) == len("ruff--") + 16
    assert env_name("ruff", ("pytest", "ruff"), ("c1", "c2"), "linux-64") == base
    assert env_name("ruff", ("ruff", "pytest"), ("c2", "c1"), "linux-64") != base  # priority order matters
    assert env_name("ruff", ("ruff",), ("c1", "c2"), "linux-64") != base
    assert env_name("ruff", ("ruff", "pytest"), ("c1", "c2"), "osx-arm64") != base
    assert env_name("ruff", ("ruff", "pytest"), ("c1",), "linux-64") != base


def test_equivalent_command_lines_share_a_key() -> None:
    env: dict[str, str] = {}
    one = resolve_tool_request("ruff", None, ["pytest >=8"], ["conda-forge"], True, "linux-64", env)
    two = resolve_tool_request(
        "ruff", None, ["pytest>=8"], ["https://conda.anaconda.org/conda-forge/"], True, "linux-64", env
    )
    assert one.env_name == two.env_name
    via_from = resolve_tool_request("http", "httpie", [], [], False, "linux-64", env)
    assert via_from.command == "http" and via_from.package == "httpie"
    assert via_from.env_name.startswith("httpie--")
