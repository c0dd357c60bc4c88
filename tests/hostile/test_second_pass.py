"""A second tester's pass: more of the same kinds as issue 13 lists, each a failure found on main once."""

from __future__ import annotations

import os
from pathlib import Path

from helpers import FAKE_ARGS, fake_request, make_fake_env
from hostile.support import HELLO_SCRIPT, assert_ok, assert_one_error, run


def test_a_fifo_at_the_refresh_gate_does_not_hang_the_warm_path(ce_home: Path) -> None:
    """A FIFO where ``envs/.locks/<env>.refresh.lock`` belongs: the warm run opened it blocking and hung."""
    make_fake_env(ce_home, "faketool", "echo tool-ran")
    os.mkfifo(ce_home / "envs" / ".locks" / f"{fake_request('faketool').env_name}.refresh.lock")
    assert_ok(run(*FAKE_ARGS, "faketool", timeout=20), "tool-ran")
    assert_ok(run("--clean", "--all", "-y", timeout=20))


def test_a_variable_that_is_not_utf8_is_one_error_not_a_traceback(tmp_path: Path, ce_home: Path) -> None:
    """``CONDA_CHANNELS`` holding byte 0xff: the warm path's cache key raised UnicodeEncodeError (a traceback)."""
    make_fake_env(ce_home, "faketool", "echo tool-ran")
    script = tmp_path / "s.sh"
    script.write_text(HELLO_SCRIPT)
    env = dict(os.environ, CONDA_CHANNELS="\udcff")  # passed to the child as the byte 0xff
    for args in (("faketool",), (str(script),)):
        assert_one_error(run(*args, env=env), (1, 2), "channel")
    assert_ok(run(*FAKE_ARGS, "faketool", env=env), "tool-ran")  # channels given: the variable is not used
