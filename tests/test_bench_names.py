"""Every name a bench script imports from voicecoach exists: the benches are run by hand, rarely, and a
module split (routines/loader.py into names, checker, validator, loader) once left two of them failing at
their first line of work. Their imports sit inside functions, so importing the script finds nothing."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def imported_names(path: Path) -> list[tuple[str, str, int]]:
    """(module, name, line) for every `from voicecoach... import name` in `path`, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "voicecoach":
            found += [(node.module, alias.name, node.lineno) for alias in node.names]
    return found


@pytest.mark.parametrize("script", sorted(BENCH.glob("*.py")), ids=lambda p: p.name)
def test_what_a_bench_imports_from_voicecoach_exists(script):
    missing = []
    for module, name, line in imported_names(script):
        owner = importlib.import_module(module)
        if not hasattr(owner, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{script.name}:{line}: {module} has no {name}")
    assert not missing, "\n".join(missing)
