"""The rooms: no import cycle anywhere (function-level imports included), the core never imports
the research harness, and ``import qnb`` loads no plotting or widget library of its own."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "qnb"


def _module(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict:
    """qnb module -> the qnb modules it imports, from every import statement in its source
    (module level and inside functions)."""
    modules = {_module(p): p for p in PKG.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        is_pkg = path.name == "__init__.py"
        base = name.split(".") if is_pkg else name.split(".")[:-1]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                root = ".".join(base[:len(base) - node.level + 1]) if node.level else ""
                mod = ".".join(p for p in (root, node.module or "") if p)
                targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
            deps |= {t for t in targets if t in modules and t != name}
        graph[name] = deps
    return graph


def find_cycle(graph: dict):
    """One import cycle as a list of modules, or None (packages' own __init__ edges ignored)."""
    packages = {"qnb", "qnb.research"}
    g = {m: {d for d in deps if d not in packages} for m, deps in graph.items() if m not in packages}
    state = {}

    def visit(m, stack):
        state[m] = "open"
        for d in sorted(g.get(m, ())):
            if state.get(d) == "open":
                return stack[stack.index(d):] + [d]
            if d not in state:
                found = visit(d, stack + [d])
                if found:
                    return found
        state[m] = "done"
        return None

    for m in sorted(g):
        if m not in state:
            found = visit(m, [m])
            if found:
                return found
    return None


def test_no_import_cycle_anywhere_function_level_imports_included():
    assert find_cycle(import_graph()) is None


def test_the_cycle_check_finds_a_planted_cycle():
    graph = import_graph()
    graph["qnb.latency"] = graph["qnb.latency"] | {"qnb.trainer"}  # a lower layer importing an upper one
    assert find_cycle(graph) is not None


def test_the_core_never_imports_the_research_harness():
    core = {m: deps for m, deps in import_graph().items() if not m.startswith("qnb.research")}
    offenders = {m: sorted(d for d in deps if d.startswith("qnb.research")) for m, deps in core.items()}
    assert not {m: d for m, d in offenders.items() if d}


def test_import_qnb_loads_no_widgets_and_qnb_itself_no_matplotlib():
    """ipywidgets is never loaded; matplotlib is loaded by PennyLane's own import (its drawer), so
    qnb's import may add no matplotlib module beyond what ``import pennylane`` loads."""
    code = ("import sys; import pennylane; before = {m for m in sys.modules if m.startswith('matplotlib')}; "
            "import qnb; after = {m for m in sys.modules if m.startswith('matplotlib')}; "
            "print(sorted(after - before), 'ipywidgets' in sys.modules, 'qnb.research' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[] False False"


@pytest.mark.parametrize("module", ["qnb.trainer", "qnb.optimizer", "qnb.estimators", "qnb.config"])
def test_a_module_stays_one_room(module):
    """No module grows back into several concepts: the longest is kept under 500 lines."""
    path = PKG / (module.split(".", 1)[1].replace(".", "/") + ".py")
    assert len(path.read_text().splitlines()) < 500


def test_every_module_compiles_without_warnings():
    """A docstring with TeX in a non-raw string turns \\t into a tab and \\p into a warning."""
    import warnings
    for path in PKG.rglob("*.py"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            compile(path.read_text(), str(path), "exec")
