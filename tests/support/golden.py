"""Golden timelines: every built-in routine and every test routine, compiled once and kept.

The golden test only compares; it never writes. After a change that moves
samples on purpose, look at why, then regold in a separate step:

    bash scripts/regold            # writes the files; `git diff` shows what moved

Each file holds one step or event per line, so a diff names the events that moved.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent  # tests/
sys.path.insert(0, str(HERE))

from voicecoach import routines as rt  # noqa: E402

from support.rules import build  # noqa: E402

TEST_ROUTINES = HERE / "data" / "routines"
GOLDEN = HERE / "data" / "golden"


def cases() -> list[str]:
    """Every golden case: built-in ids, then the test routines as `data/<stem>`."""
    return list(rt.builtin_ids()) + [f"data/{p.stem}" for p in sorted(TEST_ROUTINES.glob("*.yaml"))]


def golden_path(case: str) -> Path:
    if case.startswith("data/"):
        return TEST_ROUTINES / f"{case[5:]}.timeline.json"
    return GOLDEN / f"{case}.timeline.json"


def timeline_of(case: str) -> dict:
    """The case compiled at the test rate with fake speech and real sounds, as plain data."""
    routine = rt.load_file(TEST_ROUTINES / f"{case[5:]}.yaml") if case.startswith("data/") else rt.load(case)
    timeline = build(routine).to_dict()
    timeline["routine"] = case.removeprefix("data/")
    return timeline


def dumps(timeline: dict) -> str:
    """JSON with one step or event per line: small, and its diffs read event by event."""
    lines = ["{"]
    keys = list(timeline)
    for n, key in enumerate(keys):
        comma = "," if n < len(keys) - 1 else ""
        value = timeline[key]
        if isinstance(value, list):
            rows = [" " + json.dumps(row, ensure_ascii=False) for row in value]
            lines.append(f' {json.dumps(key)}: [')
            lines.append(",\n".join(" " + r for r in rows))
            lines.append(f" ]{comma}")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def regold() -> int:
    """Write every golden file; print which changed. Returns the number changed."""
    changed = 0
    for case in cases():
        path = golden_path(case)
        text = dumps(timeline_of(case))
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            changed += 1
            print(f"regold: wrote {path.relative_to(HERE.parent)}")
    print(f"regold: {changed} of {len(cases())} golden timelines changed")
    return changed


if __name__ == "__main__":
    regold()
