"""Bounded parsers: deep, huge, aliased, wrong-typed, special-file and corrupt inputs give one line, fast."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from helpers import make_fake_env
from hostile.support import (
    HELLO_SCRIPT,
    assert_no_crash,
    assert_ok,
    assert_one_error,
    lock_digest,
    run,
    script_folder,
    snapshot,
)

DIGEST = lock_digest(["hello-tool"])
DEEP = 200_000
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)
)


def _folder(tmp_path: Path, lock: str | bytes | None = None, name: str = "s.sh.conda-exec.lock") -> Path:
    folder = script_folder(tmp_path, "s.sh", HELLO_SCRIPT)
    if lock is not None:
        data = lock.encode() if isinstance(lock, str) else lock
        (folder / name).write_bytes(f"# conda-exec-lock-input-sha256: {DIGEST}\n".encode() + data)
    return folder


LOCK_BODIES = {
    "deep flow sequence": "version: 6\nenvironments: " + "[" * DEEP + "]" * DEEP + "\n",
    "deep flow mapping": "version: 6\nenvironments: " + "{a: " * DEEP + "1" + "}" * DEEP + "\n",
    "deep block nesting": "version: 6\n" + "".join(" " * i + "- \n" for i in range(3000)),
    "alias bomb": "version: 6\n" + ALIAS_BOMB + "environments: *j\npackages: []\n",
    "binary": bytes(range(256)) * 64,
    "huge single line": "version: 6\npackages: [" + "x, " * 2_000_000 + "]\n",
}


@pytest.mark.parametrize("body", list(LOCK_BODIES.values()), ids=list(LOCK_BODIES))
def test_a_hostile_lock_is_one_error_naming_it_and_ignore_lock_runs(
    tmp_path: Path, env: dict[str, str], body: str | bytes
) -> None:
    """Bullet 'crashes': deep YAML in a lock segfaults; an alias bomb takes 40 s and all memory.

    Unreadable lock data is an error in every case (issue 24), with or without ``--locked``; ``--ignore-lock``
    solves from the metadata instead.
    """
    folder = _folder(tmp_path, body)
    before = snapshot(folder)
    for args in (("s.sh",), ("--locked", "s.sh")):
        result = run(*args, env=env, cwd=folder, timeout=60)
        assert_one_error(result, 1, "s.sh.conda-exec.lock")
        assert "hello from" not in result.stdout
    assert_ok(run("--ignore-lock", "s.sh", env=env, cwd=folder, timeout=60), "hello from hello-tool")
    assert snapshot(folder) == before


CONDARCS = {
    "deep flow sequence": "channels: " + "[" * DEEP + "]" * DEEP + "\n",
    "deep flow mapping": "custom_channels: " + "{a: " * DEEP + "1" + "}" * DEEP + "\n",
    "alias bomb": ALIAS_BOMB + "channels: *j\n",
    "binary": bytes(range(256)) * 64,
}


@pytest.mark.parametrize("body", list(CONDARCS.values()), ids=list(CONDARCS))
def test_a_hostile_condarc_is_one_error(tmp_path: Path, channel_url: str, body: str | bytes) -> None:
    """Bullet: deep YAML in ``~/.condarc`` segfaults; the alias bomb is refused quickly."""
    rc = Path(os.environ["HOME"]) / ".condarc"
    rc.write_bytes(body.encode() if isinstance(body, str) else body)
    result = run("-c", channel_url, "--override-channels", "--from", "hello-tool", "hello", timeout=60)
    assert_one_error(result, (1, 2), ".condarc")


@pytest.mark.parametrize("special", ["fifo", "dev-zero", "directory"])
def test_a_special_file_as_condarc_is_refused_without_hanging(tmp_path: Path, channel_url: str, special: str) -> None:
    """Own case: ``~/.condarc`` is a FIFO, ``/dev/zero`` or a directory."""
    rc = Path(os.environ["HOME"]) / ".condarc"
    if special == "fifo":
        os.mkfifo(rc)
    elif special == "dev-zero":
        rc.symlink_to("/dev/zero")
    else:
        rc.mkdir()
    result = run("-c", channel_url, "--override-channels", "--from", "hello-tool", "hello", timeout=30)
    if result.returncode == 0:
        assert_ok(result, "hello from hello-tool")
    else:
        assert_one_error(result, (1, 2), ".condarc")


@pytest.mark.parametrize("special", ["fifo", "dev-zero", "dev-urandom"])
def test_a_special_file_as_lock_sidecar_does_not_hang(tmp_path: Path, env: dict[str, str], special: str) -> None:
    """Own case: the lock sidecar is a FIFO or a device."""
    folder = _folder(tmp_path)
    sidecar = folder / "s.sh.conda-exec.lock"
    if special == "fifo":
        os.mkfifo(sidecar)
    else:
        sidecar.symlink_to("/" + special.replace("-", "/"))
    result = run("s.sh", env=env, cwd=folder, timeout=30)
    assert_ok(result, "hello from hello-tool")
    # refused (naming it) or ignored as not a regular file ("no lock found for s.sh")
    assert_one_error(run("--locked", "s.sh", env=env, cwd=folder, timeout=30), 1, "s.sh")


@pytest.mark.parametrize("special", ["fifo", "dev-zero"])
def test_a_special_file_as_script_is_refused_without_hanging(tmp_path: Path, env: dict[str, str], special: str) -> None:
    """Own case: ``ce FIFO`` and ``ce link-to-/dev/zero``."""
    path = tmp_path / "s.py"
    if special == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    assert_one_error(run(str(path), env=env, timeout=30), (1, 2), "s.py")


def test_a_huge_script_runs_or_is_refused_in_one_line(tmp_path: Path, env: dict[str, str]) -> None:
    """Own case: 40 MB of comments after the metadata."""
    script = tmp_path / "s.sh"
    script.write_text(HELLO_SCRIPT + ("# " + "x" * 1000 + "\n") * 40_000)
    result = run(str(script), env=env, timeout=120)
    if result.returncode == 0:
        assert_ok(result, "hello from hello-tool")
    else:
        assert_one_error(result, 1, "s.sh")


TOML = {
    "deep arrays": "# a = " + "[" * 5000 + "]" * 5000 + "\n",
    "deep inline tables": "# a = " + "{b = " * 5000 + "1" + "}" * 5000 + "\n",
    "deep dotted key": "# " + ".".join(["k"] * 20000) + " = 1\n",
}


@pytest.mark.parametrize("line", list(TOML.values()), ids=list(TOML))
def test_deep_toml_is_a_file_line_error(tmp_path: Path, env: dict[str, str], line: str) -> None:
    """Bullet: deep TOML gives ``maximum recursion depth exceeded`` without a file or line."""
    script = tmp_path / "s.sh"
    script.write_text("# /// script\n" + line + "# ///\n")
    result = run(str(script), env=env)
    if result.returncode == 0 and "dotted" in line_id(line):  # valid TOML: reading it is fine too
        assert_ok(result)
        return
    message = assert_one_error(result, 1, "s.sh:2")
    assert "recursion" not in message
    assert_one_error(run("--add", "six", str(script)), 1, "s.sh:2")


def line_id(line: str) -> str:
    """The name of a :data:`TOML` case."""
    return next(name for name, value in TOML.items() if value == line)


def test_many_unknown_metadata_keys_are_linear(tmp_path: Path, env: dict[str, str]) -> None:
    """Bullet: 20,000 unknown keys took 7 s (quadratic); 50,000 must finish far inside the timeout."""
    keys = "".join(f"# unknown-key-{i} = {i}\n" for i in range(50_000))
    script = tmp_path / "s.sh"
    script.write_text(HELLO_SCRIPT.replace("# [tool.conda]\n", keys + "# [tool.conda]\n"))
    result = run(str(script), env=env, timeout=25)
    assert_ok(result, "hello from hello-tool")
    result = run("--add", "six", str(script), timeout=25)
    assert_ok(result)


def _conda_lock(tmp_path: Path, env: dict[str, str]) -> tuple[Path, dict[str, object]]:
    folder = _folder(tmp_path)
    assert_ok(run("--lock", "--lock-format", "conda-lock", "s.sh", env=env, cwd=folder))
    sidecar = folder / "s.sh.conda-lock.yml"
    header, _, body = sidecar.read_text().partition("\n")
    sidecar.write_text(header + "\n")
    return sidecar, yaml.safe_load(body)


HASHES = {
    "int md5": {"md5": 12345},
    "int sha256": {"sha256": 12345},
    "list md5": {"md5": ["a"]},
    "non-hex md5": {"md5": "z" * 32},
    "short sha256": {"sha256": "ab" * 10},
    "hash not a mapping": "abc",
}


@pytest.mark.parametrize("hash_value", list(HASHES.values()), ids=list(HASHES))
def test_a_wrong_typed_hash_in_a_conda_lock_file_is_one_clear_error(
    tmp_path: Path, env: dict[str, str], hash_value: object
) -> None:
    """Bullet: a wrong-typed hash prints ``'int' object has no attribute 'lower'``."""
    sidecar, document = _conda_lock(tmp_path, env)
    package = document["package"][0]  # type: ignore[index]
    package["hash"] = hash_value
    with sidecar.open("a") as handle:
        yaml.safe_dump(document, handle)
    result = run("--locked", "--lock-format", "conda-lock", "s.sh", env=env, cwd=sidecar.parent)
    message = assert_one_error(result, 1, "hash")
    assert "attribute" not in message and "object" not in message


@pytest.mark.parametrize("field", ["sha256", "md5"])
def test_a_wrong_typed_hash_in_a_v6_lock_is_one_clear_error(tmp_path: Path, env: dict[str, str], field: str) -> None:
    """Own case: the same in rattler-lock-v6."""
    folder = _folder(tmp_path)
    assert_ok(run("--lock", "s.sh", env=env, cwd=folder))
    sidecar = folder / "s.sh.conda-exec.lock"
    header, _, body = sidecar.read_text().partition("\n")
    document = yaml.safe_load(body)
    for package in document["packages"]:
        package[field] = 12345
    sidecar.write_text(header + "\n" + yaml.safe_dump(document))
    message = assert_one_error(run("--locked", "s.sh", env=env, cwd=folder), 1, ("hash", field))
    assert "attribute" not in message


CORRUPT_RECORDS: dict[str, bytes | None] = {
    "binary": bytes(range(256)),
    "deep json": b"[" * 100_000 + b"]" * 100_000,
    "wrong types": b'{"specs": 5, "size_bytes": "big", "kind": ["tool"], "created": "yesterday"}',
    "a list": b"[1, 2, 3]",
    "not utf-8": b'{"specs": ["\xff"]}',
    "directory": None,
}


@pytest.mark.parametrize("data", list(CORRUPT_RECORDS.values()), ids=list(CORRUPT_RECORDS))
def test_one_corrupt_environment_record_does_not_break_list(ce_home: Path, data: bytes | None) -> None:
    """Bullet: one corrupt environment record makes ``--list`` fail entirely."""
    make_fake_env(ce_home, "goodtool", "true")
    bad = make_fake_env(ce_home, "badtool", "true")
    record = bad / ".ce-env.json"
    record.unlink()
    if data is None:
        record.mkdir()
    else:
        record.write_bytes(data)
    result = run("--list", timeout=30)
    assert_ok(result, "goodtool")
    result = run("--list", "--json", timeout=30)
    assert_ok(result)
    names = json.dumps(json.loads(result.stdout))
    assert "goodtool" in names
    assert_ok(run("--clean", "--all", "-y", timeout=30))


def test_a_fifo_environment_record_does_not_hang_list(ce_home: Path) -> None:
    """Own case: ``.ce-env.json`` is a FIFO."""
    make_fake_env(ce_home, "goodtool", "true")
    bad = make_fake_env(ce_home, "badtool", "true")
    (bad / ".ce-env.json").unlink()
    os.mkfifo(bad / ".ce-env.json")
    assert_ok(run("--list", timeout=30), "goodtool")


def test_a_corrupt_script_index_entry_is_ignored(tmp_path: Path, ce_home: Path, env: dict[str, str]) -> None:
    """Own case: every script index entry replaced by garbage, a FIFO or a deep path."""
    folder = _folder(tmp_path)
    assert_ok(run("s.sh", env=env, cwd=folder), "hello from hello-tool")
    entries = [p for p in (ce_home / "envs" / ".index").iterdir() if not p.name.endswith(".tmp")]
    assert entries
    for entry in entries:
        entry.unlink()
        os.mkfifo(entry)
    result = run("s.sh", env=env, cwd=folder, timeout=30)
    assert_ok(result, "hello from hello-tool")
    for entry in entries:
        if entry.is_fifo():
            entry.unlink()
        entry.write_bytes(b"ce-script-index:1\n../../outside\n/bin/echo\0PWNED\n")
    result = run("s.sh", env=env, cwd=folder, timeout=30)
    assert "PWNED" not in result.stdout
    assert_ok(result, "hello from hello-tool")


def test_truncated_and_garbage_repodata_are_one_error(tmp_path: Path, channel: Path) -> None:
    """Own case: a channel whose repodata is truncated, deep or binary."""
    import shutil

    for name, mutate in {
        "truncated": lambda data: data[: len(data) // 2],
        "deep": lambda _data: b"[" * 200_000 + b"]" * 200_000,
        "binary": lambda _data: bytes(range(256)) * 100,
    }.items():
        copy = tmp_path / name
        (copy / "noarch").mkdir(parents=True)
        (copy / "linux-64").mkdir()
        source = channel / "noarch" / "repodata.json"
        (copy / "noarch" / "repodata.json").write_bytes(mutate(source.read_bytes()))
        shutil.copy(channel / "linux-64" / "repodata.json", copy / "linux-64" / "repodata.json")
        result = run("-c", copy.as_uri(), "--override-channels", "--from", "hello-tool", "hello", timeout=60)
        assert_no_crash(result)
        assert_one_error(result, 1, ("repodata", "channel", copy.name))
