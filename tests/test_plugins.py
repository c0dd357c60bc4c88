"""The backend registry: built-ins, in-process plugins and installed distributions."""

from __future__ import annotations

import os
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from ce.errors import BackendNotFoundError, InvalidNameError
from ce.plugins import CeLockfileFormat, CeRunner, CeSolver, hookimpl
from ce.plugins.manager import BUILTIN_PROVIDER, BackendRegistry
from conftest import run_ce


class EchoRunner:
    name = "echo"

    def prepare(self, prefix: str, argv: list[str], environ: dict[str, str]) -> object:
        return ("echo", prefix, argv)


def _plugin_module(**hooks: object) -> types.ModuleType:
    module = types.ModuleType("in_test_plugin")
    for name, function in hooks.items():
        setattr(module, name, function)
    return module


def test_builtins_are_registered_without_entry_points() -> None:
    registry = BackendRegistry(entry_points=False)
    assert set(registry.backends("solver")) == {"rattler", "conda"}
    assert set(registry.backends("runner")) == {"path", "activate"}
    assert registry.get("solver", "rattler").provider == BUILTIN_PROVIDER
    assert registry.broken == []


def test_in_test_plugin_provides_a_runner() -> None:
    @hookimpl
    def ce_runners() -> Iterator[CeRunner]:
        yield CeRunner(name="echo", backend=EchoRunner, summary="echo the plan")  # type: ignore[arg-type]

    registry = BackendRegistry(plugins=[(_plugin_module(ce_runners=ce_runners), "in-test 1.0")], entry_points=False)
    backend = registry.get("runner", "echo")
    assert backend.provider == "in-test 1.0"
    assert registry.create("runner", "echo").prepare("/p", ["x"], {}) == ("echo", "/p", ["x"])


def test_unknown_backend_names_list_the_valid_ones() -> None:
    registry = BackendRegistry(entry_points=False)
    with pytest.raises(BackendNotFoundError, match=r"unknown solver 'nope'; valid solver names: conda, rattler"):
        registry.get("solver", "nope")
    with pytest.raises(
        BackendNotFoundError, match=r"valid lockfile-format names: conda-lock, explicit, rattler-lock-v6"
    ):
        registry.get("lockfile-format", "x")


@pytest.mark.parametrize("name", ["", "Upper", "has space", "-dash", "x" * 65, "a--b", "dots..", None, 3])
def test_record_names_are_validated(name: object) -> None:
    with pytest.raises(InvalidNameError):
        CeSolver(name=name, backend=object)  # type: ignore[arg-type]


def test_records_are_frozen_and_need_a_callable_backend() -> None:
    record = CeLockfileFormat(name="fmt", backend=object)  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        record.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        CeSolver(name="ok", backend="not callable")  # type: ignore[arg-type]


def test_a_failing_hook_or_wrong_record_is_reported_and_skipped() -> None:
    @hookimpl
    def ce_solvers() -> Iterator[CeSolver]:
        raise RuntimeError("boom")
        yield  # pragma: no cover

    @hookimpl
    def ce_runners() -> list[object]:
        return ["not a record"]

    registry = BackendRegistry(
        plugins=[(_plugin_module(ce_solvers=ce_solvers, ce_runners=ce_runners), "bad-dist 0.1")], entry_points=False
    )
    reasons = [str(broken) for broken in registry.broken]
    assert any("bad-dist 0.1" in reason and "RuntimeError: boom" in reason for reason in reasons)
    assert any("yielded str, not CeRunner" in reason for reason in reasons)
    assert set(registry.backends("solver")) == {"rattler", "conda"}


def test_a_plugin_cannot_shadow_a_builtin() -> None:
    @hookimpl
    def ce_runners() -> Iterator[CeRunner]:
        yield CeRunner(name="path", backend=EchoRunner)  # type: ignore[arg-type]

    registry = BackendRegistry(plugins=[(_plugin_module(ce_runners=ce_runners), "shadow 1.0")], entry_points=False)
    assert registry.get("runner", "path").provider == BUILTIN_PROVIDER
    assert any("already provided by" in str(broken) for broken in registry.broken)


def test_hook_with_a_typo_is_rejected_by_pluggy() -> None:
    @hookimpl
    def ce_solverz() -> list[object]:
        return []

    registry = BackendRegistry(plugins=[(_plugin_module(ce_solverz=ce_solverz), "typo 1.0")], entry_points=False)
    assert any("typo 1.0" in str(broken) for broken in registry.broken)


@pytest.fixture
def installed_plugins(tmp_path: Path) -> Path:
    """A site directory holding two fake installed distributions: one good plugin, one broken."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "good_ce_plugin.py").write_text(
        textwrap.dedent(
            """
            from ce.plugins import CeRunner, hookimpl

            class Runner:
                def prepare(self, prefix, argv, environ):
                    raise NotImplementedError

            @hookimpl
            def ce_runners():
                yield CeRunner(name="good-runner", backend=Runner, summary="from a fake distribution")
            """
        )
    )
    (site / "broken_ce_plugin.py").write_text("raise ImportError('this plugin is broken on purpose')\n")
    for dist, module in (("good_ce_plugin", "good_ce_plugin"), ("broken_ce_plugin", "broken_ce_plugin")):
        info = site / f"{dist}-1.2.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist.replace('_', '-')}\nVersion: 1.2.3\n")
        (info / "entry_points.txt").write_text(f"[ce]\n{module} = {module}\n")
    return site


def test_installed_distributions_are_loaded_and_broken_ones_reported(
    installed_plugins: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(installed_plugins))
    registry = BackendRegistry()
    assert registry.get("runner", "good-runner").provider == "good-ce-plugin 1.2.3"
    (broken,) = [b for b in registry.broken if b.plugin == "broken_ce_plugin"]
    assert broken.provider == "broken-ce-plugin 1.2.3"
    assert "this plugin is broken on purpose" in broken.reason
    sys.modules.pop("good_ce_plugin", None)


def test_backends_command_lists_plugins_with_their_distribution(installed_plugins: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(installed_plugins))
    result = run_ce("--backends", env=env)
    assert result.returncode == 0, result.stderr
    assert "good-runner" in result.stdout and "good-ce-plugin 1.2.3" in result.stdout
    assert "rattler" in result.stdout and "path" in result.stdout
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 1
    assert "broken_ce_plugin" in warnings[0] and "broken-ce-plugin 1.2.3" in warnings[0]


def test_a_broken_plugin_does_not_break_an_unrelated_run(installed_plugins: Path, ce_home: Path) -> None:
    from helpers import FAKE_ARGS, make_fake_env

    make_fake_env(ce_home, "faketool", "echo fine")
    env = dict(os.environ, PYTHONPATH=str(installed_plugins))
    result = run_ce("--runner", "path", *FAKE_ARGS, "faketool", env=env)
    assert (result.returncode, result.stdout) == (0, "fine\n")
    result = run_ce("--runner", "good-runner", *FAKE_ARGS, "faketool", env=env)
    assert result.returncode == 1
    assert "broken_ce_plugin" in result.stderr  # reported, not fatal
