"""Test helpers that do not need a channel: fake environments in the cache."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ce.platforms import current_subdir
from ce.tool_request import ToolRequest, resolve_tool_request

FAKE_CHANNEL = "file:///nonexistent/ce-test-channel"


def env_names(ce_home: Path) -> list[str]:
    """The names of the complete environments in *ce_home*'s cache, sorted."""
    envs = ce_home / "envs"
    return sorted(p.name for p in envs.iterdir() if not p.name.startswith(".")) if envs.exists() else []


def fake_request(tool: str, *with_specs: str) -> ToolRequest:
    """The request ``ce -c FAKE_CHANNEL --override-channels [--with ...] TOOL`` resolves to."""
    return resolve_tool_request(tool, None, list(with_specs), [FAKE_CHANNEL], True, current_subdir(), {})


def make_fake_env(ce_home: Path, tool: str, script: str = 'echo "$0 $*"', *with_specs: str) -> Path:
    """A complete-looking cached environment whose ``bin/TOOL`` runs *script*."""
    request = fake_request(tool, *with_specs)
    prefix = ce_home / "envs" / request.env_name
    (prefix / "conda-meta").mkdir(parents=True)
    (ce_home / "envs" / ".locks").mkdir(exist_ok=True)
    (prefix / "bin").mkdir()
    executable = prefix / "bin" / request.command
    executable.write_text(f"#!/bin/sh\n{script}\n")
    executable.chmod(executable.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    (prefix / ".ce-env.json").write_text(f'{{"kind": "tool", "specs": ["{request.specs[0]}"], "size_bytes": 100}}')
    (prefix / "conda-meta" / "history").write_text("")
    os.utime(prefix / "conda-meta" / "history")
    return prefix


FAKE_ARGS = ("-c", FAKE_CHANNEL, "--override-channels")


def run_on_terminal(
    args: list[str], env: dict[str, str], *, all_streams: bool = False, answer: bytes | None = None, prompt: bytes = b""
) -> tuple[int, str, str]:
    """Run ``python -m ce ARGS`` with a pseudo-terminal as stderr (or as stdin, stdout and stderr).

    Returns ``(exit code, stdout, what the terminal showed)``; with *answer*, types it
    once the terminal shows *prompt*.
    """
    import os
    import pty
    import select
    import subprocess
    import sys
    import time

    leader, follower = pty.openpty()
    streams = (
        {"stdin": follower, "stdout": follower, "stderr": follower}
        if all_streams
        else {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE, "stderr": follower}
    )
    process = subprocess.Popen([sys.executable, "-m", "ce", *args], env=env, **streams)  # type: ignore[call-overload]
    os.close(follower)
    shown = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
        if answer is not None and prompt in shown:
            os.write(leader, answer)
            answer = None
        if not ready and process.poll() is not None:
            break
    os.close(leader)
    stdout = process.stdout.read().decode() if process.stdout else ""
    return process.wait(timeout=10), stdout, shown.decode(errors="replace")
