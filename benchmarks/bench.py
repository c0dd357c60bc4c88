"""Whole-process benchmarks of ce against the local channel; writes docs/benchmarks.md.

    .venv/bin/python benchmarks/bench.py [--runs 15] [--markdown docs/benchmarks.md]

Every figure is the median of at least 10 runs of a whole process. Commands
in one group run interleaved, round by round, so machine noise hits each of
them alike, and every ratio is computed against a baseline measured in the
same group and the same run:

* tool, warm: ce's wheel, built from this tree, installed for real into
  fresh virtual environments by pip, by uv (``uv pip install``, without
  ``--compile-bytecode``) and by pipx (when a ``pipx`` command is found),
  each install's warm ``ce TOOL`` beside ``python -c pass`` of its own
  environment's python; the dev venv's editable install, the bare binary and
  a python that only execs it, for reference;
* tool, cold: cold with a warm package cache, cold with an empty package
  cache over a loopback HTTP channel, and ``uvx`` warm (a group of its own);
* script: the environment's python running the script directly, ``ce
  script.py`` warm, and installs from a lock with a warm and an empty
  package cache;
* scale: a warm hit with 1 and with 1,000 cached environments, ``--list``
  and ``--clean --all --dry-run`` with 1,000;
* with ``--baseline-src DIR`` (the ``src`` of another checkout, for example
  a worktree of the previous commit), warm and cold runs of that ce beside
  this one, both started the same way, in one interleaved group.

Automatic cleanup is left at the user's default (every 50th run scans the
cache), as users get it, except in the scale group: there a due cleanup
would scan the 1,000 made-up environments in the middle of the group, and
that group compares the lookup alone (``--clean`` has rows of its own).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The automatic-cleanup settings: the benchmark runs with their defaults, not the caller's.
CLEAN_SETTINGS = ("CONDA_EXEC_AUTO_CLEAN", "CONDA_EXEC_CLEAN_INTERVAL", "CONDA_EXEC_CLEAN_AGE")
sys.path.insert(0, str(REPO / "scripts"))

import build_test_channel  # noqa: E402

SCRIPT = """\
# /// script
# requires-python = ">=3.11"
#
# [tool.conda]
# dependencies = ["python-dateutil"]
# ///
import dateutil
"""


@dataclass
class Command:
    """One benchmarked command; *prepare* returns the environment of one run (and may clean up before it)."""

    label: str
    argv: list[str]
    prepare: Callable[[int], dict[str, str]]
    target: str = ""
    samples: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1000


#: The warm tool group runs this many times more rounds: each run takes ~20 ms, and this kind of machine
#: drifts in speed over tens of seconds (python -c pass between 11 and 17 ms here), so a few seconds of
#: rounds would measure one phase; a difference in ms between two rows scales with the phase.
WARM_ROUNDS_FACTOR = 10


def run_group(commands: list[Command], runs: int) -> None:
    """Run every command *runs* times, interleaved round by round.

    Pending disk writes (earlier cold runs write whole environments) are
    flushed first, so they do not slow down the group's measurements.
    """
    os.sync()
    for round_number in range(runs):
        for command in commands:
            env = command.prepare(round_number)
            started = time.perf_counter()
            subprocess.run(command.argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            command.samples.append(time.perf_counter() - started)


def console_script_launcher(path: Path, python: Path) -> Path:
    """What pip writes for a console-script entry point ``ce = ce.__main__:main`` (it imports ``re`` first).

    ce ships no console script (its ``ce`` is ``launcher/ce``): this is for reference only.
    """
    path.write_text(
        f"#!{python}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nif __name__ == '__main__':\n"
        "    from ce.__main__ import main\n"
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    sys.exit(main())\n"
    )
    path.chmod(0o755)
    return path


@dataclass
class Install:
    """ce installed from its wheel by one installer: its ``ce`` command and its environment's ``python``."""

    how: str
    ce: Path
    python: Path

    def has_bytecode(self) -> bool:
        """Whether ce's warm-path entry (``ce/fastpath.py``) has a ``.pyc`` file in this environment."""
        found = subprocess.run(  # asks sysconfig: importing ce here could write .pyc files
            [str(self.python), "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        )
        return any((Path(found.stdout.strip()) / "ce" / "__pycache__").glob("fastpath.*.pyc"))


def build_wheel(work: Path, env: dict[str, str]) -> Path:
    """ce's wheel, built from this tree by pip with the dev venv's hatchling (offline)."""
    dest = work / "wheel"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-cache-dir"]
    subprocess.run(
        [*pip_wheel, "-w", str(dest), str(REPO)],
        env=env,
        check=True,
        capture_output=True,
    )
    (wheel,) = dest.glob("ce-*.whl")
    return wheel


def install_with_pip(wheel: Path, venv: Path, env: dict[str, str]) -> Install:
    """``python -m venv`` and ``pip install`` (pip byte-compiles what it installs)."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], env=env, check=True, capture_output=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-cache-dir", str(wheel)],
        env=env,
        check=True,
        capture_output=True,
    )
    return Install("pip install", venv / "bin" / "ce", python)


def install_with_uv(wheel: Path, venv: Path, env: dict[str, str]) -> Install:
    """``uv venv`` and ``uv pip install`` without ``--compile-bytecode``, uv's default."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], env=env, check=True, capture_output=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "-q", "--no-deps", "--offline", "--python", str(python), str(wheel)],
        env=env,
        check=True,
        capture_output=True,
    )
    return Install("uv pip install", venv / "bin" / "ce", python)


def install_with_pipx(wheel: Path, home: Path, env: dict[str, str]) -> Install | str:
    """``pipx install`` into *home*; or why not (no ``pipx`` command, or pipx could not install).

    pipx resolves ce's dependencies (it reads their metadata) and upgrades the
    pip of its shared environment, so it needs a package index; pip's cache is
    the repository's ``.cache/pip``, as for ``scripts/setup-dev``.
    """
    pipx = shutil.which("pipx", path=str(Path(sys.executable).parent)) or shutil.which("pipx")
    if pipx is None:
        return "no pipx command found (in the dev venv or on PATH)"
    env = dict(
        env,
        PIPX_HOME=str(home),
        PIPX_BIN_DIR=str(home / "bin"),
        PIPX_MAN_DIR=str(home / "man"),
        PIP_CACHE_DIR=str(REPO / ".cache" / "pip"),
    )
    try:
        done = subprocess.run(
            [pipx, "install", "--python", sys.executable, str(wheel)], env=env, capture_output=True, timeout=600
        )
    except subprocess.TimeoutExpired:
        return "pipx install took more than 10 minutes"
    if done.returncode != 0:
        last = (done.stderr or done.stdout).decode(errors="replace").strip().splitlines()
        return f"pipx install failed ({last[-1] if last else f'exit status {done.returncode}'})"
    return Install("pipx install", home / "bin" / "ce", home / "venvs" / "ce" / "bin" / "python")


def install_ce(work: Path, base: dict[str, str]) -> tuple[list[Install], str]:
    """ce's wheel installed by pip, uv and (when it can) pipx, each run once; and why pipx is missing, if it is.

    Everything is written inside *work* (temporary files and the installers'
    home too). Each install's first run is a warm hit (the cache was filled by
    the dev venv's ce), as after reinstalling or upgrading ce over a warm cache;
    the benchmark measures the runs after it.
    """
    for folder in ("tmp", "home"):
        (work / folder).mkdir()
    env = dict(base, TMPDIR=str(work / "tmp"), HOME=str(work / "home"))
    wheel = build_wheel(work, env)
    installs = [install_with_pip(wheel, work / "venv-pip", env), install_with_uv(wheel, work / "venv-uv", env)]
    pipx = install_with_pipx(wheel, work / "pipx", env)
    note = pipx if isinstance(pipx, str) else ""
    if isinstance(pipx, Install):
        installs.append(pipx)
    for install in installs:
        subprocess.run([str(install.ce), "ruff", "--version"], env=base, check=True, capture_output=True)
    return installs, note


@dataclass
class Pair:
    """A warm ``ce`` row and the ``python -c pass`` of the interpreter that runs it."""

    how: str
    baseline: Command
    ce: Command
    targeted: bool

    @property
    def over_ms(self) -> float:
        return self.ce.median_ms - self.baseline.median_ms


@dataclass
class WarmGroup:
    """The warm tool group: its commands in order, and which of them to compare."""

    commands: list[Command]
    pairs: list[Pair]
    floor: Pair


def warm_tool_group(
    installs: list[Install], bare: list[str], dev_ce: str, same: Callable[[int], dict[str, str]]
) -> WarmGroup:
    """Each install's warm ``ce ruff --version`` beside its own ``python -c pass``, with references.

    Every row gets its own interpreter's baseline: a ``python -m venv``
    environment holds setuptools' ``distutils-precedence.pth`` (it imports
    ``_distutils_hack`` on every start), pipx's a ``.pth`` of its shared
    libraries, uv's neither.
    """
    ruff = ["ruff", "--version"]

    def python_pass(python: Path | str, where: str) -> Command:
        return Command(f"python -c pass ({where})", [str(python), "-c", "pass"], same)

    dev_pass = python_pass(sys.executable, "the dev venv's python")
    floor = Command(
        "python that only execs ruff (the dev venv's python; the floor for any Python launcher)",
        [sys.executable, "-c", f"import os; os.execv({bare[0]!r}, {bare!r})"],
        same,
    )
    dev = Command("ce ruff --version, warm (the dev venv: editable install, pip install -e)", [dev_ce, *ruff], same)
    commands = [Command("ruff --version, the bare binary", bare, same), dev_pass, floor, dev]
    pairs = [Pair("the dev venv (editable)", dev_pass, dev, targeted=False)]
    for install in installs:
        baseline = python_pass(install.python, f"the {install.how} environment's python")
        run = Command(
            f"ce ruff --version, warm ({install.how})",
            [str(install.ce), *ruff],
            same,
            "<= python -c pass above + 3 ms",
        )
        commands += [baseline, run]
        pairs.append(Pair(install.how, baseline, run, targeted=True))
        if install.how == "pip install":
            launcher = console_script_launcher(install.ce.with_name("ce-console-script"), install.python)
            reference = Command(
                "ce ruff --version, warm (pip's console-script launcher, imports re; ce ships none: for reference)",
                [str(launcher), *ruff],
                same,
            )
            commands.append(reference)
            pairs.append(Pair("a pip console-script launcher (reference)", baseline, reference, targeted=False))
    return WarmGroup(commands, pairs, Pair("python that only execs ruff", dev_pass, floor, targeted=False))


def fake_environments(home: Path, count: int) -> None:
    """*count* complete-looking environments (what --list and --clean read), as a big cache has."""
    envs = home / "envs"
    for index in range(count):
        prefix = envs / f"tool{index:04d}--{index:016x}"
        (prefix / "conda-meta").mkdir(parents=True)
        (prefix / "bin").mkdir()
        (prefix / ".ce-env.json").write_text(
            f'{{"kind": "tool", "specs": ["tool{index:04d}"], "size_bytes": {1000 + index}, '
            f'"own_bytes": {index}, "shared_bytes": 1000}}'
        )
        (prefix / "conda-meta" / "history").write_text("")


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    work = Path(tempfile.mkdtemp(prefix="ce-bench-"))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per command (default 15, at least 10)")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file (docs/benchmarks.md)")
    parser.add_argument(
        "--baseline-src", type=Path, help="also measure the ce in this source tree, side by side (only that group)"
    )
    args = parser.parse_args()
    runs = max(args.runs, 10)

    # This machine sets PYTHONDONTWRITEBYTECODE: stale .pyc files would be recompiled on every run.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "src")], check=True, capture_output=True)
    cache_root = Path(os.environ.get("CE_TEST_CACHE", REPO / ".cache" / "test-channel"))
    channel = build_test_channel.build_channel(cache_root, build_test_channel.ensure_wheels(cache_root / "wheels"))
    ce = str(Path(sys.executable).with_name("ce"))
    with workspace() as work, build_test_channel.serve_channel(channel) as http_channel:
        # Automatic cleanup as users have it (the default): not the settings of whoever runs this.
        base = {key: value for key, value in os.environ.items() if key not in CLEAN_SETTINGS}
        base.update(
            CONDA_EXEC_HOME=str(work / "warm"),
            RATTLER_CACHE_DIR=str(work / "rattler"),
            CONDA_CHANNELS=channel.as_uri(),
            NO_PROXY="127.0.0.1",
            UV_CACHE_DIR=str(work / "uv-cache"),
        )

        def same(_round: int) -> dict[str, str]:
            return base

        def fresh_home(label: str, empty_packages: bool = False) -> Callable[[int], dict[str, str]]:
            def prepare(round_number: int) -> dict[str, str]:
                home = work / f"{label}-{round_number}"
                shutil.rmtree(home, ignore_errors=True)
                env = dict(base, CONDA_EXEC_HOME=str(home))
                if empty_packages:
                    packages = work / f"{label}-pkgs-{round_number}"
                    shutil.rmtree(packages, ignore_errors=True)
                    env["RATTLER_CACHE_DIR"] = str(packages)
                return env

            return prepare

        # --- tool ------------------------------------------------------------------------------
        subprocess.run([ce, "ruff", "--version"], env=base, check=True, capture_output=True)
        (prefix,) = [p for p in (work / "warm" / "envs").iterdir() if p.name.startswith("ruff--")]
        bare = [str(prefix / "bin" / "ruff"), "--version"]
        if args.baseline_src is not None:
            subprocess.run(
                [sys.executable, "-m", "compileall", "-q", str(args.baseline_src)], check=True, capture_output=True
            )
            comparison = compare_with_baseline(args.baseline_src.resolve(), base, fresh_home)
            run_group(comparison, runs)
            print(render_comparison(comparison, runs, args.baseline_src))
            return 0
        installs, pipx_note = install_ce(work, base)
        warm = warm_tool_group(installs, bare, ce, same)
        cold = [
            Command("ruff --version, the bare binary", bare, same),
            Command(
                "ce ruff --version, cold, package cache warm",
                [ce, "-q", "ruff", "--version"],
                fresh_home("cold"),
                "<= 150 ms",
            ),
            Command(
                "ce ruff --version, cold, empty package cache, loopback HTTP channel",
                [ce, "-q", "-c", http_channel, "--override-channels", "ruff", "--version"],
                fresh_home("http", empty_packages=True),
            ),
        ]
        uvx = shutil.which("uvx", path=str(Path(sys.executable).parent)) or shutil.which("uvx")
        uvx_note = "uvx not installed"
        # A group of its own: a 0.5 s process interleaved with 20 ms ones disturbs their timings.
        reference = [Command("ruff --version, the bare binary", bare, same)]
        if uvx:
            warmup = subprocess.run([uvx, "ruff@0.17.6", "--version"], env=base, capture_output=True)
            if warmup.returncode == 0:
                reference.append(
                    Command("uvx ruff@0.17.6 --version, warm (reference)", [uvx, "ruff@0.17.6", "--version"], same)
                )
                uvx_note = ""
            else:
                uvx_note = "uvx could not fetch ruff (no index reachable)"
        run_group(warm.commands, runs * WARM_ROUNDS_FACTOR)
        bytecode = {install.how: install.has_bytecode() for install in installs}
        run_group(cold, runs)
        run_group(reference, runs)

        # --- script ----------------------------------------------------------------------------
        script = work / "locked" / "summary.py"
        script.parent.mkdir()
        script.write_text(SCRIPT)
        subprocess.run([ce, "-q", "--lock", str(script)], env=base, check=True, capture_output=True)
        subprocess.run([ce, "-q", str(script)], env=base, check=True, capture_output=True)  # records the index
        subprocess.run([ce, "-q", "--locked", str(script)], env=base, check=True, capture_output=True)
        (script_env,) = [p for p in (work / "warm" / "envs").iterdir() if p.name.startswith("script--")]
        direct = [str(script_env / "bin" / "python"), str(script)]
        scripts = [
            Command("summary.py run by the environment's python", direct, same),
            Command("ce summary.py, warm", [ce, str(script)], same),
            Command("ce --locked summary.py, warm", [ce, "--locked", str(script)], same, "= ce summary.py, warm"),
        ]
        locked = [
            Command("summary.py run by the environment's python", direct, same),
            Command(
                "ce summary.py, install from lock, package cache warm", [ce, "-q", str(script)], fresh_home("lock")
            ),
            Command(
                "ce summary.py, install from lock, empty package cache",
                [ce, "-q", str(script)],
                fresh_home("lock-empty", empty_packages=True),
            ),
        ]
        run_group(scripts, runs)
        run_group(locked, runs)

        # --- scale -----------------------------------------------------------------------------
        # Automatic cleanup off: this group compares the lookup alone, and a due cleanup would
        # scan the 1,000 made-up environments in the middle of it.
        one = dict(base, CONDA_EXEC_AUTO_CLEAN="0")
        big = dict(one, CONDA_EXEC_HOME=str(work / "big"))
        fake_environments(work / "big", 1000)
        shutil.copytree(prefix, work / "big" / "envs" / prefix.name, symlinks=True)
        (work / "big" / "envs" / ".locks").mkdir(exist_ok=True)

        def one_env(_round: int) -> dict[str, str]:
            return one

        def big_env(_round: int) -> dict[str, str]:
            return big

        scale = [
            Command("warm hit, 1 cached environment", [ce, "ruff", "--version"], one_env),
            Command("warm hit, 1,001 cached environments", [ce, "ruff", "--version"], big_env, "same as with 1"),
            Command("ce --list, 1,001 environments", [ce, "--list"], big_env, "<= 500 ms"),
            Command("ce --list --json, 1,001 environments", [ce, "--list", "--json"], big_env, "<= 500 ms"),
            Command(
                "ce --clean --all --dry-run, 1,001 environments",
                [ce, "--clean", "--all", "--dry-run"],
                big_env,
                "<= 500 ms",
            ),
        ]
        run_group(scale, runs)

    report = render(warm, cold, scripts, locked, scale, runs, uvx_note, reference, pipx_note, bytecode)
    print(report)
    if args.markdown:
        args.markdown.write_text(report)
    return 0


