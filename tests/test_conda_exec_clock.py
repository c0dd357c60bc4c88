"""conda-exec 0.4.0's own cases replayed against ce (issue 24): unreadable locks, options in the wrong place.

It also holds ``DIFFERENCES``, every deliberate difference from conda-exec
0.4.0 that remains: ``scripts/gen_conformance.py`` writes them as the
"conda-exec behaviour" section of docs/conformance.md, and each names the
test that checks ce's side (``test_every_difference_names_a_test`` checks
that the test exists).
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import REPO, run_ce
from helpers import env_names

# --------------------------------------------------------------------------
# The section "conda-exec behaviour"
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """One deliberate difference from conda-exec 0.4.0 (or a case where there is none, said so)."""

    topic: str
    conda_exec: str
    ce: str
    reason: str
    #: The test (any file under tests/) that checks ce's side; "" when it lives on another branch for now.
    test: str


DIFFERENCES: list[Difference] = [
    Difference(
        "cache key",
        "SHA-256 over the sorted specs and the sorted channels; no platform",
        "channels in the order given, and the target platform, are part of the key",
        "channel order is channel priority (`-c a -c b` and `-c b -c a` can resolve differently), and an "
        "environment for one platform (`CONDA_SUBDIR`) must never be a hit for another; the two tools never "
        "share an environment directory by accident",
        "test_platform_is_part_of_the_key",
    ),
    Difference(
        "default channel",
        "conda's configured channels (conda's own default without a condarc)",
        "`ce`: the condarc's `channels`, else `conda-forge` (also behind `-c`); `conda exec`: conda's list",
        "`ce` runs without conda installed, and conda-forge is where the tools it runs are",
        "test_no_condarc_and_no_variables_means_conda_forge",
    ),
    Difference(
        "default solver",
        "conda's configured solver",
        "`ce`: rattler; `conda exec`: conda's solver when its API is importable",
        "`ce` must start and solve without importing conda",
        "test_default_solver_follows_what_conda_can_provide",
    ),
    Difference(
        "script without metadata",
        "runs with the Python conda-exec itself runs on",
        "runs with the configured channels' Python in a cached environment",
        "the script gets the same isolated, reproducible Python wherever ce is installed",
        "test_script_without_metadata_gets_a_python_environment",
    ),
    Difference(
        "TOOL or script",
        "a bare name is a tool; a script needs a path separator or a known suffix",
        "the same; the known suffixes are `.py`/`.pyw` and the suffixes listed in docs/scripts.md "
        "(interpreters for `run-with`); a script-looking name that does not exist is 'no such script' "
        "(with a did-you-mean) unless `--from` is given",
        "ce runs scripts for other interpreters (`run-with`), so their suffixes mark scripts too; a typo in a "
        "script's name must never install a package",
        "test_the_suffixes_of_run_with_interpreters_are_scripts_too",
    ),
    Difference(
        "`--` after TOOL",
        "a leading `--` after TOOL is stripped once",
        "the same: no difference",
        "conda-exec documents it",
        "test_split_argv_drops_one_leading_separator",
    ),
    Difference(
        "`--list --json`",
        "its fields per environment",
        "conda-exec's fields beside ce's own: no difference except the extra fields, `created` (ce's build "
        "time, where conda-exec gives null on Linux), and `[]` when nothing is cached",
        "scripts reading conda-exec's JSON keep working; the output stays parseable JSON",
        "test_conda_exec_fields_equal_conda_exec_own_output",
    ),
    Difference(
        "options in the wrong place",
        "a one-line warning, then the run (`--json` outside `--list`, `--dry-run` outside `--clean`)",
        "the same warning for options that are merely unused (`--json`; `--dry-run`, `--all`, `--older-than`, "
        "`-y` outside `--clean`; `--ignore-lock`, `--lock-format` for a tool); exit 2 where the option would "
        "not do what it says (`--lock`, `--locked`, `--platform`, `--embed`, `--add` for a tool, `--add` with "
        "other options)",
        "an unused option changes nothing; one that promises a lock, an edit or no solve must not be dropped",
        "test_unused_options_warn_and_misleading_ones_are_refused",
    ),
    Difference(
        "unreadable lock data",
        "with metadata: a warning, then a solve; without: exit 1",
        "exit 1 in every case (embedded or sidecar, metadata or none, `--locked` or not, `--lock`), naming "
        "the lock and the fix: `--ignore-lock` or `--lock --refresh`; stale locks are still warnings",
        "lock data the user keeps with a script is never passed over silently: a run would install something "
        "else than what was locked",
        "test_unreadable_lock_data_is_an_error_naming_the_fix",
    ),
    Difference(
        "two lock blocks",
        "the first is used",
        "exit 1 naming both lines",
        "PEP 723: several blocks of one type MUST be an error; the second is usually a stale copy",
        "test_two_lock_blocks_are_an_error_naming_both_lines",
    ),
    Difference(
        "unclosed `# /// script` after the real block",
        "refused",
        "ignored: the real block is used",
        "PEP 723: unclosed blocks MUST be ignored",
        "test_unclosed_script_block_after_the_real_one_is_ignored",
    ),
    Difference(
        "unclosed lock block, then `--lock --embed`",
        "a warning; `--embed` adds a second block",
        "a warning naming the line; `--embed` refuses before solving",
        "where the damaged block ends is a guess, and replacing a guess could delete the script's comments",
        "test_unclosed_lock_block_warns_and_embed_adds_no_second",
    ),
    Difference(
        "`run-with`",
        "not read (the digest cannot see it)",
        "read; a lock without the `python` a Python script needs is stale",
        "a Python script must not start in an environment without Python; the digest stays conda-exec's",
        "test_run_with_change_makes_a_lock_stale",
    ),
    Difference(
        "legacy `# conda execute` block",
        "not read",
        "read as conda-execute's `extract_spec` reads it",
        "ce also replaces conda-execute",
        "test_conda_execute_forms",
    ),
    Difference(
        "automatic cleanup after a run",
        "after the tool exits 0",
        "before the tool starts, on a run whose tool will start (its `#!` interpreter exists); a build or start "
        "that fails neither counts nor cleans",
        "ce replaces itself with the tool (exec), so it never sees the tool's exit status",
        "test_auto_clean_skips_a_run_whose_tool_cannot_start",
    ),
    Difference(
        "cleanup settings",
        "`CONDA_EXEC_CLEAN_AGE` in whole days; invalid values ignored silently",
        "fractional days accepted (`0` too: every environment not in use); invalid values of every cleanup "
        "variable get a one-line warning and the default",
        "a typo in a variable that deletes environments should be visible",
        "test_an_auto_clean_value_that_is_no_boolean_warns",
    ),
]


def _test_names() -> set[str]:
    names: set[str] = set()
    for path in (REPO / "tests").rglob("test_*.py"):
        tree = ast.parse(path.read_text())
        names.update(node.name for node in tree.body if isinstance(node, ast.FunctionDef))
    return names


def test_every_difference_names_a_test() -> None:
    names = _test_names()
    assert [d.test for d in DIFFERENCES if d.test and d.test not in names] == []
    assert all(d.reason and d.ce and d.conda_exec for d in DIFFERENCES)
    section = (REPO / "docs" / "conformance.md").read_text().split("## conda-exec behaviour", 1)
    assert len(section) == 2
    assert all(f"`{d.test}`" in section[1] for d in DIFFERENCES if d.test)


# --------------------------------------------------------------------------
# Item 4: unreadable lock data is an error, in every case
# --------------------------------------------------------------------------

METADATA = '# /// script\n# [tool.conda]\n# dependencies = ["python-dateutil"]\n# ///\nprint("ran")\n'
DIGEST_LINE = "# conda-exec-lock-input-sha256: "
FIX = "use --ignore-lock to solve from the metadata, or "


def _digest(dependencies: list[str]) -> str:
    from ce.lockfiles import input_digest

    return input_digest([], [], dependencies, [], None, [])


@pytest.fixture
def env(channel_url: str) -> dict[str, str]:
    return dict(os.environ, CONDA_CHANNELS=channel_url)


def _refused(result: object, where: str, rewrite: str, ce_home: Path) -> None:
    import subprocess

    assert isinstance(result, subprocess.CompletedProcess)
    assert result.returncode == 1, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "error" in line]
    assert f"unreadable lock {where}" in line and FIX + rewrite + " to rewrite it" in line, line
    assert "ran" not in result.stdout
    assert env_names(ce_home) == []


def test_unreadable_lock_data_is_an_error_naming_the_fix(tmp_path: Path, env: dict[str, str], ce_home: Path) -> None:
    from ce.platforms import current_subdir

    # no metadata, an embedded block in no known format (conda-exec: exit 1; ce before: a warning, rc 0)
    bare = tmp_path / "bare.py"
    bare.write_text('print("ran")\n\n# /// conda-exec-lock\n# not a lock at all\n# ///\n')
    _refused(run_ce(str(bare), env=env), f"{bare}:3 (embedded)", "--lock --embed --refresh", ce_home)
    # metadata, a fresh sidecar that does not load (before: a warning, then a solve)
    script = tmp_path / "s.py"
    script.write_text(METADATA)
    sidecar = tmp_path / "s.py.conda-exec.lock"
    sidecar.write_text(DIGEST_LINE + _digest(["python-dateutil"]) + "\nversion: 6\nenvironments: [\n")
    _refused(run_ce(str(script), env=env), str(sidecar), "--lock --refresh", ce_home)
    _refused(run_ce("--locked", str(script), env=env), str(sidecar), "--lock --refresh", ce_home)
    # not UTF-8 text
    sidecar.write_bytes(b"\xff\xfe" * 10)
    _refused(run_ce(str(script), env=env), str(sidecar), "--lock --refresh", ce_home)
    # a package listed twice (an explicit lock of another format: the fix names it)
    sidecar.unlink()
    explicit = tmp_path / f"s.py.{current_subdir()}.explicit.txt"
    line = f"https://h.invalid/c/{current_subdir()}/x-1-0.conda#{'0' * 64}\n"
    explicit.write_text(DIGEST_LINE + _digest(["python-dateutil"]) + "\n@EXPLICIT\n" + line + line)
    _refused(run_ce(str(script), env=env), str(explicit), "--lock --lock-format explicit --refresh", ce_home)
    # a stale lock is no error: the dependencies were edited, the run solves (with a warning)
    explicit.unlink()
    sidecar.write_text(DIGEST_LINE + "0" * 64 + "\nversion: 6\n")
    stale = run_ce(str(script), env=env)
    assert stale.returncode == 0 and stale.stdout == "ran\n", stale.stderr
    assert f"ignoring stale lock {sidecar}" in stale.stderr
    # --ignore-lock is the way out
    out = run_ce("--ignore-lock", str(bare), env=env)
    assert out.returncode == 0 and out.stdout == "ran\n", out.stderr


def test_lock_on_an_unreadable_lock_is_refused_until_refresh(tmp_path: Path, env: dict[str, str]) -> None:
    script = tmp_path / "s.py"
    script.write_text('# /// script\n# dependencies = []\n# ///\nprint("ran")\n')
    sidecar = tmp_path / "s.py.conda-exec.lock"
    sidecar.write_text(DIGEST_LINE + _digest([]) + "\nversion: 6\nenvironments: [\n")
    refused = run_ce("--lock", str(script), env=env)
    assert refused.returncode == 1 and "unreadable lock" in refused.stderr, refused.stderr
    assert sidecar.read_text().endswith("environments: [\n")
    rewritten = run_ce("--lock", "--refresh", str(script), env=env)
    assert rewritten.returncode == 0 and rewritten.stdout == "ran\n", rewritten.stderr
    assert "packages:" in sidecar.read_text()
    again = run_ce("--locked", str(script), env=env)
    assert again.returncode == 0 and "warning" not in again.stderr, again.stderr


# --------------------------------------------------------------------------
# Item 5: options in the wrong place warn, as conda-exec does, unless they would mislead
# --------------------------------------------------------------------------


def test_unused_options_warn_and_misleading_ones_are_refused(
    tmp_path: Path, local: tuple[str, ...], ce_home: Path
) -> None:
    ran = run_ce(
        "--json",
        "--dry-run",
        "--ignore-lock",
        "--lock-format",
        "explicit",
        *local,
        "--from",
        "hello-tool",
        "hello",
        "hi",
    )
    assert ran.returncode == 0 and ran.stdout == "hello from hello-tool hi\n", ran.stderr
    warnings = [line for line in ran.stderr.splitlines() if ": warning: " in line]
    assert sorted(w.split(": warning: ", 1)[1] for w in warnings) == [
        "--dry-run is only used with --clean; ignoring it",
        "--ignore-lock is only used with scripts; ignoring it",
        "--json is only used with --list; ignoring it",
        "--lock-format is only used with scripts; ignoring it",
    ]
    listed = run_ce("--list", "--dry-run", "--yes")
    assert listed.returncode == 0 and "hello-tool--" in listed.stdout
    assert "--dry-run is only used with --clean" in listed.stderr and "--yes is only used with --clean" in listed.stderr
    kept = run_ce("--clean", "--all", "--json", "--dry-run")
    assert kept.returncode == 0 and "would remove" in kept.stdout and "--json is only used with --list" in kept.stderr
    assert len(env_names(ce_home)) == 1
    script = tmp_path / "s.py"
    script.write_text('print("ran")\n')
    ignored = run_ce("--ignore-lock", "--lock-format", "explicit", *local, str(script))
    assert ignored.returncode == 0 and ignored.stdout == "ran\n", ignored.stderr
    assert "--lock-format is unused with --ignore-lock" in ignored.stderr
    # refused: each would not do what it says
    for args, needle in (
        (("--lock", "ruff"), "--lock only applies to scripts"),
        (("--locked", "ruff"), "--locked only applies to scripts"),
        (("--platform", "osx-64", "ruff"), "--platform only applies to scripts"),
        (("--add", "six", "ruff"), "--add only applies to scripts"),
        (("--embed", str(script)), "--embed goes with --lock"),
        (("--platform", "osx-64", str(script)), "--platform goes with --lock"),
        (("-c", "x", "--add", "six", str(script)), "does not go with --add"),
    ):
        result = run_ce(*args)
        assert result.returncode == 2 and needle in result.stderr, (args, result.stderr)
    assert script.read_text() == 'print("ran")\n'
