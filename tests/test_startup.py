"""The warm path stays cheap: a cache hit imports nothing heavy and prints nothing of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import FAKE_ARGS, make_fake_env

#: Modules a cache hit must never import (each costs milliseconds or more).
FORBIDDEN_ON_WARM_PATH = (
    "rattler",
    "asyncio",
    "pluggy",
    "importlib.metadata",
    "argparse",
    "json",
    "re",
    "typing",
    "dataclasses",
    "filelock",
    "yaml",
    "tomlkit",
    "packaging",
    "hashlib",
    "tempfile",
    "shutil",
    "subprocess",
    "ce.cli",
    "ce.envs.store",
    "ce.plugins",
    "__future__",  # ~0.15 ms: the warm path's modules go without ``from __future__ import annotations``
)

ENTRY = "import sys; from ce.__main__ import main; sys.exit(main())"
#: The ``ce`` command as installed: it imports ``ce.__main__`` only when the warm path misses.
LAUNCHER = str(Path(__file__).resolve().parents[1] / "launcher" / "ce")


def _imported_modules(stderr: str) -> set[str]:
    modules = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip())
    return modules


#: Every ce module a warm tool hit (through the tool index) imports: no configuration, specs or platform.
TOOL_HIT_MODULES = {"ce", "ce.fastpath", "ce.base"}


def test_warm_run_imports_nothing_heavy(ce_home: Path) -> None:
    make_fake_env(ce_home, "faketool", 'echo "ran $*"')
    first = subprocess.run(
        [sys.executable, "-c", ENTRY, *FAKE_ARGS, "faketool"], capture_output=True, text=True, env=dict(os.environ)
    )
    assert first.returncode == 0, first.stderr  # the full path: it records the tool index entry
    for entry in ([LAUNCHER], ["-c", ENTRY]):  # the ce command, and python -m ce (which also loads __main__)
        result = subprocess.run(
            [sys.executable, "-X", "importtime", *entry, *FAKE_ARGS, "faketool", "a", "b"],
            capture_output=True,
            text=True,
            env=dict(os.environ),
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == "ran a b\n"
        imported = _imported_modules(result.stderr)
        assert "ce.fastpath" in imported
        leaked = sorted(
            name for name in imported if name.split(".")[0] in FORBIDDEN_ON_WARM_PATH or name in FORBIDDEN_ON_WARM_PATH
        )
        assert leaked == []
        expected = TOOL_HIT_MODULES if entry == [LAUNCHER] else TOOL_HIT_MODULES | {"ce.__main__"}
        assert {name for name in imported if name == "ce" or name.startswith("ce.")} == expected


def test_warm_run_prints_nothing_of_its_own(ce_home: Path) -> None:
    make_fake_env(ce_home, "faketool", "echo out; echo err >&2")
    result = subprocess.run(
        [sys.executable, "-c", ENTRY, *FAKE_ARGS, "faketool"], capture_output=True, text=True, env=dict(os.environ)
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "out\n", "err\n")


def test_warm_run_touches_history_at_most_hourly(ce_home: Path) -> None:
    prefix = make_fake_env(ce_home, "faketool", "true")
    history = prefix / "conda-meta" / "history"
    recent = history.stat().st_mtime - 600
    os.utime(history, (recent, recent))
    subprocess.run([sys.executable, "-c", ENTRY, *FAKE_ARGS, "faketool"], check=True, env=dict(os.environ))
    assert history.stat().st_mtime == recent  # touched less than an hour ago: left alone
    old = recent - 7200
    os.utime(history, (old, old))
    subprocess.run([sys.executable, "-c", ENTRY, *FAKE_ARGS, "faketool"], check=True, env=dict(os.environ))
    assert history.stat().st_mtime > recent


def test_warm_run_puts_the_environment_first_on_path(ce_home: Path) -> None:
    prefix = make_fake_env(ce_home, "faketool", 'echo "$PATH"')
    result = subprocess.run(
        [sys.executable, "-c", ENTRY, *FAKE_ARGS, "faketool"], capture_output=True, text=True, env=dict(os.environ)
    )
    assert result.stdout.split(os.pathsep)[0] == str(prefix / "bin")


def test_a_warm_hit_writes_ce_s_missing_bytecode_once(ce_home: Path, tmp_path: Path) -> None:
    """An install without bytecode (uv without ``--compile-bytecode``) under PYTHONDONTWRITEBYTECODE
    would compile ce from source on every start; the first start writes the bytecode, even a warm hit."""
    import shutil

    import ce

    make_fake_env(ce_home, "faketool", 'echo "ran $*"')
    subprocess.run([sys.executable, "-c", ENTRY, *FAKE_ARGS, "faketool"], check=True, env=dict(os.environ))
    installed = tmp_path / "site"
    shutil.copytree(Path(ce.__file__).parent, installed / "ce", ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(installed))
    hit = [sys.executable, "-X", "importtime", "-c", ENTRY, *FAKE_ARGS, "faketool", "x"]
    first = subprocess.run(hit, capture_output=True, text=True, env=env)
    assert first.stdout == "ran x\n", first.stderr
    assert "ce.cli" not in _imported_modules(first.stderr)  # still a warm hit
    assert (installed / "ce" / "__pycache__").is_dir()
    pycs = sorted(path.name.split(".")[0] for path in (installed / "ce" / "__pycache__").iterdir())
    assert {"__init__", "__main__", "fastpath", "base"} <= set(pycs)
    second = subprocess.run(hit, capture_output=True, text=True, env=env)
    assert second.stdout == "ran x\n", second.stderr
    imported = _imported_modules(second.stderr)
    assert "compileall" not in imported and "ce.envs.bytecode" not in imported  # read, not compiled again


# --- static check: what the warm path's modules import at module level ---------------------------

import ast  # noqa: E402
import importlib.util  # noqa: E402

#: Standard-library modules the warm path may import at module level (all cheap or builtin).
#: (A tool hit also goes without `__future__`: see FORBIDDEN_ON_WARM_PATH.)
WARM_PATH_STDLIB = {"__future__", "os", "sys", "stat", "time", "errno", "fcntl", "_sha2", "_sha256"}
WARM_PATH_ROOTS = ("ce.__main__", "ce.fastpath", "ce.script.index")


def _module_level_imports(module: str) -> set[str]:
    """Modules *module* imports when it is imported: not inside functions, not under TYPE_CHECKING,
    not in ``except ImportError`` fallbacks."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text())
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names if node.module == "ce")
            elif isinstance(node, ast.If):
                test = node.test
                if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
                    visit(node.orelse)
                    continue
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)  # the except branches are fallbacks for other interpreters
            elif isinstance(node, (ast.With,)):
                visit(node.body)

    visit(tree.body)
    return found