ENTRY = "import sys; from ce.__main__ import main; sys.exit(main())"


def compare_with_baseline(
    baseline_src: Path, base: dict[str, str], fresh_home: Callable[[str, bool], Callable[[int], dict[str, str]]]
) -> list[Command]:
    """Warm and cold tool runs of this ce and of the one in *baseline_src*, started alike (``python -c``)."""
    commands = []
    for label, src in (("this tree", REPO / "src"), ("baseline", baseline_src)):

        def with_path(prepare: Callable[[int], dict[str, str]], src: Path = src) -> Callable[[int], dict[str, str]]:
            return lambda round_number: dict(prepare(round_number), PYTHONPATH=str(src))

        entry = [sys.executable, "-c", ENTRY]
        commands.append(
            Command(f"ce ruff --version, warm ({label})", [*entry, "ruff", "--version"], with_path(lambda _r: base))
        )
        commands.append(
            Command(
                f"ce ruff --version, cold, package cache warm ({label})",
                [*entry, "-q", "ruff", "--version"],
                with_path(fresh_home(f"compare-{label.replace(' ', '-')}", False)),
            )
        )
    return commands


def render_comparison(commands: list[Command], runs: int, baseline_src: Path) -> str:
    """The side-by-side table of :func:`compare_with_baseline`."""
    lines = [
        f"Side by side with {baseline_src} (median of {runs} interleaved runs, both as `python -c` entry):",
        "",
        "| command | median |",
        "|---|---:|",
    ]
    lines.extend(f"| {command.label} | {command.median_ms:.1f} ms |" for command in commands)
    return "\n".join(lines)


