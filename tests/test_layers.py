"""The layers as docs/architecture.md draws them, checked on the import statements.

``mm/`` is the simulated kernel: numpy, numba and itself, and it reads no files (costs arrive
as values). ``workload/``, ``strategies/`` and ``ingest/`` build on ``mm/`` (and the two
top-level helpers ``paths`` and ``params``); ``report/`` draws trial rows and memory-map
results, never the machine state; nothing imports ``cli``; and module-level imports form no
cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import allockit

PKG = Path(allockit.__file__).parent
MODULES = sorted(p for p in PKG.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    """The allockit modules ``path`` imports (relative imports resolved; ``from x import y``
    counts as x, and as x.y where that is a module)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    here = module_name(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]
    out = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("allockit"):
                out.add(mod)
                for a in node.names:
                    if (PKG.parent / (mod + "." + a.name).replace(".", "/")).with_suffix(
                            ".py").exists():
                        out.add(f"{mod}.{a.name}")
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("allockit")}
    return out


def layer(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else "allockit"


ALLOWED = {
    "mm": {"mm"},
    "workload": {"mm", "workload", "ingest", "params", "paths"},
    "strategies": {"mm", "strategies"},
    "ingest": {"mm", "ingest", "params", "paths"},
}


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(name):
    bad = []
    for path in MODULES:
        mod = module_name(path)
        if layer(mod) != name:
            continue
        for dep in imports(path):
            if layer(dep) not in ALLOWED[name]:
                bad.append(f"{mod} imports {dep}")
    assert not bad, bad


def test_mm_reads_no_files():
    bad = []
    for path in (PKG / "mm").glob("*.py"):
        if path.name == "jit.py":  # hashes mm's own sources to key numba's cache: code, not data
            continue
        text = path.read_text()
        for word in ("open(", "read_text(", "read_bytes(", "import yaml", "np.load("):
            if word in text:
                bad.append(f"{path.name}: {word}")
    assert not bad, bad


def test_report_does_not_read_machine_state():
    """Figures and tables read trial rows and memory-map results."""
    bad = [f"{module_name(p)} imports {d}" for p in (PKG / "report").glob("*.py")
           for d in imports(p) if d in ("allockit.mm.state", "allockit.mm.boot",
                                        "allockit.experiment.trial")]
    assert not bad, bad


def test_nothing_imports_the_cli():
    bad = [module_name(p) for p in MODULES
           if p.name != "cli.py" and any(d.endswith(".cli") and d != "allockit.lab.cli"
                                         for d in imports(p))]
    assert not bad, bad


def test_no_import_cycles():
    graph = {module_name(p): {d for d in imports(p, top_level_only=True)
                              if d != module_name(p)} for p in MODULES}
    graph = {m: {d for d in deps if d in graph} for m, deps in graph.items()}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(m: str, stack: list[str]) -> bool:
        state[m] = 1
        for d in sorted(graph[m]):
            # a package's __init__ importing its own submodules is not a cycle of layers
            if m == d.rsplit(".", 1)[0] and "." in d:
                continue
            if state.get(d) == 1 and not d.startswith(m + "."):
                cycle.extend([*stack, m, d])
                return True
            if state.get(d) is None and visit(d, [*stack, m]):
                return True
        state[m] = 2
        return False

    for m in sorted(graph):
        if state.get(m) is None and visit(m, []):
            break
    assert not cycle, " -> ".join(cycle)


def test_the_checks_see_imports():
    """The import reader finds what a module imports (else every check above passes idly)."""
    deps = imports(PKG / "experiment" / "trial.py")
    assert "allockit.mm.introspect" in deps and "allockit.strategies" in deps
    assert layer("allockit.mm.buddy") == "mm"
