"""ce side by side with PEP 723, uv, conda-exec 0.4.0, py-rattler's lock reader and conda-execute (issue 14).

Every test is one row of docs/conformance.md: the ``@case`` decorator records
the case, what the PEP or the other tool does, and what ce does; the test
checks both sides where the other tool can run here (``tests/peers.py``).
``scripts/gen_conformance.py`` writes the table from these records.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import textwrap
from collections.abc import Callable
from contextlib import redirect_stderr
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from packaging.specifiers import SpecifierSet

import peers
from conftest import run_ce

F = TypeVar("F", bound=Callable[..., Any])

# --------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One row of the conformance table."""

    topic: str
    case: str
    peer: str
    ce: str
    test: str


CASES: list[Case] = []


def case(topic: str, what: str, *, peer: str, ce: str) -> Callable[[F], F]:
    """Record the test as a row of docs/conformance.md."""

    def record(function: F) -> F:
        CASES.append(Case(topic, what, peer, ce, function.__name__))
        return function

    return record


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

PYTHON_VERSION = "3.11.7"  # the test channel packages this machine's interpreter
RUNS = 'import sys\nprint("ran", sys.version.split()[0])\n'


def _parse(text: str, path: str = "script.py") -> Any:
    from ce.script.metadata import parse_metadata

    return parse_metadata(text, path)


def _python_spec(requires_python: str) -> str:
    from ce.script.request import python_spec

    return python_spec(requires_python)


@pytest.fixture(scope="module")
def conda_exec(test_cache_root: Path) -> peers.CondaExec:
    wheel = peers.conda_exec_wheel(test_cache_root)
    if wheel is None:
        pytest.skip("conda-exec 0.4.0's wheel cannot be downloaded here")
    return peers.CondaExec(wheel)


@pytest.fixture
def env(channel_url: str) -> dict[str, str]:
    return dict(os.environ, CONDA_CHANNELS=channel_url)


def _script(tmp_path: Path, text: str, name: str = "script.py") -> Path:
    path = tmp_path / "work" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def _fresh(env: dict[str, str], tmp_path: Path, label: str) -> dict[str, str]:
    return dict(env, CONDA_EXEC_HOME=str(tmp_path / f"home-{label}"), RATTLER_CACHE_DIR=str(tmp_path / f"pkgs-{label}"))


def _environments(home: Path) -> list[Path]:
    envs = home / "envs"
    return [p for p in envs.iterdir() if not p.name.startswith(".")] if envs.is_dir() else []


# --------------------------------------------------------------------------
# PEP 723 blocks
# --------------------------------------------------------------------------

REAL_THEN_DOCSTRING = (
    textwrap.dedent(
        '''\
    # /// script
    # requires-python = ">=3.11"
    # dependencies = []
    # ///
    """Usage: put a block like this one in your script:

    # /// script
    # dependencies = ["requests"]
    """
    '''
    )
    + RUNS
)


@case(
    "PEP 723",
    "an unclosed `# /// script` after the real block (a usage example in a docstring)",
    peer="PEP: unclosed blocks MUST be ignored; the reference regex reads the real block; uv runs the script; "
    "conda-exec 0.4.0 refuses it (the docstring line is not a comment)",
    ce="ignored: the real block is used and the script runs",
)
def test_unclosed_script_block_after_the_real_one_is_ignored(
    tmp_path: Path, env: dict[str, str], conda_exec: peers.CondaExec
) -> None:
    path = _script(tmp_path, REAL_THEN_DOCSTRING)
    assert peers.pep723_read(REAL_THEN_DOCSTRING) == {"requires-python": ">=3.11", "dependencies": []}
    uv = peers.uv_run_script(path, tmp_path)
    assert (uv.returncode, uv.stdout) == (0, f"ran {PYTHON_VERSION}\n"), uv.stderr
    with pytest.raises(conda_exec.script.ScriptMetadataError):
        conda_exec.parse(REAL_THEN_DOCSTRING)
    assert _parse(REAL_THEN_DOCSTRING).requires_python == ">=3.11"
    result = run_ce(str(path), env=env)
    assert (result.returncode, result.stdout) == (0, f"ran {PYTHON_VERSION}\n"), result.stderr


