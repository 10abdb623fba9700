"""The week as an iCalendar file: weekly events with alarms, every day covered, stable UIDs."""
from __future__ import annotations

import math
from itertools import islice
from datetime import date, datetime, time, timedelta, timezone

import pytest
from dateutil.rrule import rrulestr  # installed with icalendar
from icalendar import Calendar

from voicecoach.errors import ExportError
from voicecoach.practice.calendar import BYDAY, Plan, build, first_on_or_after, group_week, uid, write
from voicecoach.practice.plan import calendar_plans
from voicecoach.routines import load, timed_seconds
from voicecoach.practice.schedule import builtin_path, load_schedule

WEDNESDAY = date(2024, 2, 28)  # the week crosses into March of a leap year
STAMP = datetime(2024, 2, 28, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def plans():
    return calendar_plans(load_schedule(builtin_path()), [])


def events(data: bytes):
    return [c for c in Calendar.from_ical(data).walk("VEVENT")]


def test_days_with_the_same_plan_share_one_event(plans):
    assert [(p.weekdays, p.routines) for p in plans] == [
        ((0, 3), ("daily", "psoas-release")),
        ((1, 2, 4, 5), ("daily",)),
        ((6,), ("sunday",)),
    ]
    assert plans[0].titles == ("Daily Hip Care", "Deep Psoas Release")


def test_every_event_recurs_weekly_with_an_alarm_and_the_week_is_covered(plans):
    found = events(build(plans, WEDNESDAY, time(7, 30), STAMP))
    assert len(found) == 3
    covered = []
    for event in found:
        rule = event["RRULE"]
        assert rule["FREQ"] == ["WEEKLY"]
        covered += rule["BYDAY"]
        start = event.decoded("DTSTART")
        assert start.time() == time(7, 30) and start.tzinfo is None  # floating: 07:30 wherever you are
        assert BYDAY[start.weekday()] in rule["BYDAY"]
        assert WEDNESDAY <= start.date() < WEDNESDAY + timedelta(days=7)
        alarms = event.walk("VALARM")
        assert len(alarms) == 1
        assert str(alarms[0]["ACTION"]) == "DISPLAY"
        assert alarms[0].decoded("TRIGGER") == timedelta(minutes=-10)
        assert "voicecoach today --play" in str(event["DESCRIPTION"])
        # the recurrence really lands on those weekdays, for weeks to come
        dates = list(islice(rrulestr(event["RRULE"].to_ical().decode(), dtstart=start), 12))
        assert {BYDAY[d.weekday()] for d in dates} == set(rule["BYDAY"])
        assert all(d.time() == time(7, 30) for d in dates)
    assert sorted(covered, key=BYDAY.index) == list(BYDAY)


def test_the_start_is_the_first_such_day_on_or_after_the_given_date(plans):
    found = {str(e["SUMMARY"]): e.decoded("DTSTART").date() for e in events(build(plans, WEDNESDAY, time(6, 5)))}
    assert found == {
        "voicecoach: Daily Hip Care + Deep Psoas Release": date(2024, 2, 29),  # Thursday, the leap day
        "voicecoach: Daily Hip Care": date(2024, 2, 28),  # Wednesday itself
        "voicecoach: Sunday Full Routine": date(2024, 3, 3),
    }


@pytest.mark.parametrize("start, weekdays, expected", [
    (date(2024, 2, 28), (2,), date(2024, 2, 28)),
    (date(2024, 2, 28), (1,), date(2024, 3, 5)),
    (date(2024, 12, 30), (6,), date(2025, 1, 5)),
    (date(2023, 2, 27), (3, 0), date(2023, 2, 27)),
    (date(2023, 2, 28), (3, 0), date(2023, 3, 2)),
])
def test_first_on_or_after(start, weekdays, expected):
    assert first_on_or_after(start, weekdays) == expected


def test_durations_hold_the_timed_work_plus_a_margin_for_announcements(plans):
    for plan in plans:
        timed = sum(timed_seconds(load(r)) for r in plan.routines)
        assert math.ceil(timed / 60) < plan.minutes <= math.ceil(timed / 60) + 10, plan
    found = events(build(plans, WEDNESDAY, time(7, 30)))
    assert [e.decoded("DURATION") for e in found] == [timedelta(minutes=p.minutes) for p in plans]


def test_uids_are_stable_and_distinct(plans):
    one = [str(e["UID"]) for e in events(build(plans, WEDNESDAY, time(7, 30), STAMP))]
    two = [str(e["UID"]) for e in events(build(plans, date(2025, 6, 1), time(18, 0)))]
    assert one == two == [uid(p) for p in plans]
    assert len(set(one)) == 3
    changed = Plan((0, 3), ("daily",), ("Daily Hip Care",), 7)
    assert uid(changed) not in one


def test_rest_days_have_no_event():
    assert group_week([(0, ("daily",)), (1, ()), (2, ("daily",)), (6, ("sunday",))]) == [
        ((0, 2), ("daily",)), ((6,), ("sunday",))]


def test_written_whole_or_not_at_all(tmp_path, plans):
    data = build(plans, WEDNESDAY, time(7, 30), STAMP)
    target = tmp_path / "week.ics"
    target.write_bytes(b"old")
    write(data, target)
    assert target.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["week.ics"]
    with pytest.raises(ExportError, match="cannot write"):
        write(data, tmp_path / "no-such-folder" / "week.ics")
    assert [p.name for p in tmp_path.iterdir()] == ["week.ics"]
