"""`ce SCRIPT` end to end: PEP 723 and legacy metadata, PyPI dependencies, any language."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import run_ce
from helpers import env_names
from test_script_metadata import BAD

DATEUTIL_SCRIPT = textwrap.dedent(
    """\
    # /// script
    # requires-python = ">=3.11"
    #
    # [tool.conda]
    # dependencies = ["python-dateutil"]
    # ///
    import sys
    from dateutil.parser import isoparse

    print(isoparse("2026-05-28T09:00:00+00:00").isoformat())
    print(sys.argv[0], *sys.argv[1:])
    """
)


@pytest.fixture
def channel_env(channel_url: str, test_cache_root: Path) -> dict[str, str]:
    """The environment of a user whose configured channel is the local one, with uv offline."""
    env = dict(os.environ)
    env["CONDA_CHANNELS"] = channel_url
    env["UV_NO_INDEX"] = "1"
    env["UV_OFFLINE"] = "1"
    env["UV_FIND_LINKS"] = str(test_cache_root / "wheels" / "pypi")
    return env


def test_dateutil_script_runs_and_reuses_its_environment(
    tmp_path: Path, channel_env: dict[str, str], ce_home: Path
) -> None:
    script = tmp_path / "summary.py"
    script.write_text(DATEUTIL_SCRIPT)
    first = run_ce(str(script), "a", "b c", env=channel_env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == ["2026-05-28T09:00:00+00:00", f"{script} a b c"]
    assert "created script--" in first.stderr
    (name,) = env_names(ce_home)
    second = run_ce(str(script), env=channel_env)
    assert second.returncode == 0 and "created" not in second.stderr
    # editing the code alone reuses the environment
    script.write_text(DATEUTIL_SCRIPT.replace("print(sys.argv[0], *sys.argv[1:])", 'print("edited")'))
    third = run_ce(str(script), env=channel_env)
    assert third.stdout.splitlines()[-1] == "edited" and env_names(ce_home) == [name]
    # changing a dependency makes a new one
    script.write_text(DATEUTIL_SCRIPT.replace('["python-dateutil"]', '["python-dateutil", "six"]'))
    assert run_ce(str(script), env=channel_env).returncode == 0
    assert len(env_names(ce_home)) == 2


def test_relative_path_cwd_stdin_and_exit_code(tmp_path: Path, channel_env: dict[str, str]) -> None:
    (tmp_path / "s.py").write_text(
        "import os, sys\nprint(sys.argv[0]); print(os.getcwd()); print(sys.stdin.read().strip())\nsys.exit(7)\n"
    )
    result = run_ce("s.py", env=channel_env, cwd=tmp_path, input="from stdin\n")
    assert result.returncode == 7, result.stderr
    assert result.stdout.splitlines() == ["s.py", str(tmp_path), "from stdin"]


def test_script_without_metadata_gets_a_python_environment(
    tmp_path: Path, channel_env: dict[str, str], ce_home: Path
) -> None:
    script = tmp_path / "plain.py"
    script.write_text("import sys; print(sys.prefix)\n")
    result = run_ce(str(script), env=channel_env)
    assert result.returncode == 0, result.stderr
    (name,) = env_names(ce_home)
    assert name.startswith("script--") and result.stdout.strip() == str(ce_home / "envs" / name)


def test_pypi_dependencies_are_installed_offline_by_uv(
    tmp_path: Path, channel_env: dict[str, str], ce_home: Path
) -> None:
    script = tmp_path / "web.py"
    script.write_text(
        textwrap.dedent(
            """\
            # /// script
            # dependencies = ["idna>=3", "six"]
            # [tool.conda]
            # dependencies = ["six"]
            # ///
            import idna, six
            print(idna.encode("ドメイン.テスト").decode(), six.__version__)
            """
        )
    )
    result = run_ce(str(script), env=channel_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["xn--eckwd4c7c.xn--zckzah", "1.17.0"]
    (name,) = env_names(ce_home)
    site = next((ce_home / "envs" / name / "lib").glob("python3*/site-packages"))
    idna_info = next(site.glob("idna-*.dist-info"))
    assert (idna_info / "INSTALLER").read_text().strip() == "uv"
    six_info = next(site.glob("six-*.dist-info"))  # from the conda package: not installed twice
    assert not (six_info / "INSTALLER").exists() or (six_info / "INSTALLER").read_text().strip() != "uv"
    assert len(list(site.glob("six-*.dist-info"))) == 1


def test_unavailable_pypi_dependency_is_one_line_and_leaves_nothing(
    tmp_path: Path, channel_env: dict[str, str], ce_home: Path
) -> None:
    script = tmp_path / "missing.py"
    script.write_text('# /// script\n# dependencies = ["no-such-dist-ce-test"]\n# ///\n')
    result = run_ce(str(script), env=channel_env)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "no-such-dist-ce-test" in line and line.startswith("ce: error: ")
    assert env_names(ce_home) == []
    assert [p.name for p in (ce_home / "envs").iterdir() if p.name.startswith(".build")] == []


def test_bash_script_with_run_with(tmp_path: Path, channel_env: dict[str, str], ce_home: Path) -> None:
    script = tmp_path / "hello.sh"
    script.write_text(
        textwrap.dedent(
            """\
            # /// script
            # [tool.conda]
            # dependencies = ["bash", "hello-tool"]
            # run-with = ["bash", "-e"]
            # ///
            echo "shim=$CE_TEST_BASH_SHIM arg=$1"
            hello from bash
            """
        )
    )
    result = run_ce(str(script), "x", env=channel_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["shim=1 arg=x", "hello from hello-tool from bash"]
    (name,) = env_names(ce_home)
    assert not (ce_home / "envs" / name / "bin" / "python").exists()  # no python a bash script does not use


def test_legacy_conda_execute_script(tmp_path: Path, channel_env: dict[str, str]) -> None:
    script = tmp_path / "old.py"
    script.write_text(
        textwrap.dedent(
            """\
            #!/usr/bin/env python
            # conda execute
            # env:
            #  - python >=3
            #  - python-dateutil
            # run_with: [/usr/bin/env, python]
            import dateutil, sys
            print(dateutil.__version__, sys.prefix.split("/")[-1].split("--")[0])
            """
        )
    )
    result = run_ce(str(script), env=channel_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["2.9.0.post0", "script"]


def test_interpreter_missing_from_the_environment_is_127(tmp_path: Path, channel_env: dict[str, str]) -> None:
    script = tmp_path / "r.R"
    script.write_text(
        '# /// script\n# [tool.conda]\n# dependencies = ["hello-tool"]\n# run-with = ["Rscript"]\n# ///\n'
    )
    result = run_ce(str(script), env=channel_env)
    assert result.returncode == 127
    assert "'Rscript' not found" in result.stderr and "hello" in result.stderr


def test_shebang_runs_the_script_through_ce(tmp_path: Path, channel_env: dict[str, str]) -> None:
    script = tmp_path / "tool.py"
    script.write_text("#!/usr/bin/env -S ce -q\n" + DATEUTIL_SCRIPT)
    script.chmod(0o755)
    env = dict(channel_env, PATH=f"{Path(sys.executable).parent}{os.pathsep}{channel_env['PATH']}")
    result = subprocess.run([str(script), "arg"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["2026-05-28T09:00:00+00:00", f"{script} arg"]
    assert result.stderr == ""  # -q: nothing of ce's own, even on the cold run


def test_with_and_channels_shape_the_environment(tmp_path: Path, channel_env: dict[str, str], ce_home: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text("import six; print(six.__version__)\n")
    assert run_ce(str(script), env=channel_env).returncode == 1  # six is not declared
    result = run_ce("--with", "six", str(script), env=channel_env)
    assert result.returncode == 0 and result.stdout.strip() == "1.17.0"


@pytest.mark.parametrize(("text", "line_number", "needle"), BAD)
def test_malformed_metadata_fails_before_anything_is_built(
    tmp_path: Path, channel_env: dict[str, str], ce_home: Path, text: str, line_number: int, needle: str
) -> None:
    script = tmp_path / "bad.py"
    script.write_text(text)
    result = run_ce(str(script), env=channel_env)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert re.match(rf"ce: error: {re.escape(str(script))}:{line_number}(:\d+)?: ", line) and needle in line
    assert "Traceback" not in result.stderr
    assert not (ce_home / "envs").exists()


def _imports(stderr: str) -> set[str]:
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def _warm(script: Path, env: dict[str, str], *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ce", *options, str(script)],
        capture_output=True,
        text=True,
        env=env,
    )


def test_a_warm_script_run_skips_parsing(tmp_path: Path, channel_env: dict[str, str], ce_home: Path) -> None:
    script = tmp_path / "summary.py"
    script.write_text(DATEUTIL_SCRIPT)
    assert run_ce(str(script), env=channel_env).returncode == 0
    warm = _warm(script, channel_env)
    assert warm.returncode == 0
    assert warm.stdout.splitlines()[0] == "2026-05-28T09:00:00+00:00"
    imported = _imports(warm.stderr)
    assert "ce.script.index" in imported
    assert not {"ce.cli", "ce.script.metadata", "tomllib", "packaging", "yaml", "argparse"} & imported
    # a code-only edit keeps the fast path; a metadata edit does not
    script.write_text(DATEUTIL_SCRIPT + "print('more code')\n")
    assert "ce.cli" not in _imports(_warm(script, channel_env).stderr)
    script.write_text(DATEUTIL_SCRIPT.replace("# ///\n", "# # a new comment inside the block\n# ///\n", 1))
    changed = _warm(script, channel_env)
    assert changed.returncode == 0 and "ce.cli" in _imports(changed.stderr)


def test_a_new_lock_beside_the_script_is_not_missed(tmp_path: Path, channel_env: dict[str, str]) -> None:
    script = tmp_path / "summary.py"
    script.write_text(DATEUTIL_SCRIPT)
    assert run_ce(str(script), env=channel_env).returncode == 0
    assert "ce.cli" not in _imports(_warm(script, channel_env).stderr)
    (tmp_path / "summary.py.conda-exec.lock").write_text("# conda-exec-lock-input-sha256: " + "0" * 64 + "\n")
    result = _warm(script, channel_env)
    assert "ce.cli" in _imports(result.stderr)
    assert "ignoring stale lock" in result.stderr
    # a run that warned is not recorded: the warning shows every time
    assert "ignoring stale lock" in _warm(script, channel_env).stderr


def test_a_changed_condarc_is_not_missed_by_the_warm_path(
    tmp_path: Path, channel_env: dict[str, str], channel_url: str
) -> None:
    script = tmp_path / "plain.py"
    script.write_text("import sys; print(sys.prefix)\n")
    first = run_ce(str(script), env=channel_env)
    assert first.returncode == 0
    assert "ce.cli" not in _imports(_warm(script, channel_env).stderr)
    condarc = Path(channel_env["HOME"]) / ".condarc"
    without_variable = {k: v for k, v in channel_env.items() if k != "CONDA_CHANNELS"}
    condarc.write_text(f"channels: [{channel_url}]\n")  # the same channels, now from a condarc: still a hit
    assert "ce.cli" not in _imports(_warm(script, without_variable).stderr)
    condarc.write_text(f"channels: [{channel_url}, {channel_url}/label/extra]\n")  # other channels: not a hit
    assert "ce.cli" in _imports(_warm(script, without_variable).stderr)