ONLY_UNCLOSED = '# /// script\n# dependencies = ["requests"]\n\n' + RUNS


@case(
    "PEP 723",
    "only an unclosed `# /// script` block",
    peer="PEP and reference: ignored, no metadata (None); uv refuses it ('opening tag without a closing tag')",
    ce="no metadata (as the PEP says), with a warning naming the blank line that ended the block: "
    "the script runs with the configured channels' Python",
)
def test_only_an_unclosed_script_block_means_no_metadata(tmp_path: Path, env: dict[str, str]) -> None:
    path = _script(tmp_path, ONLY_UNCLOSED)
    assert peers.pep723_read(ONLY_UNCLOSED) is None
    uv = peers.uv_run_script(path, tmp_path)
    assert uv.returncode != 0 and "without a closing tag" in uv.stderr, uv.stderr
    assert _parse(ONLY_UNCLOSED).source == "none"
    result = run_ce(str(path), env=env)
    assert (result.returncode, result.stdout) == (0, f"ran {PYTHON_VERSION}\n"), result.stderr
    assert f"{path}:3: a blank line ends the '# /// script' block of line 1" in result.stderr


TWO_SCRIPT_BLOCKS = "# /// script\n# dependencies = []\n# ///\nx = 1\n# /// script\n# dependencies = []\n# ///\n" + RUNS


@case(
    "PEP 723",
    "two `# /// script` blocks",
    peer="PEP: MUST error; reference raises; uv: 'multiple PEP 723 metadata blocks'",
    ce="exit 1, `script.py:5: a second '# /// script' block (the first is at line 1)`",
)
def test_two_script_blocks_are_an_error(tmp_path: Path, env: dict[str, str]) -> None:
    path = _script(tmp_path, TWO_SCRIPT_BLOCKS)
    with pytest.raises(ValueError, match="Multiple script blocks"):
        peers.pep723_read(TWO_SCRIPT_BLOCKS)
    uv = peers.uv_run_script(path, tmp_path)
    assert uv.returncode != 0 and "multiple" in uv.stderr.lower()
    result = run_ce(str(path), env=env)
    assert result.returncode == 1
    assert f"{path}:5: a second '# /// script' block (the first is at line 1)" in result.stderr


LOCK_LINE = "# # conda-exec-lock-input-sha256: " + "0" * 64
TWO_LOCK_BLOCKS = (
    "# /// script\n# dependencies = []\n# ///\n\n"
    f"# /// conda-exec-lock\n{LOCK_LINE}\n# ///\n\n"
    f"# /// conda-exec-lock\n{LOCK_LINE}\n# ///\n" + RUNS
)


@case(
    "PEP 723",
    "two embedded `# /// conda-exec-lock` blocks",
    peer="PEP: several blocks of one TYPE MUST be an error; conda-exec 0.4.0 silently uses the first",
    ce="exit 1, the error names both lines (5 and 9)",
)
def test_two_lock_blocks_are_an_error_naming_both_lines(
    tmp_path: Path, env: dict[str, str], conda_exec: peers.CondaExec
) -> None:
    path = _script(tmp_path, TWO_LOCK_BLOCKS)
    with pytest.raises(ValueError, match="Multiple conda-exec-lock blocks"):
        peers.pep723_read(TWO_LOCK_BLOCKS, "conda-exec-lock")
    assert conda_exec.blocks(TWO_LOCK_BLOCKS, "conda-exec-lock") == {"conda-exec-lock": LOCK_LINE[2:]}
    result = run_ce(str(path), env=env)
    assert result.returncode == 1, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "conda-exec-lock" in line]
    assert re.search(r"\b5\b", line) and re.search(r"\b9\b", line), line


UNCLOSED_LOCK = (
    f"# /// script\n# dependencies = []\n# ///\n\n# /// conda-exec-lock\n{LOCK_LINE}\n# version: 6\n\n" + RUNS
)


