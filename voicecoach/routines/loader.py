"""Loading routines: by built-in id, user routine name or path, built by the Validator with includes spliced in.

Every error points at its file:line:col (see document.py for the located YAML).
"""
from __future__ import annotations

from pathlib import Path

from . import document
from .model import Routine
from .names import find
from .validator import Validator


def load(ref: str | Path) -> Routine:
    """Load a routine by built-in id, user routine name or path, with includes spliced in."""
    return load_file(find(ref))


def load_file(path: Path, _stack: tuple[str, ...] = ()) -> Routine:
    root = document.read(path)
    return Validator(path, _stack).routine(root)


def load_text(text: str, source: str = "<routine>", folder: Path | None = None) -> Routine:
    """Load a routine from text (tests, stdin); includes resolve relative to `folder`."""
    root = document.parse(text.encode("utf-8"), source)
    fake = (folder or Path.cwd()) / source
    return Validator(fake, (), source_name=source).routine(root)
