"""conda's commands on ce's environments: ``conda-meta`` holds package records and a history conda understands.

``conda list -p``, ``conda env export -p``, ``conda install -p`` and ``conda remove -p`` read every
``conda-meta/*.json`` as a package record (``PrefixData``) and keep what the history says was asked
for (``History.get_requested_specs_map``): without it, ``conda remove -p ENV other`` removes the tool.
Checked with the fake of that surface (tests/fake_conda.py) and, where it is importable, real conda.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ce.base import CachePaths
from ce.envs.store import EnvCache, history_entry
from conftest import run_ce
from fake_conda import forget_conda_modules, write_fake_conda
from helpers import env_names

SCRIPT = textwrap.dedent(
    """\
    # /// script
    # requires-python = ">=3.11"
    #
    # [tool.conda]
    # dependencies = ["python-dateutil"]
    # ///
    import dateutil
    print("dateutil", dateutil.__version__)
    """
)


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.conda)])
def conda_reader(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """conda's ``PrefixData`` and ``History`` (the fake's, or real conda's), as ``(prefix_data, history)``."""
    forget_conda_modules()
    if request.param == "fake":
        monkeypatch.syspath_prepend(str(write_fake_conda(tmp_path / "fake-conda", prefix_data=True)))
    import conda.core.prefix_data  # type: ignore[import-not-found,unused-ignore]
    import conda.history  # type: ignore[import-not-found,unused-ignore]

    yield conda.core.prefix_data, conda.history
    forget_conda_modules()


def _check(prefix: Path, asked: list[str], modules: tuple[ModuleType, ModuleType]) -> None:
    """*prefix* reads as conda reads it: only package records, and a history naming *asked*."""
    prefix_data, history = modules
    records = {record.name: record for record in prefix_data.PrefixData(str(prefix)).iter_records()}
    files = sorted(path.name for path in (prefix / "conda-meta").glob("*.json"))
    assert sorted(f"{r.name}-{r.version}-{r.build}.json" for r in records.values()) == files
    requested = history.History(str(prefix)).get_requested_specs_map()
    assert sorted(requested) == sorted(asked), (prefix / "conda-meta" / "history").read_text()
    # the history's state is the environment's packages, as conda names them: its next entry is only a diff
    assert set(history.History(str(prefix)).get_state()) == {record.dist_str() for record in records.values()}


def test_a_tool_environment_is_one_conda_reads_and_keeps(
    conda_reader: tuple[ModuleType, ModuleType], local: tuple[str, ...], ce_home: Path
) -> None:
    result = run_ce(*local, "--with", "hello-tool", "ruff", "--version")
    assert result.returncode == 0, result.stderr
    (name,) = env_names(ce_home)
    prefix = ce_home / "envs" / name
    _check(prefix, ["hello-tool", "ruff"], conda_reader)
    text = (prefix / "conda-meta" / "history").read_text()
    assert text.count("==>") == 1 and "# cmd: ce ruff hello-tool\n" in text
    assert text.endswith("# update specs: ['ruff', 'hello-tool']\n")


def test_script_environments_solved_and_locked_are_ones_conda_reads_and_keeps(
    conda_reader: tuple[ModuleType, ModuleType], channel_url: str, ce_home: Path, tmp_path: Path
) -> None:
    script = tmp_path / "work" / "summary.py"
    script.parent.mkdir()
    script.write_text(SCRIPT)
    environ = dict(os.environ, CONDA_CHANNELS=channel_url)
    for args in (["--ignore-lock"], ["--lock"]):
        result = run_ce(*args, str(script), env=environ)
        assert result.returncode == 0, result.stderr
    names = env_names(ce_home)
    kinds = sorted(json.loads((ce_home / "envs" / name / ".ce-env.json").read_text())["locked"] for name in names)
    assert kinds == [False, True]
    for name in names:
        _check(ce_home / "envs" / name, ["python", "python-dateutil"], conda_reader)


def test_a_history_conda_wrote_keeps_its_request(tmp_path: Path) -> None:
    """conda's transaction (the ``conda`` solver) wrote the history's request: ce only adds its comment."""
    ce_home = tmp_path / "ce-home"
    written = (
        "==> 2026-01-01 00:00:00 <==\n# cmd: conda exec ruff\n# conda version: 26.7.1\n"
        "+conda-forge/linux-64::ruff-0.17.6-0\n# update specs: ['ruff']\n"
    )

    def create(build_dir: str, _final: str) -> None:
        Path(build_dir, "conda-meta").mkdir()
        Path(build_dir, "conda-meta", "history").write_text(written)

    prefix = EnvCache(CachePaths(str(ce_home))).build("ruff--0123456789abcdef", create, {"specs": ["ruff"]})
    text = Path(prefix, "conda-meta", "history").read_text()
    assert text.startswith(written) and text.count("==>") == 1 and text.count("# cmd:") == 1
    assert text[len(written) :].startswith("# created by ce ")


def test_linked_packages_are_named_as_conda_names_them(tmp_path: Path) -> None:
    meta = tmp_path / "conda-meta"
    meta.mkdir()
    records = {
        "ruff-0.17.6-0": {"channel": "https://conda.anaconda.org/conda-forge/", "subdir": "linux-64"},
        "six-1.17.0-pyh_0": {"channel": "file:///srv/channel/noarch", "subdir": "noarch"},
    }
    for dist, fields in records.items():
        name, version, build = dist.rsplit("-", 2)
        (meta / f"{dist}.json").write_text(json.dumps(dict(fields, name=name, version=version, build=build)))
    (meta / "broken.json").write_text("{")
    entry = history_entry(str(meta), ["ruff >=0.4", "six"])
    assert entry.splitlines()[1:] == [
        "# cmd: ce ruff >=0.4 six",
        entry.splitlines()[2],
        "+conda-forge/linux-64::ruff-0.17.6-0",
        "+file:///srv/channel/noarch::six-1.17.0-pyh_0",
        "# update specs: ['ruff >=0.4', 'six']",
    ]
    assert entry.splitlines()[2].startswith("# created by ce ")


def test_conda_reads_every_json_in_conda_meta_as_a_package_record(
    conda_reader: tuple[ModuleType, ModuleType], tmp_path: Path
) -> None:
    """Why ce's own record lives outside ``conda-meta``: conda fails on a file there that is not a record."""
    prefix_data, _history = conda_reader
    (tmp_path / "conda-meta").mkdir()
    (tmp_path / "conda-meta" / "ce-env.json").write_text('{"kind": "tool", "specs": ["ruff"]}')
    with pytest.raises(ValueError, match="not enough values to unpack"):
        list(prefix_data.PrefixData(str(tmp_path)).iter_records())