@case(
    "PEP 723",
    "an unclosed `# /// conda-exec-lock` block, then `--lock --embed`",
    peer="PEP: ignored; conda-exec 0.4.0 warns ('unclosed block') and `--embed` adds a second block",
    ce="a warning naming the line; `--embed` never leaves two lock blocks",
)
def test_unclosed_lock_block_warns_and_embed_adds_no_second(
    tmp_path: Path, env: dict[str, str], conda_exec: peers.CondaExec
) -> None:
    path = _script(tmp_path, UNCLOSED_LOCK)
    assert peers.pep723_read(UNCLOSED_LOCK, "conda-exec-lock") is None
    warning = io.StringIO()
    with redirect_stderr(warning):
        assert conda_exec.blocks(UNCLOSED_LOCK, "conda-exec-lock") == {}
    assert "unclosed '# /// conda-exec-lock' block" in warning.getvalue()
    result = run_ce(str(path), env=env)
    assert result.returncode == 0, result.stderr
    assert re.search(rf"{re.escape(str(path))}:5: .*unclosed", result.stderr), result.stderr
    run_ce("--lock", "--embed", str(path), env=env)
    assert path.read_text().count("# /// conda-exec-lock") == 1


# --------------------------------------------------------------------------
# requires-python
# --------------------------------------------------------------------------

SAMPLE_VERSIONS = ("3.10.12", "3.11.0", "3.11.1", "3.11.7", "3.12.0", "3.12.5", "3.13.1", "4.0.0")
FORMS = ("~=3.11,<3.13", "==3.11.*,!=3.11.0", "<4,==3.*", "===3.11.7")


@case(
    "requires-python",
    "`~=3.11,<3.13`, `==3.11.*,!=3.11.0`, `<4,==3.*`, `===3.11.7` with Python 3.11.7",
    peer="PEP 440: all satisfied by 3.11.7; uv runs the script",
    ce="runs; the conda spec for python (`==X.*` written as the glob `X.*`) matches exactly the versions "
    "the PEP 440 specifier matches",
)
@pytest.mark.parametrize("requires_python", FORMS)
def test_requires_python_forms(tmp_path: Path, env: dict[str, str], requires_python: str) -> None:
    import rattler

    text = f'# /// script\n# requires-python = "{requires_python}"\n# dependencies = []\n# ///\n' + RUNS
    path = _script(tmp_path, text)
    assert SpecifierSet(requires_python).contains(PYTHON_VERSION)
    uv = peers.uv_run_script(path, tmp_path)
    assert (uv.returncode, uv.stdout) == (0, f"ran {PYTHON_VERSION}\n"), uv.stderr
    conda_spec = _python_spec(requires_python)
    assert conda_spec.startswith("python")
    version_spec = rattler.VersionSpec(conda_spec[len("python") :].strip())
    pep440 = SpecifierSet(requires_python)
    assert {v: version_spec.matches(rattler.Version(v)) for v in SAMPLE_VERSIONS} == {
        v: pep440.contains(v) for v in SAMPLE_VERSIONS
    }, conda_spec
    result = run_ce(str(path), env=env)
    assert (result.returncode, result.stdout) == (0, f"ran {PYTHON_VERSION}\n"), result.stderr


@case(
    "requires-python",
    "requires-python with a conda dependency named `python`",
    peer="PEP: a runner SHOULD error when it cannot provide a satisfying Python; conda-exec 0.4.0 checks "
    "the installed python against requires-python",
    ce="honoured: both constrain python; `>=3.12` with only 3.11.7 available is exit 1 (the solve names "
    "`python>=3.12`); `>=3.11` runs",
)
def test_requires_python_with_a_python_dependency_is_honoured(tmp_path: Path, env: dict[str, str]) -> None:
    template = '# /// script\n# requires-python = "{}"\n#\n# [tool.conda]\n# dependencies = ["python"]\n# ///\n' + RUNS
    ok = run_ce(str(_script(tmp_path, template.format(">=3.11"), "ok.py")), env=env)
    assert (ok.returncode, ok.stdout) == (0, f"ran {PYTHON_VERSION}\n"), ok.stderr
    assert not SpecifierSet(">=3.12").contains(PYTHON_VERSION)
    refused = run_ce(str(_script(tmp_path, template.format(">=3.12"), "new.py")), env=env)
    assert refused.returncode == 1, (refused.stdout, refused.stderr)
    assert ">=3.12" in refused.stderr


