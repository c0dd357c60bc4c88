"""Costs of the conda integration, against the local channel (medians; whole processes).

    .venv/bin/python benchmarks/bench_conda.py [--runs 20]

Measured, interleaved round by round: ``ruff --version`` run directly, ``ce
ruff --version`` warm without any condarc and with a condarc (its settings
cached), ``ce --activate`` warm (activation cached) for a tool without and
with an ``activate.d`` script; and the import cost of the ``conda exec``
plugin module on top of conda's own modules (with tests/fake_conda.py
standing in for conda: the self time of every module the plugin adds).
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
sys.path.insert(0, str(REPO / "tests"))

import build_test_channel  # noqa: E402
from fake_conda import environ_with, write_fake_conda  # noqa: E402


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def plugin_import_us(fake: Path) -> int:
    """Microseconds of self time of the modules ``import ce.conda_plugin`` adds to conda's."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import conda.plugins; import ce.conda_plugin"],
        capture_output=True,
        text=True,
        env=environ_with(fake),
        check=True,
    )
    total = 0
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and line.rsplit("|", 1)[1].strip().split(".")[0] == "ce":
            total += int(line.split(":", 1)[1].split("|")[0])
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per command (default 15, at least 10)")
    runs = max(parser.parse_args().runs, 10)

    cache_root = Path(os.environ.get("CE_TEST_CACHE", REPO / ".cache" / "test-channel"))
    channel = build_test_channel.build_channel(cache_root, build_test_channel.ensure_wheels(cache_root / "wheels"))
    work = Path(tempfile.mkdtemp(prefix="ce-bench-conda-"))
    try:
        plain_home, rc_home = work / "home-plain", work / "home-condarc"
        for home in (plain_home, rc_home):
            home.mkdir()
        (rc_home / ".condarc").write_text(
            f"channels:\n  - {channel.as_uri()}\nchannel_alias: https://example.invalid\n"
        )
        base = dict(os.environ, CONDA_EXEC_HOME=str(work / "ce"), RATTLER_CACHE_DIR=str(work / "rattler"))
        base.update(CONDA_EXEC_AUTO_CLEAN="0", CE_CONDARC_SEARCH_PATH="~/.condarc")
        plain = dict(base, HOME=str(plain_home), CONDA_CHANNELS=channel.as_uri())
        with_rc = dict(base, HOME=str(rc_home))
        launcher = work / "ce-uv-launcher"
        launcher.write_text(
            f"#!{sys.executable}\nimport sys\nfrom ce.__main__ import main\n"
            'if __name__ == "__main__":\n    sys.exit(main())\n'
        )
        launcher.chmod(0o755)
        ce = str(launcher)
        demo = ["--from", "activate-demo", "show-activate-demo"]
        for env in (plain, with_rc):  # build, and fill the settings cache
            subprocess.run([ce, "ruff", "--version"], env=env, check=True, capture_output=True)
        subprocess.run([ce, "--activate", *demo], env=plain, check=True, capture_output=True)
        subprocess.run([ce, "--activate", "ruff", "--version"], env=plain, check=True, capture_output=True)
        ruff = next((work / "ce" / "envs").glob("ruff--*")) / "bin" / "ruff"
        commands = {
            "ruff --version directly": ([str(ruff), "--version"], plain),
            "ce ruff warm, no condarc": ([ce, "ruff", "--version"], plain),
            "ce ruff warm, with a condarc": ([ce, "ruff", "--version"], with_rc),
            "ce --activate ruff (no activate.d)": ([ce, "--activate", "ruff", "--version"], plain),
            "ce --activate activate-demo (cached)": ([ce, "--activate", *demo], plain),
        }
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _round in range(runs):
            for name, (command, env) in commands.items():
                samples[name].append(timed(command, env))
        medians = {name: statistics.median(values) * 1000 for name, values in samples.items()}
        fake = write_fake_conda(work / "fake-conda")
        imports = [plugin_import_us(fake) for _ in range(runs)]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    bare = medians["ruff --version directly"]
    print(f"ce conda integration, median of {runs} runs (ms)\n")
    print("| command | median ms | over ruff directly |")
    print("|---|---:|---:|")
    for name, value in medians.items():
        print(f"| {name} | {value:.1f} | {value - bare:+.1f} |")
    print(f"\nconda exec plugin import on top of conda's modules: {statistics.median(imports)} us (median self time)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
