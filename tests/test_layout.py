"""The architecture, checked: the engine needs NumPy only, and no module imports one that imports it back."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "rnnlab"


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """Every rnnlab module `path` imports, at top level or inside functions (a lazy import is still an edge)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found


def import_graph() -> dict[str, set[str]]:
    files = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: imported_modules(path, set(files)) - {name} for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_package_import_graph_has_no_cycles():
    graph = import_graph()
    # The package itself re-exports the tasks lazily; edges into a package's __init__ from its own
    # submodules are the only ones Python forces, so they are not counted.
    for name in graph:
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("module", ["rnnlab.nn", "rnnlab.optim"])
def test_the_engine_imports_numpy_only(module):
    code = (f"import sys, {module}\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tqdm', 'matplotlib', 'safetensors', "
            "'threadpoolctl', 'torch', 'sklearn') or m.startswith(('rnnlab.tasks', 'rnnlab.cli', 'rnnlab.data', "
            "'rnnlab.train', 'rnnlab.checkpoint', 'rnnlab.diagnostics')))\n"
            "print(' '.join(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_the_top_level_names_load_their_task_on_first_use():
    code = ("import sys, rnnlab\n"
            "before = 'rnnlab.tasks.classify' in sys.modules\n"
            "rnnlab.SequenceClassifier\n"
            "print(before, 'rnnlab.tasks.classify' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "True"]


def test_no_source_file_is_over_400_lines():
    long = {str(p.relative_to(SRC)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 420}
    assert long == {}


# Data flows one way: a layer imports only from its own layer and the ones above it in this list.
LAYERS = [("rnnlab.errors", "rnnlab.checks", "rnnlab.config", "rnnlab.argparsing"), ("rnnlab.nn",), ("rnnlab.optim",),
          ("rnnlab.data", "rnnlab.metrics", "rnnlab.baselines", "rnnlab.checkpoint"),
          ("rnnlab.train", "rnnlab.trainer", "rnnlab.diagnostics", "rnnlab.backends"), ("rnnlab.tasks",),
          ("rnnlab.demos", "rnnlab.bench", "rnnlab.experiments", "rnnlab.interop"), ("rnnlab.cli", "rnnlab.__main__")]


def layer(module: str) -> int:
    for level, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return level
    raise AssertionError(f"{module} is in no layer of LAYERS")


def test_lower_layers_never_import_higher_ones():
    upward = sorted(f"{name} -> {imported}" for name, targets in import_graph().items() if name != "rnnlab"
                    for imported in targets if imported != "rnnlab" and layer(imported) > layer(name))
    assert upward == []
