"""The one-time safety question before the first session; the texts themselves are in routines/safety.py."""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

SAFETY_FILE = "safety-confirmed"


def confirm_safety(ask: Callable[[str], bool]) -> bool:
    """True if the person confirmed, now or before, that none of the contraindications apply.

    Asks once through `ask(question)`; a yes is remembered in
    data_dir()/safety-confirmed ({"confirmed": "YYYY-MM-DD"}), a no is not (so
    the question comes again). If the answer cannot be saved, it is asked again
    next time rather than failing the session.
    """
    from ..paths import data_dir

    path = data_dir() / SAFETY_FILE
    if _confirmed(path):
        return True
    if not ask(safety_question()):
        return False
    from ..errors import ExportError
    from ..files import write_text

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, json.dumps({"confirmed": date.today().isoformat()}) + "\n")
    except (OSError, ExportError):
        pass  # still confirmed for this session; the question simply comes back next time
    return True


def safety_question() -> str:
    """The one question asked before the first session."""
    from ..routines.safety import CONTRAINDICATIONS

    items = " ".join(f"({i}) {text}" for i, text in enumerate(CONTRAINDICATIONS, 1))
    return ("Self-massage is not safe with any of these: " + items
            + " Do you confirm that none of them applies to you?")


def _confirmed(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        date.fromisoformat(data["confirmed"])
    except (OSError, ValueError, TypeError, KeyError):
        return False  # missing or damaged: ask again
    return True
