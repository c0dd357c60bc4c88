"""Whole-process timings of ce against the local channel, medians of several runs.

    .venv/bin/python benchmarks/bench.py [--runs 15]

Measures, interleaved round by round so that machine noise hits every
command alike: the bare tool binary, ``python -c pass``, ``ce TOOL`` warm and
``ce TOOL`` cold with a warm package cache (a fresh ce cache each run).  The
warm overhead and the ratios are computed from medians measured in this run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import build_test_channel  # noqa: E402

WARM_OVERHEAD_TARGET_MS = 15.0
COLD_TARGET_MS = 150.0


SCRIPT = """\
# /// script
# requires-python = ">=3.11"
#
# [tool.conda]
# dependencies = ["python-dateutil"]
# ///
import dateutil
"""


def timed(command: list[str], env: dict[str, str]) -> float:
    """Seconds one run of *command* takes; it must succeed."""
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per command (default 15, at least 10)")
    parser.add_argument("--tool", default="ruff", help="tool from the local channel (default ruff)")
    args = parser.parse_args()
    runs = max(args.runs, 10)

    cache_root = Path(os.environ.get("CE_TEST_CACHE", REPO / ".cache" / "test-channel"))
    channel = build_test_channel.build_channel(cache_root, build_test_channel.ensure_wheels(cache_root / "wheels"))
    work = Path(tempfile.mkdtemp(prefix="ce-bench-"))
    try:
        env = dict(os.environ)
        env.update(
            CONDA_EXEC_HOME=str(work / "warm"),
            RATTLER_CACHE_DIR=str(work / "rattler"),
            CONDA_CHANNELS=channel.as_uri(),
            CONDA_EXEC_AUTO_CLEAN="0",
        )
        ce = str(Path(sys.executable).with_name("ce"))
        # The launcher uv writes for console scripts (pip's also imports re: ~7 ms here).
        lean_launcher = work / "ce-uv-launcher"
        lean_launcher.write_text(
            f"#!{sys.executable}\n# -*- coding: utf-8 -*-\nimport sys\nfrom ce.__main__ import main\n"
            'if __name__ == "__main__":\n    sys.exit(main())\n'
        )
        lean_launcher.chmod(0o755)
        lean = [str(lean_launcher)]
        tool = [args.tool, "--version"]
        subprocess.run([ce, *tool], env=env, check=True, capture_output=True)  # build; fills the package cache
        (prefix,) = [p for p in (work / "warm" / "envs").iterdir() if not p.name.startswith(".")]
        binary = [str(prefix / "bin" / args.tool), "--version"]

        commands: dict[str, list[str]] = {
            "bare binary": binary,
            "python -c pass": [sys.executable, "-c", "pass"],
            "ce warm (pip launcher)": [ce, *tool],
            "ce warm (uv launcher)": [*lean, *tool],
            "ce cold, package cache warm": [ce, "-q", *tool],
        }
        # A locked script: install from the lock with a warm and with an empty package cache.
        script = work / "locked" / "summary.py"
        script.parent.mkdir()
        script.write_text(SCRIPT)
        subprocess.run([ce, "-q", "--lock", str(script)], env=env, check=True, capture_output=True)
        (script_env,) = [p for p in (work / "warm" / "envs").iterdir() if p.name.startswith("script--")]
        commands["script: env's python directly"] = [str(script_env / "bin" / "python"), str(script)]
        commands["script: ce warm (uv launcher)"] = [*lean, str(script)]
        commands["script: install from lock, package cache warm"] = [ce, "-q", str(script)]
        commands["script: install from lock, package cache empty"] = [ce, "-q", str(script)]

        samples: dict[str, list[float]] = {name: [] for name in commands}
        for round_number in range(runs):
            for name, command in commands.items():
                run_env = env
                if "cold" in name or "install from lock" in name:
                    run_env = dict(env, CONDA_EXEC_HOME=str(work / f"cold-{round_number}-{len(samples[name])}"))
                if name.endswith("package cache empty"):
                    run_env["RATTLER_CACHE_DIR"] = str(work / f"empty-{round_number}")
                samples[name].append(timed(command, run_env))
                if run_env is not env:
                    shutil.rmtree(run_env["CONDA_EXEC_HOME"], ignore_errors=True)
                    if name.endswith("package cache empty"):
                        shutil.rmtree(run_env["RATTLER_CACHE_DIR"], ignore_errors=True)
        medians = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    bare = medians["bare binary"]
    print(f"ce benchmarks: {args.tool} from the local channel, median of {runs} runs each (ms)\n")
    print("| command | median ms | ratio to bare binary |")
    print("|---|---:|---:|")
    for name, value in medians.items():
        print(f"| {name} | {value:.1f} | {value / bare:.2f}x |")
    warm = medians["ce warm (pip launcher)"] - bare
    lean_warm = medians["ce warm (uv launcher)"] - bare
    cold = medians["ce cold, package cache warm"]
    print()
    print(
        f"warm overhead over the bare binary: {lean_warm:.1f} ms (uv launcher), {warm:.1f} ms (pip launcher);"
        f" target <= {WARM_OVERHEAD_TARGET_MS:.0f} ms"
    )
    print(f"python -c pass alone: {medians['python -c pass']:.1f} ms")
    print(f"cold run with a warm package cache: {cold:.1f} ms; target <= {COLD_TARGET_MS:.0f} ms")
    script_overhead = medians["script: ce warm (uv launcher)"] - medians["script: env's python directly"]
    print(f"script warm overhead over the environment's python: {script_overhead:.1f} ms")
    print(
        "install from lock (python + python-dateutil + six, 3 packages, ~60 MB): "
        f"{medians['script: install from lock, package cache warm']:.0f} ms with a warm package cache, "
        f"{medians['script: install from lock, package cache empty']:.0f} ms with an empty one"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
