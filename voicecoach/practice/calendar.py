"""The weekly schedule as an iCalendar file, so a calendar app reminds you to practise.

Days with the same plan share one weekly event (e.g. daily on TU,WE,FR,SA).
Times are floating (no time zone): 07:30 means 07:30 wherever the calendar is,
which is what a daily habit wants. UIDs are derived from the weekdays and the
routine ids, so importing a new file updates the events instead of doubling them.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
ALARM_BEFORE = timedelta(minutes=10)
PLAY_COMMAND = "voicecoach today --play"
PRODID = "-//voicecoach//weekly schedule//EN"


@dataclass(frozen=True)
class Plan:
    """One distinct plan: the weekdays (0 = Monday) it falls on, its routines and its length."""

    weekdays: tuple[int, ...]
    routines: tuple[str, ...]  # ids, in playing order
    titles: tuple[str, ...]  # the routines' titles, same order
    minutes: int  # the event's length in whole minutes


def group_week(week: list[tuple[int, tuple[str, ...]]]) -> list[tuple[tuple[int, ...], tuple[str, ...]]]:
    """Weekdays with the same routine list grouped, in order of first appearance; rest days dropped."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for weekday, ids in week:
        if ids:
            groups.setdefault(tuple(ids), []).append(weekday)
    return [(tuple(days), ids) for ids, days in groups.items()]


def first_on_or_after(start: date, weekdays: tuple[int, ...]) -> date:
    """The first date on or after `start` that falls on one of `weekdays`."""
    return min(start + timedelta(days=(w - start.weekday()) % 7) for w in weekdays)


def uid(plan: Plan) -> str:
    """A UID that stays the same as long as the weekdays and routines do."""
    key = ",".join(BYDAY[w] for w in plan.weekdays) + "|" + ",".join(plan.routines)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:24] + "@voicecoach"


def build(plans: list[Plan], start: date, at: time, stamp: datetime | None = None) -> bytes:
    """The iCalendar text: one weekly VEVENT with a 10-minute DISPLAY alarm per plan.

    Each event's DTSTART is the plan's first day on or after `start`, at `at`.
    `stamp` (UTC) is the DTSTAMP; now by default.
    """
    from icalendar import Alarm, Calendar, Event

    stamp = (stamp or datetime.now(timezone.utc)).astimezone(timezone.utc)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "voicecoach")
    for plan in plans:
        summary = "voicecoach: " + " + ".join(plan.titles)
        first = datetime.combine(first_on_or_after(start, plan.weekdays), at.replace(second=0, microsecond=0))
        event = Event()
        event.add("uid", uid(plan))
        event.add("dtstamp", stamp)
        event.add("dtstart", first)
        event.add("duration", timedelta(minutes=plan.minutes))
        event.add("rrule", {"freq": "weekly", "byday": [BYDAY[w] for w in plan.weekdays]})
        event.add("summary", summary)
        event.add("description", _description(plan))
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", summary)
        alarm.add("trigger", -ALARM_BEFORE)
        event.add_component(alarm)
        cal.add_component(event)
    return cal.to_ical()


def _description(plan: Plan) -> str:
    lines = [f"About {plan.minutes} minutes of hip care:"]
    lines += [f"- {title} ({rid})" for rid, title in zip(plan.routines, plan.titles)]
    lines += ["", f"Run: {PLAY_COMMAND}"]
    return "\n".join(lines)


def write(data: bytes, path: Path) -> None:
    """Write `data` to `path` atomically and durably; ExportError when it cannot be written."""
    from ..files import write_bytes

    write_bytes(path, data, mode=0o644)  # a calendar file is not secret
