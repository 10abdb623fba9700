"""Routine names: the built-in ids, the user's routine folder, and the file a ROUTINE argument names."""
from __future__ import annotations

import difflib
import os
from importlib import resources
from pathlib import Path

from ..errors import InputError
from ..files import kind
from ..text import quote


def library_dir() -> Path:
    return Path(str(resources.files("voicecoach.routines.library")))


def builtin_ids() -> list[str]:
    return sorted(p.stem for p in library_dir().glob("*.yaml") if p.stem != "schedule")


def user_dir() -> Path:
    """The user's routine folder ($VOICECOACH_ROUTINES, else the platform config folder)."""
    from ..paths import routines_dir

    return routines_dir()


def user_routines() -> dict[str, Path]:
    """The user's routines by id; NAME.yaml wins over NAME.yml, as in find()."""
    folder = user_dir()
    found: dict[str, Path] = {}
    if folder.is_dir():
        for suffix in (".yml", ".yaml"):  # the later suffix wins
            found.update((p.stem, p) for p in folder.glob(f"*{suffix}") if p.is_file())
    return dict(sorted(found.items()))


def routine_ids() -> dict[str, Path]:
    """Every routine id a ROUTINE argument takes, and its file: a user routine replaces a built-in of its name."""
    ids = {rid: library_dir() / f"{rid}.yaml" for rid in builtin_ids()}
    ids.update(user_routines())
    return dict(sorted(ids.items()))


def near_misses(text: str, ids: list[str]) -> list[str]:
    """The ids a mistyped ROUTINE probably meant: those it begins, then the closest spellings."""
    low = text.lower()
    starts = [i for i in ids if i.lower().startswith(low)] if low else []
    close = difflib.get_close_matches(low, ids, n=3, cutoff=0.6)
    return list(dict.fromkeys(starts + close))[:3]


def find(ref: str | Path) -> Path:
    """The file a ROUTINE argument names: a path, a routine in the user's folder, or a built-in id.

    A user routine with a built-in's name replaces that built-in everywhere (list marks it).
    """
    text = str(ref)
    path = Path(text).expanduser()
    if path.suffix in (".yaml", ".yml") or os.sep in text or "/" in text:
        return path
    known = routine_ids()
    if text in known:
        return known[text]
    if kind(path) == "file":
        return path
    hint = near_misses(text, list(known))
    near = f" (did you mean {' or '.join(repr(h) for h in hint)}?)" if hint else ""
    choices = ", ".join(known)
    raise InputError(f"no routine {quote(text)}{near}: give a file path, a routine in {user_dir()}, "
                     f"or one of: {choices}")