def render(
    warm: WarmGroup,
    cold_group: list[Command],
    scripts: list[Command],
    locked: list[Command],
    scale: list[Command],
    runs: int,
    uvx_note: str,
    reference: list[Command],
    pipx_note: str,
    bytecode: dict[str, bool],
) -> str:
    """The Markdown report; *bytecode* says, per install, whether ce had ``.pyc`` files after its runs."""
    cold = cold_group[1].median_ms
    script_overhead = scripts[1].median_ms - scripts[0].median_ms
    locked_overhead = scripts[2].median_ms - scripts[0].median_ms
    lines = [
        "# Benchmarks",
        "",
        "<!-- written by benchmarks/bench.py -->",
        "",
        f"`.venv/bin/python benchmarks/bench.py --runs {runs} --markdown docs/benchmarks.md` on "
        f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}. Medians of {runs} whole-process runs ({runs * WARM_ROUNDS_FACTOR} in the warm "
        "tool group, whose runs take ~20 ms and whose targets are differences in ms, while this machine's speed "
        "drifts over tens of seconds); each group interleaved round by round; ratios within the group.",
        "",
        "The warm tool rows run ce as installed from its wheel (built from this tree) into fresh virtual "
        "environments by pip, by uv (`uv pip install`, without `--compile-bytecode`) and, when a `pipx` command "
        "is found, by pipx, each beside `python -c pass` of its own environment's python; each install ran once "
        "before the group (a warm hit: the cache was already filled, as after upgrading ce). Automatic "
        "cleanup is at its default, as users have it: every run counts itself (appends one byte to `run-count`), and "
        "one in 50 scans the cache for unused environments (here an almost empty one), which barely moves a "
        "median. Only the scale group turns it off: it compares the lookup alone, and a due cleanup would scan "
        "its 1,000 made-up environments.",
        "",
    ]
    groups = (
        ("Tools, warm", warm.commands),
        ("Tools, cold", cold_group),
        ("Reference: uvx, warm", reference),
        ("Scripts, warm", scripts),
        ("Scripts, installed from a lock", locked),
        ("Scale", scale),
    )
    for title, group in groups:
        baseline = group[0].median_ms
        lines += [f"## {title}", "", f"| command | median ms | vs. {group[0].label} | target |", "|---|---:|---:|---|"]
        lines += [f"| {c.label} | {c.median_ms:.1f} | {c.median_ms / baseline:.2f}x | {c.target} |" for c in group]
        lines.append("")
    lines += [
        "## Against the targets",
        "",
        "- Warm `ce ruff --version` over `python -c pass` of the python that runs it (target: at most 3 ms, "
        "however ce was installed):",
    ]
    for pair in warm.pairs:
        if pair.targeted:
            verdict = "meets the target" if pair.over_ms <= 3 else "**misses the target**"
            over = f"**{pair.over_ms:+.1f} ms**"
        else:
            verdict, over = "for reference", f"{pair.over_ms:+.1f} ms"
        lines.append(
            f"  - {pair.how}: {pair.ce.median_ms:.1f} ms against {pair.baseline.median_ms:.1f} ms: {over}, {verdict}."
        )
    if pipx_note:
        lines.append(f"  - pipx install: not measured: {pipx_note}.")
    floor = warm.floor
    lines.append(
        f"  - A Python process that does nothing but exec the tool costs {floor.over_ms:+.1f} ms over `python -c "
        f"pass` (the dev venv's); the bare binary takes {warm.commands[0].median_ms:.1f} ms."
    )
    dont_write = " under `PYTHONDONTWRITEBYTECODE`" if os.environ.get("PYTHONDONTWRITEBYTECODE") else ""
    lines += [
        f"  - The {how} environment had no `.pyc` file for ce's warm path after its runs{dont_write}: every warm "
        "run there compiled ce from source."
        for how, compiled in bytecode.items()
        if not compiled
    ]
    lines += [
        f"- Cold run with a warm package cache: **{cold:.0f} ms** (target 150 ms); "
        f"{cold_group[2].median_ms:.0f} ms with an empty package cache over loopback HTTP.",
        f"- Install from a lock (python, python-dateutil, six): {locked[1].median_ms:.0f} ms with a warm package "
        f"cache, {locked[2].median_ms:.0f} ms with an empty one.",
        f"- Script warm overhead over the environment's python: **{script_overhead:.1f} ms**; "
        f"with `--locked`: **{locked_overhead:.1f} ms** (target: the same within noise).",
        f"- A warm hit with 1,001 environments: {scale[1].median_ms:.1f} ms, with 1: {scale[0].median_ms:.1f} ms; "
        f"`--list` {scale[2].median_ms:.0f} ms, `--clean --all --dry-run` {scale[4].median_ms:.0f} ms (target 500 ms).",
    ]
    if uvx_note:
        lines.append(f"- uvx reference: {uvx_note}.")
    lines += [
        "",
        "## Where the time goes, and where a target is missed",
        "",
        "- **Warm overhead.** What ce adds to `python -c pass` is almost all imports: three of ce's modules "
        "(`ce`, `ce.fastpath`, `ce.base`), `fcntl` and a builtin SHA-256, and no argparse, json, re, typing, "
        "`__future__`, rattler, asyncio or pluggy (`tests/test_startup.py` holds the list); then about 0.4 ms of "
        "ce's own work (a key, a dozen `stat` calls, one `flock`, one byte appended to the run counter). A fresh "
        "Python spends about 0.3 million instructions (0.1-0.25 ms here) on every module it imports, whatever "
        "it holds, and loading the two extension modules costs about 0.4 ms: when the same code was nine "
        "modules, a warm hit sat 3.6-3.9 ms over Python's start on this machine, about 1.2 ms more than now "
        "(`benchmarks/warm_instructions.py` counts the difference without noise). The tool's own run is part of "
        "the figure, and the difference scales with the machine's speed, which drifts from minute to minute. "
        "ce ships its own launcher (`launcher/ce`), which pip, uv and pipx install as it is, because pip's "
        "console-script launcher imports `re` before ce starts (the reference row); it imports `ce.__main__` only "
        "on a miss. An environment made by `python -m venv` starts slower than one made by uv (setuptools' "
        "`.pth` file imports `_distutils_hack`), which is why each install is compared with its own python. uv "
        "does not byte-compile unless asked (`--compile-bytecode`), and with `PYTHONDONTWRITEBYTECODE` set "
        "Python does not write the `.pyc` files either: ce's first run (a warm hit too) writes them, else every "
        "run of that install would compile ce's warm path from source.",
        "- **Cold run.** Importing py-rattler (with asyncio and ssl, which its async API needs) costs about 70 ms "
        "here, solving and linking about 30 ms, starting Python 13 ms: that is most of the 150 ms budget before "
        "ce's own orchestration (argparse, the cache, writing the environment's metadata) runs.",
        "- The machine is shared and noisy: the same command measured in two groups of one run can differ by 3-5 ms. "
        "Compare ratios within a group.",
    ]
    lines += [
        "",
        "Other figures: `benchmarks/bench_conda.py` (warm runs with a condarc, `--activate`, and the import cost "
        "of the `conda exec` plugin); `benchmarks/warm_instructions.py` (the instructions a warm hit executes over "
        "`python -c pass`, counted by valgrind: the same on every run, whatever the machine's load).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
