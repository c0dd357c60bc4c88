"""The module layout: no import circles, layers as CONTRIBUTING.md maps them, one home for built-in names."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "ce"


def _module_name(path: Path) -> str:
    parts = ["ce", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1]) if parts[-1] == "__init__" else ".".join(parts)


MODULES = {_module_name(path): path for path in SRC.rglob("*.py")}


def _imports(module: str) -> set[str]:
    """Every ce module *module* imports anywhere: module level, functions, TYPE_CHECKING blocks."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from ce.script import index`` imports the submodule ce.script.index
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in MODULES and name != module)
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in GRAPH[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    return found


def test_no_import_circles() -> None:
    assert _cycles() == []


def _layers() -> dict[str, int]:
    """Module -> layer number, from the layer table in CONTRIBUTING.md."""
    text = (REPO / "CONTRIBUTING.md").read_text()
    table = text.split("## Layout: the layers", 1)[1].split("\n## ", 1)[0]
    layers: dict[str, int] = {}
    for line in table.splitlines():
        match = re.match(r"^\| (\d+) [^|]*\| ([^|]*) \|", line)
        if match is None:
            continue
        for entry in re.findall(r"`([^`]+)`", match.group(2)):
            name = "ce" if entry == "__init__" else "ce." + entry.rstrip("/").replace("/", ".")
            layers[name] = int(match.group(1))
    return layers


def _layer_of(module: str, layers: dict[str, int]) -> int:
    name = module
    while name not in layers:
        assert "." in name, f"{module} is in no layer of CONTRIBUTING.md's table"
        name = name.rsplit(".", 1)[0]
    return layers[name]


def test_contributing_maps_every_module_to_a_layer() -> None:
    layers = _layers()
    assert len(set(layers.values())) >= 6
    for module in MODULES:
        _layer_of(module, layers)
    for name in layers:
        assert name in MODULES, f"CONTRIBUTING.md names {name}, which does not exist"


def test_every_import_goes_to_the_same_layer_or_below() -> None:
    layers = _layers()
    upward = sorted(
        f"{module} (layer {_layer_of(module, layers)}) imports {imported} (layer {_layer_of(imported, layers)})"
        for module, imported_modules in GRAPH.items()
        for imported in imported_modules
        if _layer_of(imported, layers) > _layer_of(module, layers)
    )
    assert upward == []


# --- one home for the built-in backend names and the sidecar names ------------------------------

BUILTIN_TABLE = SRC / "backends" / "builtin.py"
SIDECAR_FRAGMENTS = (".conda-exec.lock", ".conda-lock.yml", ".explicit.txt")
#: String constants equal to a built-in backend's name that mean something else, and what.
OTHER_MEANINGS = {
    ("__main__.py", "rattler"): "the py-rattler module in sys.modules",
    ("conda_plugin.py", "rattler"): "the py-rattler module in sys.modules",
    ("base.py", "rattler"): "rattler's cache directory name",
    ("conda_owner.py", "conda"): "the entry-point group conda loads plugins from",
    ("backends/activate_runner.py", "conda"): "the etc/conda directory",
    ("config/condarc.py", "conda"): "the conda executable (CONDA_EXE), to find the base install",
    ("lockfiles/conda_lock.py", "conda"): "conda-lock's 'manager: conda'",
    ("lockfiles/rattler_v6.py", "conda"): "the v6 package key 'conda:'",
    ("script/edit.py", "conda"): "the [tool.conda] table",
    ("script/metadata.py", "conda"): "the [tool.conda] table",
    ("script/request.py", "conda"): "the script key's 'conda' part",
    ("cli.py", "path"): "the 'path' field of --list --json",
    ("fileio.py", "path"): "an attribute name",
}


def _string_constants(path: Path) -> set[str]:
    return {
        node.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_builtin_backend_and_sidecar_names_live_in_one_file() -> None:
    from ce.backends.builtin import BUILTIN_BACKENDS

    names = {backend.name for backend in BUILTIN_BACKENDS}
    elsewhere = []
    for path in sorted(SRC.rglob("*.py")):
        if path == BUILTIN_TABLE:
            continue
        relative = str(path.relative_to(SRC))
        for constant in _string_constants(path):
            if constant in names and (relative, constant) not in OTHER_MEANINGS:
                elsewhere.append(f"{relative}: {constant!r}")
            if any(fragment in constant for fragment in SIDECAR_FRAGMENTS):
                elsewhere.append(f"{relative}: {constant!r}")
    assert elsewhere == []


def test_the_table_holds_every_sidecar_pattern() -> None:
    from ce.backends.builtin import BUILTIN_BACKENDS

    patterns = [pattern for backend in BUILTIN_BACKENDS for pattern in backend.sidecars]
    assert all(any(fragment in pattern for pattern in patterns) for fragment in SIDECAR_FRAGMENTS)
