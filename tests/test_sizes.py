"""Small modules and thin commands (docs/architecture.md): no module of voicecoach over 350 lines,
no command function (a function the Typer app registers) over 25 lines.

A command's length counts from its `def` to its last line, signature and docstring
included: the options it takes are part of what it does.
"""
from __future__ import annotations

import inspect
from pathlib import Path

from voicecoach.cli import app

PACKAGE = Path(__file__).resolve().parent.parent / "voicecoach"
MAX_MODULE_LINES = 350
MAX_COMMAND_LINES = 25

# Today's offenders, each at most as long as it is now while it is being shrunk.
# These lists must end empty: remove an entry as soon as it fits.
LONG_MODULES: dict[str, int] = {}
LONG_COMMANDS: dict[str, int] = {}


def _commands():
    """(name, function) of every command the app registers, and of its callback (`voicecoach` alone)."""
    found = [(c.name or c.callback.__name__.replace("_", "-"), c.callback) for c in app.registered_commands]
    if app.registered_callback is not None:
        found.append(("(voicecoach)", app.registered_callback.callback))
    return found


def _length(function) -> int:
    lines, _ = inspect.getsourcelines(function)
    return len(lines) - next(i for i, line in enumerate(lines) if line.lstrip().startswith(("def ", "async def ")))


def test_no_module_is_over_350_lines():
    long = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > LONG_MODULES.get(name, MAX_MODULE_LINES):
            long[name] = lines
    assert long == {}


def test_no_command_function_is_over_25_lines():
    commands = _commands()
    assert len(commands) >= 15  # the registry was read (list, show, ..., serve)
    long = {f"{name} ({function.__module__}.{function.__name__})": length for name, function in commands
            if (length := _length(function)) > LONG_COMMANDS.get(name, MAX_COMMAND_LINES)}
    assert long == {}
