"""Planning a day: what to play today, at which progression level, and how long it takes."""
from __future__ import annotations

import math
from datetime import date

FALLBACK = "morning"  # what plays on a day the schedule leaves empty


def todays_plan(day: date, schedule=None) -> list[str]:
    """The routine ids to play on `day`: the schedule's list, or [FALLBACK] on a rest day."""
    from .schedule import load_schedule

    schedule = schedule or load_schedule()
    return schedule.for_date(day) or [FALLBACK]


def level_for(routine, entries) -> int:
    """The routine's progression level after its finished sessions in `entries` (1 without a progression)."""
    from .history import finished_count

    if routine.progression is None:
        return 1
    return routine.progression.level_after(finished_count(entries, routine.id))


def at_current_level(routine, entries):
    """The routine as it plays now: each timed step at the level `entries` have earned."""
    from ..routines.progression import at_level

    return at_level(routine, level_for(routine, entries))


def estimated_seconds(routine) -> float:
    """The session's length with announcements, from an estimate of the speech (no engine needed)."""
    from ..session import estimated_timeline

    return estimated_timeline(routine).seconds


def calendar_plans(schedule, entries) -> list:
    """One ical.Plan per distinct day plan, its length in minutes as below.

    Minutes = the timed total (at the current progression levels) rounded up to
    whole minutes, plus a margin for announcements: the estimated length with
    speech and preparation time (see `estimated_seconds`) minus the timed total,
    also rounded up to whole minutes.
    """
    from .calendar import Plan, group_week
    from ..routines import load, timed_seconds

    plans = []
    week = [(i, tuple(ids)) for i, (_, ids) in enumerate(schedule.week())]
    for weekdays, ids in group_week(week):
        routines = [at_current_level(load(rid), entries) for rid in ids]
        timed = sum(timed_seconds(r) for r in routines)
        margin = sum(estimated_seconds(r) for r in routines) - timed
        minutes = math.ceil(timed / 60 - 1e-9) + max(0, math.ceil(margin / 60 - 1e-9))
        plans.append(Plan(weekdays, ids, tuple(r.title for r in routines), minutes))
    return plans
