"""A commented starter routine for authors, written into their routine folder with its JSON Schema."""
from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import ExportError, InputError, NotReplaced
from ..files import kind, reason, write_text
from .names import builtin_ids, user_dir
from .schema import schema

STARTER = """\
# yaml-language-server: $schema={schema}
# A voicecoach routine. Check it with:  voicecoach validate {path}
# Play it with:  voicecoach play {name}     Format: voicecoach's docs/routine-format.md
title: {title}
description: What this routine is for.      # shown, not spoken
intro: Find a quiet spot and lie down.      # spoken first
outro: Well done. Get up slowly.            # spoken last
safety: true          # speak the short safety reminder after the intro
countdown: 3          # ticks in the last 3 seconds of every hold
steps:
  - name: Deep belly breathing
    duration: 1m                # the timed hold: 30, 90s, 1m30s, 1:30 ...
    say: Hands on your lower belly. Breathe slowly.
    prep: 3s                    # silence to get into position before the start chime
    breathe: {{in: 4s, out: 6s}}
  - name: Tennis ball release
    sides: [right, left]        # one step per side; {{side}} is filled in
    duration: 60s
    prep: 8s
    say: Place the ball just inside your {{side}} hip bone.
    halfway: Halfway. Keep breathing.
    cues:
      - {{at: 20s, say: Small slow circles.}}
      - {{at: -10s, say: Ease off if it turns sharp.}}
  # - include: kd4              # splice in another routine by id or relative path
"""


def write_starter(name: str, force: bool = False, folder: Path | None = None) -> Path:
    """Write NAME.yaml (and voicecoach.schema.json beside it) into the routine folder; return its path.

    InputError for a name that is not letters, digits, '-' or '_'; NotReplaced for an existing routine
    without `force`; ExportError when the folder or the files cannot be written.
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
        raise InputError(f"'{name}' is not a routine name; expected letters, digits, '-' or '_'")
    if name in builtin_ids():  # it would replace the built-in everywhere, which `new` is not for
        raise InputError(f"'{name}' is the name of a built-in routine; choose another name, e.g. 'my-{name}'")
    folder = folder or user_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a read-only config folder: the same error as a file that cannot be written
        raise ExportError(f"cannot create the routine folder {folder}: {reason(err)}") from None
    path = folder / f"{name}.yaml"
    existing = next((p for p in (path, folder / f"{name}.yml") if kind(p) is not None), None)
    if existing and not force:
        raise NotReplaced(existing)
    schema_path = folder / "voicecoach.schema.json"
    write_text(schema_path, json.dumps(schema(), indent=2))
    title = name.replace("-", " ").replace("_", " ").capitalize()
    write_text(path, STARTER.format(schema=schema_path.name, path=path, name=name, title=title))
    return path
