"""The worked third-party plugin in examples/: installed for real, listed, and used."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, run_ce
from helpers import FAKE_ARGS, make_fake_env

EXAMPLE = REPO / "examples" / "ce-clean-env"


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/ce-clean-env installed (by pip, from its pyproject) into a temporary site directory."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(target), str(EXAMPLE)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return target


def test_backends_lists_the_example_with_its_distribution(installed_example: Path) -> None:
    result = run_ce("--backends", env=dict(os.environ, PYTHONPATH=str(installed_example)))
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stdout.splitlines() if "clean-env" in line]
    assert "ce-clean-env 1.0.0" in line and "whitelisted environment" in line
    assert result.stderr == ""


def test_runner_is_used_end_to_end(installed_example: Path, ce_home: Path) -> None:
    prefix = make_fake_env(
        ce_home, "faketool", 'echo "PATH=$PATH"; echo "SECRET=${CE_SECRET:-unset}"; echo "KEPT=$KEPT"'
    )
    env = dict(os.environ, PYTHONPATH=str(installed_example), CE_SECRET="hunter2", KEPT="yes", CE_CLEAN_ENV_KEEP="KEPT")
    result = run_ce("--runner", "clean-env", *FAKE_ARGS, "faketool", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"PATH={prefix / 'bin'}:/usr/bin:/bin", "SECRET=unset", "KEPT=yes"]
    # the default runner passes the whole environment
    default = run_ce(*FAKE_ARGS, "faketool", env=env)
    assert "SECRET=hunter2" in default.stdout
