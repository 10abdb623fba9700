"""The layers of docs/architecture.md hold: each module imports only from the layers below it,
and no modules import each other in a circle (within a layer too).

Every import counts, also those inside functions (they run sooner or later),
except the registrations in cli/__init__.py. The pure core must also stay free
of I/O libraries at import time, which only a fresh interpreter can show.
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "voicecoach"

# lower number = lower layer; a module may import its own layer's modules and any lower one
LAYERS = {
    1: ["cli"],
    2: ["practice", "serve"],
    3: ["player", "listen", "sinks", "mpris", "export", "encoding", "chapters", "subtitles"],
    4: ["session", "growing"],
    5: ["routines", "speech", "sounds", "background", "config", "settings", "paths", "files", "clib"],
    6: ["timeline", "clock", "interval", "mixer", "bed", "level", "meter", "duration", "errors", "text", "wording",
        "routines.model", "routines.safety"],
}
RANK = {name: 7 - n for n, names in LAYERS.items() for name in names}  # 6 = top (cli) ... 1 = pure core
PURE = ["timeline", "clock", "interval", "mixer", "bed", "level", "meter", "duration", "errors", "text", "wording",
        "subtitles", "chapters", "routines.model"]
IO_LIBRARIES = ["soundfile", "typer", "rich", "miniaudio", "simpleaudio", "pyttsx3", "dbus_fast", "soxr", "scipy",
                "voicecoach.sinks", "voicecoach.speech"]


def _layer(dotted: str) -> int | None:
    """The rank of voicecoach.<dotted>: the longest listed prefix decides."""
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in RANK:
            return RANK[".".join(parts[:n])]
    return None


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        yield ".".join(parts), path, rel.name == "__init__"


def _imports(path: Path, dotted: str, is_package: bool):
    """(line, imported voicecoach module) for every import in the file."""
    package = dotted.split(".") if is_package else dotted.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "voicecoach":
                target = node.module.split(".")[1:]
            else:
                continue
            if node.module is None or not node.level and node.module == "voicecoach":
                for alias in node.names:
                    yield node.lineno, ".".join(target + [alias.name])
            else:
                yield node.lineno, ".".join(target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("voicecoach."):
                    yield node.lineno, alias.name.split(".", 1)[1]


def test_every_module_imports_only_its_own_layer_and_below():
    wrong = []
    for dotted, path, is_package in _modules():
        mine = _layer(dotted)
        if mine is None or dotted in ("", "__main__"):
            continue  # the package's own lazy API and the entry point sit above everything
        for line, target in _imports(path, dotted, is_package):
            theirs = _layer(target)
            if theirs is not None and theirs > mine:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {dotted} imports {target}")
    assert wrong == []


def test_nothing_imports_the_cli():
    users = [f"{path.relative_to(PACKAGE.parent)}:{line}" for dotted, path, pkg in _modules()
             if not dotted.startswith("cli") and dotted != "__main__"
             for line, target in _imports(path, dotted, pkg) if target.split(".")[0] == "cli"]
    assert users == []


def test_no_command_module_imports_another():
    commands = {"cli.routines", "cli.playback", "cli.practice", "cli.cache"}
    crossing = [f"{dotted} imports {target}" for dotted, path, pkg in _modules() if dotted in commands
                for _, target in _imports(path, dotted, pkg) if target in commands | {"cli"}]
    assert crossing == []


@pytest.mark.parametrize("module", PURE)
def test_the_pure_core_loads_no_io_library(module):
    code = (f"import sys, voicecoach.{module}; "
            f"print(' '.join(m for m in {IO_LIBRARIES!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_ruff_finds_nothing():
    ruff = Path(sys.executable).with_name("ruff")
    root = PACKAGE.parent
    result = subprocess.run([str(ruff), "check", "--quiet", str(PACKAGE), str(root / "tests"), str(root / "bench")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _module_of(target: str, known: set[str]) -> str | None:
    """The voicecoach module an import names: the longest prefix that is a module (a name imported from it drops)."""
    parts = target.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in known:
            return ".".join(parts[:n])
    return None


def _circles() -> list[set[str]]:
    """The strongly connected components of more than one module in the import graph (Tarjan)."""
    modules = list(_modules())
    known = {dotted for dotted, _, _ in modules}
    graph: dict[str, set[str]] = {}
    for dotted, path, is_package in modules:
        if dotted in ("", "__main__"):
            continue  # the package's lazy API and the entry point: nothing imports them back
        graph[dotted] = {m for _, t in _imports(path, dotted, is_package)
                         if (m := _module_of(t, known)) not in (None, "", dotted)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                top = stack.pop()
                group.add(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles():
    assert [sorted(c) for c in _circles()] == []


# Library errors say what is wrong in the library's words; the CLI adds the option to use
# (cli/output.py does it for a SettingError and a NotReplaced).
_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]+")


def _error_texts(tree: ast.AST):
    """(line, text) of every string in a raise, or in a call of an exception class (...Error, ...Problem)."""
    for node in ast.walk(tree):
        called = isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id.endswith(("Error", "Problem", "Missing"))
        if isinstance(node, ast.Raise) or called:
            for inner in ast.walk(node):
                if isinstance(inner, ast.Constant) and isinstance(inner.value, str):
                    yield inner.lineno, inner.value


def test_library_errors_name_no_command_line_option():
    named = sorted({f"{path.relative_to(PACKAGE).as_posix()}:{line}: {text!r}"
                    for dotted, path, _ in _modules() if not dotted.startswith("cli")
                    for line, text in _error_texts(ast.parse(path.read_text(encoding="utf-8")))
                    if _FLAG.search(text)})
    assert named == []


def _imported(tree: ast.AST):
    """(line, module) of every import in a parsed file, lazy ones included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)


def test_test_files_share_helpers_through_support_only():
    """A helper two test files need lives in tests/support/, never in one of them for the other to import."""
    borrowed = sorted(f"{path.name}:{line}: {module}" for path in Path(__file__).parent.glob("*.py")
                      for line, module in _imported(ast.parse(path.read_text(encoding="utf-8")))
                      if module.split(".")[-1].startswith("test_"))
    assert borrowed == []
