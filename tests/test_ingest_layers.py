"""How the ingest modules depend on each other, and what the statistics use of the parser."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import allockit

PKG = Path(allockit.__file__).parent


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import statement of a source file, relative ones resolved."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                base = ".".join(path.relative_to(PKG.parent).with_suffix("").parts[: -node.level])
                mod = f"{base}.{mod}" if mod else base
            out.append((mod, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
    return out


def test_rebuild_does_not_import_snapshot():
    """snapshot's command runs the rebuild; rebuild takes its Snapshot type from procfs."""
    mods = [m for m, _ in _imports(PKG / "ingest" / "rebuild.py")]
    assert "allockit.ingest.snapshot" not in mods
    assert "allockit.ingest.procfs" in mods


def test_loading_a_snapshot_does_not_load_the_simulator():
    code = (
        "import sys, allockit.ingest.snapshot; "
        "print(sorted(m for m in sys.modules if m.startswith(('allockit.ingest.rebuild', "
        "'allockit.mm', 'numba'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tracestats_uses_only_public_parser_names():
    src = PKG / "workload" / "tracestats.py"
    for mod, names in _imports(src):
        if mod.startswith("allockit.ingest"):
            assert not [n for n in names if n.startswith("_")], (mod, names)
    # no private attribute of a parser object either (spec._x, parser._x)
    tree = ast.parse(src.read_text())
    private = {
        n.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute)
        and n.attr.startswith("_")
        and not n.attr.startswith("__")
        and not (isinstance(n.value, ast.Name) and n.value.id == "self")
    }
    assert private == set()
