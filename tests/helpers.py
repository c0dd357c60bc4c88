"""Test helpers that do not need a channel: fake environments in the cache."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ce.keys import ToolRequest, resolve_tool_request
from ce.platforms import current_subdir

FAKE_CHANNEL = "file:///nonexistent/ce-test-channel"


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
    (prefix / "conda-meta" / "ce-env.json").write_text(
        f'{{"kind": "tool", "specs": ["{request.specs[0]}"], "size_bytes": 100}}'
    )
    (prefix / "conda-meta" / "history").write_text("")
    os.utime(prefix / "conda-meta" / "history")
    return prefix


FAKE_ARGS = ("-c", FAKE_CHANNEL, "--override-channels")
