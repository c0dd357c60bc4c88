"""Instructions a warm ``ce TOOL`` executes over Python's own start, counted by valgrind: a figure without noise.

    .venv/bin/python benchmarks/warm_instructions.py [--baseline-src DIR]

Wall-clock figures (``benchmarks/bench.py``) move with the machine: on a shared
host ``python -c pass`` takes anywhere from 11 to 18 ms from one minute to the
next, and a difference in milliseconds moves with it.  Instruction counts
(callgrind's ``Ir``) are the same on every run, so they show what a change to
the warm path costs or saves, to a fraction of a percent.

What is counted: a Python that starts and leaves at once (``os._exit``: no
finalization, as a process that execs has none; ``python -c pass`` for
reference), and a warm hit of ``ce ruff --version`` as ``launcher/ce`` runs it
(through ``ce.__main__.main`` for a tree from before ``ce.fastpath.start``),
with the final ``exec`` replaced by ``os._exit`` (valgrind loses a process's
counts when it execs), so the tool's own run is left out.
With ``--baseline-src DIR`` (the ``src`` of another checkout), that ce's warm
hit too, on the same cache.  Needs valgrind (``apt install valgrind``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import build_test_channel  # noqa: E402

#: A warm hit of ``ce ruff --version`` as ``launcher/ce`` runs it (``ce.fastpath.start``), stopped
#: where it would exec ruff.
WARM_HIT = (
    "import os\n"
    "import sys\n"
    "import ce.fastpath\n"
    "ce.fastpath.launch = lambda plan: os._exit(0 if plan.argv[0] == 'ruff' else 3)\n"
    "ce.fastpath.start(['ruff', '--version'])\n"
    "sys.exit(4)  # not a warm hit\n"
)
#: The same for a tree from before ``ce.fastpath.start``, whose launcher called ``ce.__main__.main``.
WARM_HIT_BEFORE_START = (
    "import os\n"
    "import sys\n"
    "sys.argv = ['ce', 'ruff', '--version']\n"
    "import ce.fastpath\n"
    "ce.fastpath.launch = lambda plan: os._exit(0 if plan.argv[0] == 'ruff' else 3)\n"
    "from ce.__main__ import main\n"
    "sys.exit(main())\n"
)


#: Python's start alone: what a launcher that only execs the tool costs (the bench's "floor").
FLOOR = "python -c 'import os; os._exit(0)'"


def instructions(argv: list[str], env: dict[str, str]) -> int:
    """Instructions executed by *argv* (callgrind's ``Ir``), which must exit 0."""
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Collected : (\d+)", result.stderr)
    if result.returncode != 0 or found is None:
        raise SystemExit(f"{' '.join(argv)} failed under valgrind (exit {result.returncode}):\n{result.stderr[-2000:]}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-src", type=Path, help="also count the warm hit of the ce in this source tree")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt install valgrind)", file=sys.stderr)
        return 2
    sources = {"this tree": REPO / "src"}
    if args.baseline_src is not None:
        sources[f"baseline ({args.baseline_src})"] = args.baseline_src.resolve()
    for source in sources.values():  # stale .pyc files would be compiled again on every run
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(source)], check=True, capture_output=True)
    cache_root = Path(os.environ.get("CE_TEST_CACHE", REPO / ".cache" / "test-channel"))
    channel = build_test_channel.build_channel(cache_root, build_test_channel.ensure_wheels(cache_root / "wheels"))
    work = Path(tempfile.mkdtemp(prefix="ce-instructions-"))
    try:
        base = {key: value for key, value in os.environ.items() if not key.startswith("CONDA_EXEC_")}  # defaults
        base.update(CONDA_EXEC_HOME=str(work / "home"), RATTLER_CACHE_DIR=str(work / "rattler"))
        base["PYTHONHASHSEED"] = "0"  # string hashes shape dicts, and so the count: the same on every run
        base["CONDA_CHANNELS"] = channel.as_uri()
        counts = {
            "python -c pass (for reference)": instructions([sys.executable, "-c", "pass"], base),
            FLOOR: instructions([sys.executable, "-c", "import os; os._exit(0)"], base),
        }
        for label, source in sources.items():
            env = dict(base, PYTHONPATH=str(source))
            subprocess.run([sys.executable, "-m", "ce", "ruff", "--version"], env=env, check=True, capture_output=True)
            has_start = "def start(" in (source / "ce" / "fastpath.py").read_text()
            hit = WARM_HIT if has_start else WARM_HIT_BEFORE_START
            counts[f"ce ruff --version, warm hit, {label}"] = instructions([sys.executable, "-c", hit], env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    floor = counts[FLOOR]
    print("| command | instructions | over Python's start, without finalization |")
    print("|---|---:|---:|")
    for label, count in counts.items():
        print(f"| {label} | {count:,} | {100 * (count - floor) / floor:+.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
