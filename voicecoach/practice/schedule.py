"""The weekly schedule: which routines to do on which day of the week.

The built-in schedule ships as `library/schedule.yaml`. A `schedule.yaml` in the
user's config folder (or the file $VOICECOACH_SCHEDULE names) replaces it as a
whole. The file looks like:

    version: 1                  # optional; only version 1 exists
    days:
      monday: [daily, psoas-release]
      sunday: [sunday]

A day left out, or given an empty list, is a rest day. A routine is named by a
built-in id, a routine in the user's routine folder, or a path to a routine
file (relative to the schedule file's folder). Mistakes are RoutineErrors at
their FILE:LINE:COL.
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SCHEDULE_KEYS = ("version", "days")
_EXAMPLE = "a list of routine ids like [daily, psoas-release] ([] for a rest day)"


@dataclass(frozen=True)
class Schedule:
    """Routine ids for each weekday, Monday first; `source` is the file it came from."""

    days: tuple[tuple[str, tuple[str, ...]], ...]
    source: Path

    def for_date(self, day: date) -> list[str]:
        """The routine ids due on `day`, in order ([] on a rest day)."""
        return list(self.days[day.weekday()][1])

    def week(self) -> list[tuple[str, list[str]]]:
        """All seven days, Monday first, as (day name, routine ids)."""
        return [(name, list(ids)) for name, ids in self.days]


def builtin_path() -> Path:
    """The schedule that ships with voicecoach."""
    from ..routines import library_dir

    return library_dir() / "schedule.yaml"


def user_path() -> Path:
    """Where the user's own schedule is looked for ($VOICECOACH_SCHEDULE, else the config folder)."""
    override = os.environ.get("VOICECOACH_SCHEDULE")
    if override:
        return Path(override).expanduser()
    from ..paths import config_dir

    return config_dir() / "schedule.yaml"


def load_schedule(path: Path | None = None) -> Schedule:
    """The schedule in `path`; by default the user's file if it exists, else the built-in one.

    Raises RoutineError (FILE:LINE:COL) for a file that is not a valid schedule,
    including one that names a routine voicecoach cannot find. A file that
    $VOICECOACH_SCHEDULE names must exist.
    """
    if path is None:
        path = user_path()
        if not path.is_file() and not os.environ.get("VOICECOACH_SCHEDULE"):
            path = builtin_path()
    return _read(path)


def _read(path: Path) -> Schedule:
    from ..routines import document
    from ..routines import Validator

    root = document.read(path)
    b = Validator(path, ())
    fields = b.mapping(root, "a schedule")
    b.check_keys(root, SCHEDULE_KEYS, "the schedule")
    if "version" in fields and fields["version"].value != 1:
        raise b.fail(fields["version"], f"unknown schedule version {fields['version'].value!r}; expected 1")
    if "days" not in fields:
        raise b.fail(root, "missing 'days': expected a mapping of weekday to routines, e.g. 'monday: [daily]'")
    days_node = fields["days"]
    given = b.mapping(days_node, "the days of the week (monday: [daily], ...)")
    plan: dict[str, tuple[str, ...]] = {}
    for key, node in given.items():
        day = str(key).strip().lower()
        if day not in DAYS:
            near = difflib.get_close_matches(day, DAYS, n=1)
            hint = f"did you mean '{near[0]}'? " if near else ""
            raise b.key_fail(days_node, key, f"unknown day '{key}'; {hint}expected one of: " + ", ".join(DAYS))
        if day in plan:
            raise b.key_fail(days_node, key, f"'{day}' is given twice; each day may appear once")
        plan[day] = _routines(b, node, day, path.parent)
    return Schedule(tuple((day, plan.get(day, ())) for day in DAYS), path)


def _routines(b, node, day: str, folder: Path) -> tuple[str, ...]:
    """The routine ids for one day, each checked to exist (paths made absolute)."""
    if node.value is None:
        return ()
    if not isinstance(node.value, list):
        from ..routines.document import describe

        raise b.fail(node, f"expected {_EXAMPLE} for {day}, found {describe(node.value)}")
    return tuple(_routine(b, item, day, folder) for item in node.value)


def _routine(b, node, day: str, folder: Path) -> str:
    from ..errors import InputError
    from ..routines import builtin_ids, find

    ref = b.text(node, f"a routine id for {day}")
    if ref.endswith((".yaml", ".yml")) or "/" in ref or os.sep in ref:
        path = (folder / Path(ref).expanduser()).resolve()
        if not path.is_file():
            raise b.fail(node, f"no routine file '{ref}' (looked for {path})")
        return str(path)
    try:
        find(ref)
    except InputError:
        near = difflib.get_close_matches(ref, builtin_ids(), n=1)
        hint = f"did you mean '{near[0]}'? " if near else ""
        raise b.fail(node, f"unknown routine '{ref}' on {day}; {hint}expected a built-in id ("
                     + ", ".join(builtin_ids()) + "), a routine in your folder, or a path") from None
    return ref
