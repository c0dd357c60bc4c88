"""The ``activate`` runner: conda's activation variables, env_vars, activate.d scripts, and their cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ce.backends.activate_runner import (
    CACHE_FILE,
    ActivateRunner,
    activated_environ,
    base_activation,
    decode_cache,
    encode_cache,
)
from ce.errors import InstallError
from conftest import run_ce


def test_activate_runs_the_activate_d_scripts(local: tuple[str, ...]) -> None:
    plain = run_ce(*local, "--from", "activate-demo", "show-activate-demo")
    assert (plain.returncode, plain.stdout) == (0, "CE_ACTIVATE_DEMO=unset\n"), plain.stderr
    activated = run_ce("--activate", *local, "--from", "activate-demo", "show-activate-demo")
    assert (activated.returncode, activated.stdout) == (0, "CE_ACTIVATE_DEMO=activated\n"), activated.stderr
    runner = run_ce("--runner", "activate", *local, "--from", "activate-demo", "show-activate-demo")
    assert runner.stdout == "CE_ACTIVATE_DEMO=activated\n"
    again = run_ce(*local, "--from", "activate-demo", "show-activate-demo")  # warm, not activated
    assert again.stdout == "CE_ACTIVATE_DEMO=unset\n"


def test_warm_activated_run_starts_no_shell_and_no_full_command_line(local: tuple[str, ...]) -> None:
    args = ("--activate", *local, "--from", "activate-demo", "show-activate-demo")
    assert run_ce(*args).stdout == "CE_ACTIVATE_DEMO=activated\n"  # builds, and caches the activation
    warm = subprocess.run([sys.executable, "-X", "importtime", "-m", "ce", *args], capture_output=True, text=True)
    assert warm.stdout == "CE_ACTIVATE_DEMO=activated\n"
    imported = {line.rsplit("|", 1)[1].strip() for line in warm.stderr.splitlines() if line.startswith("import time:")}
    assert "ce.backends.activate_runner" in imported
    assert not {"ce.cli", "pluggy", "subprocess", "rattler", "json"} & imported
    both = run_ce("--activate", "--runner", "path", *local, "--from", "activate-demo", "show-activate-demo")
    assert both.returncode == 2 and "--activate and --runner cannot be combined" in both.stderr


def test_activated_tool_sees_conda_variables(local: tuple[str, ...], ce_home: Path) -> None:
    args = ("--activate", *local, "--from", "exit-with", "--with", "activate-demo", "exit-with", "env")
    environ = dict(os.environ, CONDA_PREFIX="/outer/env", CONDA_SHLVL="1")
    seen = {name: run_ce(*args, name, env=environ).stdout.strip() for name in ("CONDA_PREFIX", "CONDA_DEFAULT_ENV")}
    (prefix,) = (ce_home / "envs").glob("exit-with--*")
    assert seen == {"CONDA_PREFIX": str(prefix), "CONDA_DEFAULT_ENV": str(prefix)}
    assert run_ce(*args, "CONDA_SHLVL", env=environ).stdout.strip() == "2"
    assert run_ce(*args, "CONDA_PREFIX_1", env=environ).stdout.strip() == "/outer/env"
    assert run_ce(*args, "CE_ACTIVATE_DEMO", env=environ).stdout.strip() == "activated"
    assert run_ce(*args, "PATH", env=environ).stdout.split(os.pathsep)[0] == str(prefix / "bin")
    assert (prefix / CACHE_FILE).is_file()


def _prefix(tmp_path: Path, scripts: dict[str, str]) -> Path:
    prefix = tmp_path / "env"
    (prefix / "conda-meta").mkdir(parents=True)
    (prefix / "bin").mkdir()
    tool = prefix / "bin" / "tool"
    tool.write_text("#!/bin/sh\ntrue\n")
    tool.chmod(0o755)
    activate_d = prefix / "etc" / "conda" / "activate.d"
    activate_d.mkdir(parents=True)
    for name, text in scripts.items():
        (activate_d / name).write_text(text)
    return prefix


def test_declared_variables_and_stacking(tmp_path: Path) -> None:
    prefix = _prefix(tmp_path, {})
    env_vars = prefix / "etc" / "conda" / "env_vars.d"
    env_vars.mkdir()
    (env_vars / "b.json").write_text(json.dumps({"FROM_PACKAGE": "b", "BOTH": "package"}))
    (env_vars / "a.json").write_text(json.dumps({"FROM_PACKAGE": "a", "ORDER": "a"}))
    state = {"env_vars": {"BOTH": "state", "REMOVED": "***unset***"}}
    (prefix / "conda-meta" / "state").write_text(json.dumps(state))
    base = {"PATH": "/usr/bin", "REMOVED": "was here", "CONDA_SHLVL": "bogus"}
    env = base_activation(str(prefix), base)
    assert env["FROM_PACKAGE"] == "b" and env["ORDER"] == "a" and env["BOTH"] == "state"
    assert "REMOVED" not in env
    assert env["PATH"] == f"{prefix / 'bin'}{os.pathsep}/usr/bin"
    assert (env["CONDA_SHLVL"], env["CONDA_PREFIX"], env["CONDA_PROMPT_MODIFIER"]) == ("1", str(prefix), f"({prefix}) ")
    assert not any(name.startswith("CONDA_PREFIX_") for name in env)
    (prefix / "conda-meta" / "state").write_text("{broken")
    with pytest.raises(InstallError, match="state"):
        base_activation(str(prefix), base)


def test_script_effects_are_cached_until_their_inputs_change(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    script = (
        'echo "ran" >> "$CE_TEST_COUNTER"\n'
        'echo "chatter on stdout"\n'
        'export CE_SET="from ${CE_TEST_INPUT:-nothing}"\n'
        "unset CE_GONE\n"
    )
    prefix = _prefix(tmp_path, {"10-demo.sh": script, "ignored.csh": "setenv CE_CSH 1\n"})
    base = {"PATH": os.environ["PATH"], "CE_TEST_COUNTER": str(counter), "CE_GONE": "x", "CE_TEST_INPUT": "one"}

    first = activated_environ(str(prefix), base)
    assert (first["CE_SET"], "CE_GONE" in first, "CE_CSH" in first) == ("from one", False, False)
    assert "chatter on stdout" not in json.dumps(first)
    second = activated_environ(str(prefix), dict(base, UNRELATED="changed"))
    assert second["CE_SET"] == "from one" and "CE_GONE" not in second
    assert counter.read_text().count("ran") == 1  # the second activation started no shell
    third = activated_environ(str(prefix), dict(base, CE_TEST_INPUT="two"))  # a variable the script reads
    assert third["CE_SET"] == "from two"
    assert counter.read_text().count("ran") == 2
    (prefix / "etc/conda/activate.d/10-demo.sh").write_text(script + "export CE_MORE=1\n")  # the script changed
    assert activated_environ(str(prefix), dict(base, CE_TEST_INPUT="two"))["CE_MORE"] == "1"
    assert counter.read_text().count("ran") == 3
    cached = decode_cache((prefix / CACHE_FILE).read_text())
    assert cached is not None
    _scripts, names, _inputs, changes = cached
    assert names == ["CE_TEST_COUNTER", "CE_TEST_INPUT"]
    assert changes["CE_GONE"] is None and changes["CE_SET"] == "from two"


def test_activation_cache_round_trips_any_value() -> None:
    changes: dict[str, str | None] = {"EMPTY": "", "LINES": "a\nb\tc", "GONE": None, "PLUS": "+-"}
    scripts = [("/p/etc/conda/activate.d/a b.sh", 12, 34)]
    text = encode_cache(scripts, ["HOME", "X"], "key", changes)
    assert decode_cache(text) == (scripts, ["HOME", "X"], "key", changes)
    assert decode_cache(encode_cache([], [], "k", {})) == ([], [], "k", {})
    assert decode_cache("garbage") is None
    assert decode_cache(text.replace("+a", "?a")) is None


def test_runner_prepares_the_activated_process(tmp_path: Path) -> None:
    prefix = _prefix(tmp_path, {"x.sh": "export CE_X=1\n"})
    plan = ActivateRunner().prepare(str(prefix), ["tool", "arg"], {"PATH": os.environ["PATH"]})
    assert plan.executable == str(prefix / "bin" / "tool")
    assert plan.argv == ["tool", "arg"] and plan.env["CE_X"] == "1"


def test_a_failing_activation_script_is_a_clear_error(tmp_path: Path) -> None:
    prefix = _prefix(tmp_path, {"bad.sh": "exit 3\n"})
    with pytest.raises(InstallError, match=r"activate.d scripts \(bad.sh\) exited with status 3"):
        activated_environ(str(prefix), {"PATH": os.environ["PATH"]})