def test_warm_path_modules_import_only_cheap_modules_at_module_level() -> None:
    seen: set[str] = set()
    pending = list(WARM_PATH_ROOTS)
    outside: dict[str, set[str]] = {}
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        if "." in module:  # importing a submodule runs its package's __init__ first
            pending.append(module.rsplit(".", 1)[0])
        for imported in _module_level_imports(module):
            if imported == "ce" or imported.startswith("ce."):
                if importlib.util.find_spec(imported) is not None:
                    pending.append(imported)
            elif imported.split(".")[0] not in WARM_PATH_STDLIB:
                outside.setdefault(module, set()).add(imported)
    assert outside == {}, f"heavy module-level imports on the warm path: {outside}"
    assert "ce.cli" not in seen and "ce.envs.store" not in seen


def test_a_tool_hit_imports_only_its_own_modules_at_module_level() -> None:
    """What ``ce.fastpath`` imports when imported is exactly the tool-hit set (static)."""
    seen: set[str] = set()
    pending = ["ce.fastpath"]
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        if "." in module:
            pending.append(module.rsplit(".", 1)[0])
        pending.extend(
            name
            for name in _module_level_imports(module)
            if (name == "ce" or name.startswith("ce.")) and importlib.util.find_spec(name) is not None
        )
    assert seen == TOOL_HIT_MODULES


def test_launcher_run_again_as_a_spawn_child_does_not_start_ce() -> None:
    """conda >= 26.7 extracts packages in a "spawn" process pool, whose children run the main
    script again as ``__mp_main__``: the ``ce`` launcher must start ce only as ``__main__``."""
    code = (
        "import runpy, ce.__main__ as entry, ce.fastpath as fastpath\n"
        "fastpath.start = lambda argv: None\n"
        "entry.main_after_warm = lambda args, error: print('ce ran') or 0\n"
        f"runpy.run_path({LAUNCHER!r}, run_name='__mp_main__')\n"
        "print('imported')\n"
        f"runpy.run_path({LAUNCHER!r}, run_name='__main__')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (0, "imported\nce ran\n"), result.stderr


def test_launcher_takes_its_own_folder_off_sys_path_and_nothing_else(tmp_path: Path) -> None:
    """Python puts a script's folder first on sys.path (not under -I or -P): the launcher drops exactly that."""
    import shutil

    folder = tmp_path / "bin"
    folder.mkdir()
    launcher = folder / "ce"
    shutil.copy(LAUNCHER, launcher)
    probe = "import sys\nprint(repr(sys.path))\nraise SystemExit(0)\n"
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "ce").mkdir()
    (tmp_path / "site" / "ce" / "__init__.py").write_text("")
    (tmp_path / "site" / "ce" / "fastpath.py").write_text(f"def start(argv):\n    exec({probe!r})\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))
    env.pop("PYTHONSAFEPATH", None)
    plain = subprocess.run([sys.executable, str(launcher)], capture_output=True, text=True, env=env, timeout=60)
    assert plain.returncode == 0, plain.stderr
    assert str(folder) not in plain.stdout and str(tmp_path / "site") in plain.stdout
    if sys.version_info >= (3, 11):
        safe = subprocess.run(
            [sys.executable, "-P", str(launcher)], capture_output=True, text=True, env=env, timeout=60
        )
        assert safe.returncode == 0, safe.stderr
        full = subprocess.run(
            [sys.executable, "-P", "-c", "import sys; print(repr(sys.path))"], capture_output=True, text=True, env=env
        )
        assert safe.stdout == full.stdout  # nothing of Python's own path was dropped
