"""conda-exec's test suite as a specification: ``--list --json`` and cleanup details (issue 24, items 3 and 6)."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import peers
from ce.base import CleanSettings
from conftest import run_ce
from helpers import FAKE_ARGS, make_fake_env, run_on_terminal

DOCS = Path(__file__).resolve().parent.parent / "docs" / "cache.md"
CONDA_EXEC_FIELDS = ("tool", "key", "prefix", "created", "last_used", "size_bytes", "packages")
JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "list of strings": (list,),
}


def _documented_fields() -> dict[str, str]:
    """Field -> type, from the table under docs/cache.md's ``--list --json`` heading."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("### `--list --json`", 1)[1].split("\n#", 1)[0]
    return dict(re.findall(r"^\| `([a-z_]+)` \| ([a-z ]+?) \|", section, flags=re.MULTILINE))


def _matches(value: object, documented: str) -> bool:
    base, nullable = (documented[: -len(" or null")], True) if documented.endswith(" or null") else (documented, False)
    if value is None:
        return nullable
    if isinstance(value, bool) and base != "boolean":
        return False
    if not isinstance(value, JSON_TYPES[base]):
        return False
    return base != "list of strings" or all(isinstance(item, str) for item in value)  # type: ignore[attr-defined]


def _fake_env_with_packages(ce_home: Path, tool: str, *packages: str) -> Path:
    prefix = make_fake_env(ce_home, tool, "true")
    for package in packages:
        (prefix / "conda-meta" / f"{package}-1.0-0.json").write_text(json.dumps({"name": package}))
    return prefix