# --------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------


@case(
    "options",
    "`--locked` with `--refresh`, `--ignore-lock` or `--with` and no lock",
    peer="uv: `--locked` never resolves; a missing or outdated lock is an error",
    ce="error (exit 1 or 2) naming the lock; nothing is solved, no environment is created",
)
@pytest.mark.parametrize("extra", [("--refresh",), ("--ignore-lock",), ("--with", "six")])
def test_locked_never_solves(tmp_path: Path, env: dict[str, str], ce_home: Path, extra: tuple[str, ...]) -> None:
    path = _script(tmp_path, "# /// script\n# dependencies = []\n# ///\n" + RUNS)
    result = run_ce("--locked", *extra, str(path), env=env)
    assert result.returncode in (1, 2), (result.returncode, result.stdout, result.stderr)
    assert "lock" in result.stderr
    assert result.stdout == ""
    assert _environments(ce_home) == []


# --------------------------------------------------------------------------
# rattler-lock-v6
# --------------------------------------------------------------------------

DATEUTIL = textwrap.dedent(
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


def _rattler_urls(lock_path: Path) -> dict[str, set[str]]:
    from rattler import LockFile

    environment = LockFile.from_path(lock_path).default_environment()
    assert environment is not None
    return {
        str(platform): {record.url for record in records}
        for platform, records in environment.conda_repodata_records().items()
    }


def _ce_urls(lock_path: Path) -> dict[str, set[str]]:
    from ce.lockfiles.rattler_v6 import RattlerLockV6

    data = RattlerLockV6().loads(lock_path.read_text())
    return {platform: {package.url for package in packages} for platform, packages in data.packages.items()}


@case(
    "rattler-lock-v6",
    "every v6 lock ce writes, for `file://`, `http://` (loopback) and multi-platform channels",
    peer="py-rattler `LockFile.from_path` (and pixi) need `subdir` and `channel` when the URL does not give "
    "them (`file://` channels)",
    ce="read by `LockFile.from_path` with the same packages per platform as ce reads",
)
@pytest.mark.parametrize("kind", ["file", "http", "multi-platform"])
def test_v6_locks_are_read_by_rattler(tmp_path: Path, env: dict[str, str], channel: Path, kind: str) -> None:
    import build_test_channel

    path = _script(tmp_path, DATEUTIL)
    platforms = ("--platform", "osx-arm64", "--platform", "win-64") if kind == "multi-platform" else ()
    if kind == "http":
        with build_test_channel.serve_channel(channel) as url:
            http_env = dict(env, CONDA_CHANNELS=url, NO_PROXY="127.0.0.1", RATTLER_CACHE_DIR=str(tmp_path / "pkgs"))
            result = run_ce("--lock", str(path), env=http_env)
    else:
        result = run_ce("--lock", *platforms, str(path), env=env)
    assert result.returncode == 0, result.stderr
    lock = path.parent / "script.py.conda-exec.lock"
    ours = _ce_urls(lock)
    assert sorted(ours) == (["linux-64", "osx-arm64", "win-64"] if platforms else ["linux-64"])
    assert all(len(urls) == 3 for urls in ours.values()), ours
    assert _rattler_urls(lock) == ours


def _v6_text(entries: list[dict[str, Any]], platform: str = "linux-64") -> str:
    from ce.lockfiles._yaml import dump

    return dump(
        {
            "version": 6,
            "environments": {
                "default": {
                    "channels": [{"url": "https://conda.example/main/"}],
                    "packages": {platform: [{"conda": entry["conda"]} for entry in entries]},
                }
            },
            "packages": entries,
        }
    )


@case(
    "rattler-lock-v6",
    "a whole-second `timestamp` (`1700000000`)",
    peer="py-rattler reads it as seconds (2023-11-14)",
    ce="the same instant as rattler",
)
def test_whole_second_timestamps_read_as_rattler_reads_them(tmp_path: Path) -> None:
    from rattler import LockFile

    from ce.lockfiles.rattler_v6 import RattlerLockV6

    url = "https://conda.example/main/noarch/tiny-1.0-0.conda"
    entries = []
    for stamp, name in ((1700000000, "tiny"), (1700000000123, "tinier")):
        entries.append({"conda": url.replace("tiny", name), "subdir": "noarch", "timestamp": stamp, "sha256": "a" * 64})
    lock = tmp_path / "lock.yml"
    lock.write_text(_v6_text(entries))
    environment = LockFile.from_path(lock).default_environment()
    assert environment is not None
    theirs = {
        record.name.normalized: round(record.timestamp.timestamp() * 1000)
        for records in environment.conda_repodata_records().values()
        for record in records
        if record.timestamp is not None
    }
    assert theirs == {"tiny": 1700000000000, "tinier": 1700000000123}
    ours = {p.name: p.timestamp for p in RattlerLockV6().loads(lock.read_text()).packages["linux-64"]}
    assert ours == theirs


def _lock_and_env(tmp_path: Path, env: dict[str, str], edit: Callable[[str], str] | None = None) -> tuple[Path, Path]:
    """Lock DATEUTIL, optionally edit the lock body, install it with --locked in a fresh home; the prefix."""
    path = _script(tmp_path, DATEUTIL)
    assert run_ce("--lock", str(path), env=env).returncode == 0
    lock = path.parent / "script.py.conda-exec.lock"
    if edit is not None:
        lock.write_text(edit(lock.read_text()))
    fresh = _fresh(env, tmp_path, "locked")
    result = run_ce("--locked", str(path), env=fresh)
    assert (result.returncode, result.stdout) == (0, "dateutil 2.9.0.post0\n"), result.stderr
    (prefix,) = _environments(Path(fresh["CONDA_EXEC_HOME"]))
    return lock, prefix


def _meta(prefix: Path, name: str) -> dict[str, Any]:
    records = [json.loads(p.read_text()) for p in (prefix / "conda-meta").glob(f"{name}-*.json")]
    (data,) = [record for record in records if record.get("name") == name]
    return data  # type: ignore[no-any-return]


@case(
    "rattler-lock-v6",
    "`python_site_packages_path` of a locked python",
    peer="rattler-lock keeps the field; rattler installs noarch packages there (free-threaded Pythons need it)",
    ce="kept through `--locked` installs (in the lock, in conda-meta)",
)
def test_python_site_packages_path_is_kept(tmp_path: Path, env: dict[str, str]) -> None:
    from rattler import LockFile

    site = "lib/python3.11/site-packages"

    def add_field(text: str) -> str:
        return re.sub(r"(?m)^(- conda: \S+/python-3\.11\.7-\S+\n)", rf"\1  python_site_packages_path: {site}\n", text)

    lock, prefix = _lock_and_env(tmp_path, env, add_field)
    assert f"python_site_packages_path: {site}" in lock.read_text()
    environment = LockFile.from_path(lock).default_environment()
    assert environment is not None
    (python,) = [r for r in environment.conda_repodata_records()["linux-64"] if r.name.normalized == "python"]
    assert python.python_site_packages_path == site
    assert _meta(prefix, "python").get("python_site_packages_path") == site


@case(
    "rattler-lock-v6",
    "the `url` that conda-meta records after a `--locked` install",
    peer="conda and rattler record the package's URL from the lock",
    ce="the lock's URL, never a path in ce's private download store",
)
def test_conda_meta_records_the_lock_url(tmp_path: Path, env: dict[str, str], ce_home: Path) -> None:
    lock, prefix = _lock_and_env(tmp_path, env)
    urls = set().union(*_ce_urls(lock).values())
    for name in ("python", "python-dateutil", "six"):
        assert _meta(prefix, name)["url"] in urls


# --------------------------------------------------------------------------
# explicit
# --------------------------------------------------------------------------


@case(
    "explicit",
    "`url#<64 hex>` (what `conda list --explicit --sha256` writes)",
    peer="conda reads a 64-character hash after `#` as sha256",
    ce="accepted as sha256; `--locked` installs from it",
)
def test_explicit_bare_sha256_is_accepted(tmp_path: Path, env: dict[str, str], channel: Path) -> None:
    path = _script(tmp_path, DATEUTIL)
    assert run_ce("--lock", "--lock-format", "explicit", str(path), env=env).returncode == 0
    lock = path.parent / "script.py.linux-64.explicit.txt"
    text = lock.read_text()
    assert "#sha256:" in text
    lock.write_text(text.replace("#sha256:", "#"))
    result = run_ce("--locked", "--lock-format", "explicit", str(path), env=_fresh(env, tmp_path, "explicit"))
    assert (result.returncode, result.stdout) == (0, "dateutil 2.9.0.post0\n"), result.stderr


# --------------------------------------------------------------------------
# The lock digest
# --------------------------------------------------------------------------

AS_WRITTEN = textwrap.dedent(
    """\
    # /// script
    # requires-python = ""
    #
    # [tool.conda]
    # dependencies = [" python-dateutil "]
    # ///
    import dateutil
    print("dateutil", dateutil.__version__)
    """
)


@case(
    "digest",
    'values hashed as written: `requires-python = ""`, `" python-dateutil "`',
    peer='conda-exec 0.4.0 hashes the strings as written ("" stays "", no strip)',
    ce="the same digest line, byte for byte",
)
def test_digest_hashes_values_as_written(tmp_path: Path, env: dict[str, str], conda_exec: peers.CondaExec) -> None:
    path = _script(tmp_path, AS_WRITTEN)
    result = run_ce("--lock", str(path), env=env)
    assert result.returncode == 0, result.stderr
    first = (path.parent / "script.py.conda-exec.lock").read_text().splitlines()[0]
    assert first == f"# conda-exec-lock-input-sha256: {conda_exec.input_digest(AS_WRITTEN)}"


@case(
    "digest",
    "an ordinary script, with `--with` and `-c`",
    peer="conda-exec 0.4.0's `input_digest`",
    ce="the same digest line, byte for byte",
)
def test_digest_is_conda_execs(
    tmp_path: Path, env: dict[str, str], conda_exec: peers.CondaExec, channel_url: str
) -> None:
    path = _script(tmp_path, DATEUTIL)
    result = run_ce("--lock", "--with", "six", "-c", channel_url, str(path), env=env)
    assert result.returncode == 0, result.stderr
    first = (path.parent / "script.py.conda-exec.lock").read_text().splitlines()[0]
    expected = conda_exec.input_digest(DATEUTIL, ["six"], [channel_url])
    assert first == f"# conda-exec-lock-input-sha256: {expected}"


@case(
    "digest",
    "`run-with` changed from `bash` to `python` after locking",
    peer="conda-exec has no run-with (its digest cannot see it)",
    ce="the old lock is not used (it has no python): the script runs with a warning, `--locked` is exit 1",
)
def test_run_with_change_makes_a_lock_stale(tmp_path: Path, env: dict[str, str]) -> None:
    template = '# /// script\n#\n# [tool.conda]\n# run-with = ["{}"]\n# dependencies = ["bash", "hello-tool"]\n# ///\n'
    path = _script(tmp_path, template.format("bash") + 'echo "ran"\n')
    locked_bash = run_ce("--lock", str(path), env=env)
    assert (locked_bash.returncode, locked_bash.stdout) == (0, "ran\n"), locked_bash.stderr
    path.write_text(template.format("python") + 'print("ran")\n')
    result = run_ce(str(path), env=env)
    assert (result.returncode, result.stdout) == (0, "ran\n"), result.stderr
    locked = run_ce("--locked", str(path), env=_fresh(env, tmp_path, "locked"))
    assert locked.returncode == 1, (locked.returncode, locked.stderr)


# --------------------------------------------------------------------------
# conda-execute blocks (conda-tools/conda-execute 85376be, conda_execute/execute.py extract_spec)
# --------------------------------------------------------------------------

#: (form, script text, what conda-execute's extract_spec reads: env, channels, run_with or None)
CONDA_EXECUTE_FORMS = [
    (
        "plain",
        "#!/usr/bin/env python\n# conda execute\n# env:\n#  - python >=3\n#  - six\n"
        "# channels:\n#  - local\n\nimport six\n",
        (["python >=3", "six"], ["local"], None),
    ),
    (
        "marker with a colon",
        "# conda execute:\n# env:\n#  - six\n",
        (["six"], [], None),
    ),
    (
        "a bare `#` line inside the block",
        "# conda execute\n# env:\n#  - six\n#\n# channels:\n#  - local\n",
        (["six"], ["local"], None),
    ),
    (
        "`## note` lines are skipped",
        "# conda execute\n# env:\n## the runtime\n#  - six\n# # and more\n",
        (["six"], [], None),
    ),
    (
        "indented block",
        "def main():\n    # conda execute\n    # env:\n    #  - six\n    pass\n",
        (["six"], [], None),
    ),
    (
        "flow lists",
        "# conda execute\n# env: [python >=3, six]\n# channels: [local]\n",
        (["python >=3", "six"], ["local"], None),
    ),
    (
        "`run_with` as a string",
        "# conda execute\n# env:\n#  - six\n# run_with: python -u\n",
        (["six"], [], ["python", "-u"]),
    ),
    (
        "unknown keys are ignored",
        "# conda execute\n# env:\n#  - six\n# description: demo\n",
        (["six"], [], None),
    ),
    (
        "indentation is not significant (each line is stripped)",
        "# conda execute\n#   env:\n#    - six\n# channels:\n#  - local\n",
        (["six"], ["local"], None),
    ),
    (
        "a blank line ends the block",
        "# conda execute\n# env:\n#  - six\n\n# channels:\n#  - local\n",
        (["six"], [], None),
    ),
]


@case(
    "conda-execute",
    "the `# conda execute` block forms conda-execute's `extract_spec` reads: "
    + "; ".join(form for form, _text, _expected in CONDA_EXECUTE_FORMS),
    peer="marker `# conda execute` or `# conda execute:` after strip(); the block runs while the stripped line "
    "starts with `#` (a blank line ends it, a bare `#` does not); lines matching `^ *# *#` are skipped; each "
    "line is `strip(' #\\n')`-ed (indentation is lost) and the lines are read as one YAML document; a string "
    "`run_with` is split on whitespace; other keys are ignored",
    ce="reads the same env, channels and run_with",
)
@pytest.mark.parametrize(("form", "text", "expected"), CONDA_EXECUTE_FORMS, ids=[f[0] for f in CONDA_EXECUTE_FORMS])
def test_conda_execute_forms(form: str, text: str, expected: tuple[list[str], list[str], list[str] | None]) -> None:
    metadata = _parse(text)
    env_specs, channels, run_with = expected
    assert metadata.source == "conda-execute"
    assert (list(metadata.conda_dependencies), list(metadata.conda_channels)) == (env_specs, channels)
    assert (list(metadata.run_with) if metadata.run_with else None) == run_with


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

BAD_CONDA = '# /// script\n#\n# [tool.conda]\n# dependencies = ["six >=1,,<2"]\n# ///\n' + RUNS


@case(
    "errors",
    "an invalid conda dependency in a script",
    peer="docs/scripts.md promises `file:line: invalid conda dependency`",
    ce="exit 1, `script.py:4: invalid conda dependency ...`",
)
def test_bad_conda_dependency_names_file_and_line(tmp_path: Path, env: dict[str, str]) -> None:
    path = _script(tmp_path, BAD_CONDA)
    result = run_ce(str(path), env=env)
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert f"{path}:4: invalid conda dependency" in result.stderr


@case(
    "errors",
    "`--add` with an invalid spec",
    peer="uv `add --script` refuses an invalid requirement and leaves the script alone",
    ce="exit 2 naming the spec; the script is unchanged",
)
@pytest.mark.parametrize("spec", ["six >=1,,<2", "six[version=<2"])
def test_add_refuses_an_invalid_spec(tmp_path: Path, env: dict[str, str], spec: str) -> None:
    text = "# /// script\n# dependencies = []\n# ///\n" + RUNS
    path = _script(tmp_path, text)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    result = run_ce("--add", spec, str(path), env=env)
    assert result.returncode in (1, 2), (result.returncode, result.stdout, result.stderr)
    assert spec in result.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