def _list_json() -> list[dict[str, Any]]:
    result = run_ce("--list", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    return rows


# --------------------------------------------------------------------------
# item 3: --list --json carries conda-exec's documented fields
# --------------------------------------------------------------------------


def test_every_documented_field_is_listed_with_its_documented_type(ce_home: Path) -> None:
    _fake_env_with_packages(ce_home, "faketool", "faketool", "python")
    documented = _documented_fields()
    assert set(CONDA_EXEC_FIELDS) <= set(documented)
    (row,) = _list_json()
    assert set(row) == set(documented)  # nothing undocumented, nothing documented missing
    wrong = {field: row[field] for field, kind in documented.items() if not _matches(row[field], kind)}
    assert wrong == {}


def test_conda_exec_fields_mean_what_they_mean_in_conda_exec(ce_home: Path) -> None:
    prefix = _fake_env_with_packages(ce_home, "faketool", "faketool", "python", "zlib")
    then = time.time() - 3 * 86400
    os.utime(prefix / "conda-meta" / "history", (then, then))
    (row,) = _list_json()
    assert row["key"] == prefix.name == row["name"]
    assert row["tool"] == prefix.name.rsplit("--", 1)[0] == "faketool"
    assert row["prefix"] == str(prefix) == row["path"]
    assert row["packages"] == 3
    used = datetime.fromisoformat(row["last_used"])
    assert used.tzinfo is not None and used.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert abs(used.timestamp() - then) < 1e-3
    assert abs(datetime.fromisoformat(row["created"]).timestamp() - (prefix / ".ce-env.json").stat().st_mtime) < 1e-3
    assert row["size_bytes"] == row["own_bytes"] + row["shared_bytes"]
    assert row["last_used_timestamp"] == pytest.approx(then, abs=1e-3)


def _conda_exec_list_json(wheel: Path, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """conda-exec 0.4.0's own ``execute_list`` (read from its wheel) printing *entries* as ``--list --json``."""
    with zipfile.ZipFile(wheel) as archive:
        list_tree = ast.parse(archive.read("conda_exec/list.py").decode("utf-8"))
        cache_tree = ast.parse(archive.read("conda_exec/cache.py").decode("utf-8"))
    (execute_list,) = [n for n in list_tree.body if isinstance(n, ast.FunctionDef) and n.name == "execute_list"]
    (cache_entry,) = [n for n in cache_tree.body if isinstance(n, ast.ClassDef) and n.name == "CacheEntry"]
    namespace: dict[str, Any] = {"__name__": "conda_exec_0_4_0_list", "Path": Path, "datetime": datetime}
    exec("from dataclasses import dataclass", namespace)  # annotations evaluated: no module to look them up in
    cache_module = ast.fix_missing_locations(ast.Module(body=[cache_entry], type_ignores=[]))
    exec(compile(cache_module, "cache.py", "exec", dont_inherit=True), namespace)
    made = [namespace["CacheEntry"](**entry) for entry in entries]
    namespace["Console"] = lambda **_: None
    namespace["CacheManager"] = type("CacheManager", (), {"list_cached": lambda self: made})
    namespace["json"] = json
    list_module = ast.fix_missing_locations(ast.Module(body=[execute_list], type_ignores=[]))
    exec(compile(list_module, "list.py", "exec"), namespace)
    out = io.StringIO()
    args = type("Args", (), {"json_output": True})()
    with contextlib.redirect_stdout(out):
        assert namespace["execute_list"](args, console=object()) == 0
    return json.loads(out.getvalue())  # type: ignore[no-any-return]


def test_conda_exec_fields_equal_conda_exec_own_output(ce_home: Path, test_cache_root: Path) -> None:
    wheel = peers.conda_exec_wheel(test_cache_root)
    if wheel is None:
        pytest.skip("conda-exec 0.4.0's wheel cannot be downloaded here")
    prefix = _fake_env_with_packages(ce_home, "faketool", "faketool", "python")
    (row,) = _list_json()
    # the entry conda-exec's CacheManager makes of this prefix: conda's PrefixData times are UTC datetimes,
    # last_modified the history's mtime; its package count is the conda-meta records
    entry = {
        "key": prefix.name,
        "tool": prefix.name.rsplit("--", 1)[0],
        "prefix": prefix,
        "created": datetime.fromtimestamp((prefix / ".ce-env.json").stat().st_mtime, tz=timezone.utc),
        "last_modified": datetime.fromtimestamp((prefix / "conda-meta" / "history").stat().st_mtime, tz=timezone.utc),
        "size": row["size_bytes"],
        "package_count": len(list((prefix / "conda-meta").glob("*.json"))),
    }
    (theirs,) = _conda_exec_list_json(wheel, [entry])
    assert set(theirs) == set(CONDA_EXEC_FIELDS)
    assert {field: row[field] for field in CONDA_EXEC_FIELDS} == theirs


# --------------------------------------------------------------------------
# item 6: cleanup details users script against
# --------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [b"n\n", b"\x04"], ids=["n", "ctrl-d"])
def test_a_declined_clean_exits_1_and_removes_nothing(ce_home: Path, answer: bytes) -> None:
    prefix = make_fake_env(ce_home, "faketool", "true")
    code, _, output = run_on_terminal(
        ["--clean", "--all"], dict(os.environ), all_streams=True, answer=answer, prompt=b"[y/N]"
    )
    assert code == 1
    assert "aborted: nothing removed" in output
    assert "EOFError" not in output and "error" not in output
    assert prefix.exists()


def test_clean_age_0_means_every_environment_not_in_use(ce_home: Path) -> None:
    settings = CleanSettings({"CONDA_EXEC_CLEAN_AGE": "0"})
    assert (settings.age_days, settings.warnings) == (0, [])
    prefix = make_fake_env(ce_home, "faketool", "true")  # used just now
    result = run_ce("--clean", "-y", env=dict(os.environ, CONDA_EXEC_CLEAN_AGE="0"))
    assert result.returncode == 0 and result.stderr == ""
    assert "removed 1 environment(s)" in result.stdout
    assert not prefix.exists()
    for value in ("-1", "nan"):  # still refused
        settings = CleanSettings({"CONDA_EXEC_CLEAN_AGE": value})
        assert settings.age_days == 30 and len(settings.warnings) == 1


def test_an_auto_clean_value_that_is_no_boolean_warns(ce_home: Path) -> None:
    settings = CleanSettings({"CONDA_EXEC_AUTO_CLEAN": "maybe"})
    assert settings.enabled is True
    (warning,) = settings.warnings
    assert "CONDA_EXEC_AUTO_CLEAN='maybe'" in warning
    for word, enabled in (("off", False), ("no", False), ("on", True), ("yes", True), ("", True)):
        settings = CleanSettings({"CONDA_EXEC_AUTO_CLEAN": word})
        assert (settings.enabled, settings.warnings) == (enabled, [])
    make_fake_env(ce_home, "runner", "echo ran")
    result = run_ce(*FAKE_ARGS, "runner", env=dict(os.environ, CONDA_EXEC_AUTO_CLEAN="maybe"))
    assert result.returncode == 0 and result.stdout == "ran\n"
    assert "CONDA_EXEC_AUTO_CLEAN='maybe'" in result.stderr


def test_an_overlong_tool_name_is_refused_for_its_length(ce_home: Path) -> None:
    result = run_ce(*FAKE_ARGS, "a" * 201)
    assert result.returncode != 0
    assert "201 characters long, at most 128" in result.stderr
    assert "use letters" not in result.stderr


def test_auto_clean_skips_a_run_whose_tool_cannot_start(ce_home: Path) -> None:
    stale = make_fake_env(ce_home, "stale", "true")
    then = time.time() - 40 * 86400
    os.utime(stale / "conda-meta" / "history", (then, then))
    broken = make_fake_env(ce_home, "broken", "true")
    (broken / "bin" / "broken").write_text("#!/nonexistent/interpreter\n")
    env = dict(os.environ, CONDA_EXEC_AUTO_CLEAN="1", CONDA_EXEC_CLEAN_INTERVAL="1")
    failed = run_ce(*FAKE_ARGS, "broken", env=env)
    assert failed.returncode == 126, failed.stderr
    assert "auto-clean" not in failed.stderr
    assert stale.exists()
    # a run that starts its tool is a success: the cleanup runs
    make_fake_env(ce_home, "runner", "echo ran")
    ran = run_ce(*FAKE_ARGS, "runner", env=env)
    assert ran.stdout == "ran\n" and "auto-clean removed 1 unused environment(s)" in ran.stderr
    assert not stale.exists()
