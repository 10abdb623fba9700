"""The practice history: append-only JSON lines, damaged lines skipped, streaks across month and year ends."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from voicecoach.errors import EnvironmentProblem
from voicecoach.practice.history import Entry, finished_count, history_path, read, record, stats

CET = timezone(timedelta(hours=1))


def entry(day: date, seconds: float = 190.0, finished: bool = True, routine: str = "daily",
          hour: int = 7, tz=CET) -> Entry:
    return Entry(routine, routine.capitalize(), datetime(day.year, day.month, day.day, hour, 30, tzinfo=tz),
                 seconds, 190.0, finished)


def test_the_file_lives_in_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICECOACH_DATA", str(tmp_path / "data"))
    record(entry(date(2024, 3, 4)))
    assert history_path() == tmp_path / "data" / "history.jsonl"
    assert history_path().read_text(encoding="utf-8") == (
        '{"routine": "daily", "title": "Daily", "started": "2024-03-04T07:30:00+01:00", '
        '"seconds": 190.0, "total": 190.0, "finished": true}\n')


def test_round_trip_and_append_only(tmp_path):
    path = tmp_path / "history.jsonl"
    first = entry(date(2024, 3, 4))
    record(first, path)
    before = path.read_bytes()
    second = entry(date(2024, 3, 5), seconds=42.5, finished=False, routine="psoas-release")
    record(second, path)
    assert path.read_bytes().startswith(before)
    assert read(path) == ([first, second], [])


def test_a_missing_file_is_an_empty_history(tmp_path):
    assert read(tmp_path / "history.jsonl") == ([], [])


def test_a_torn_last_line_is_skipped_and_the_next_entry_is_whole(tmp_path):
    path = tmp_path / "history.jsonl"
    a, b, c = (entry(date(2024, 3, d)) for d in (4, 5, 6))
    record(a, path)
    record(b, path)
    with open(path, "ab") as f:  # a crash in the middle of a write
        f.write(json.dumps(c.to_dict()).encode()[:40])
    assert read(path) == ([a, b], ["history.jsonl line 3 is damaged and was skipped"])
    record(c, path)
    assert read(path) == ([a, b, c], ["history.jsonl line 3 is damaged and was skipped"])


@pytest.mark.parametrize("bad", [
    b"not json at all",
    b"[1, 2, 3]",
    b'"just text"',
    b'{"routine": "daily", "title": "D", "started": "yesterday", "seconds": 1, "total": 1, "finished": true}',
    b'{"routine": "daily", "title": "D", "started": "2024-03-04T07:30:00+01:00", "seconds": -1, "total": 1, '
    b'"finished": true}',
    b'{"routine": "daily", "title": "D", "started": "2024-03-04T07:30:00+01:00", "seconds": 1, "total": 1, '
    b'"finished": "yes"}',
    b'{"routine": "daily", "title": "D", "started": "2024-03-04T07:30:00+01:00", "total": 1, "finished": true}',
    b'{"routine": "", "title": "D", "started": "2024-03-04T07:30:00+01:00", "seconds": 1, "total": 1, '
    b'"finished": true}',
    b'{"routine": "daily", "title": "\xff\xfe", "started": "2024-03-04T07:30:00+01:00", "seconds": 1, '
    b'"total": 1, "finished": true}',
])
def test_damaged_lines_anywhere_are_skipped_with_their_number(tmp_path, bad):
    path = tmp_path / "history.jsonl"
    good = entry(date(2024, 3, 4))
    record(good, path)
    with open(path, "ab") as f:
        f.write(bad + b"\n\n")
    record(good, path)
    assert read(path) == ([good, good], ["history.jsonl line 2 is damaged and was skipped"])


def test_an_unwritable_history_is_an_environment_problem(tmp_path):
    path = tmp_path / "history.jsonl"
    path.mkdir()
    # the reason as the cache and `new` say it (files.reason), not Python's capitalized strerror
    with pytest.raises(EnvironmentProblem) as err:
        record(entry(date(2024, 3, 4)), path)
    assert str(err.value) == f"cannot write the history {path}: is a directory"
    with pytest.raises(EnvironmentProblem) as err:
        read(path)
    assert str(err.value) == f"cannot read the history {path}: is a directory"


def days(*dates: date, **kw) -> list[Entry]:
    return [entry(d, **kw) for d in dates]


@pytest.mark.parametrize("practiced, today, current, longest", [
    # Jan 30 -> Feb 2: four days across a month end
    ([date(2024, 1, 30), date(2024, 1, 31), date(2024, 2, 1), date(2024, 2, 2)], date(2024, 2, 2), 4, 4),
    # Feb 28 -> Mar 1 in a non-leap year is two days in a row
    ([date(2023, 2, 27), date(2023, 2, 28), date(2023, 3, 1)], date(2023, 3, 1), 3, 3),
    # in a leap year Feb 29 lies between them: without it the streak breaks
    ([date(2024, 2, 27), date(2024, 2, 28), date(2024, 3, 1)], date(2024, 3, 1), 1, 2),
    ([date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)], date(2024, 3, 1), 3, 3),
    # Dec 31 -> Jan 1
    ([date(2023, 12, 30), date(2023, 12, 31), date(2024, 1, 1)], date(2024, 1, 1), 3, 3),
    # nothing yet today: the streak ending yesterday still stands
    ([date(2023, 12, 30), date(2023, 12, 31)], date(2024, 1, 1), 2, 2),
    # two days without practice: the current streak is over, the longest is kept
    ([date(2023, 12, 29), date(2023, 12, 30)], date(2024, 1, 1), 0, 2),
    ([date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3), date(2024, 3, 10)], date(2024, 3, 11), 1, 3),
    ([], date(2024, 3, 11), 0, 0),
])
def test_streaks(practiced, today, current, longest):
    s = stats(days(*practiced), today)
    assert (s.current_streak, s.longest_streak, s.days_practiced) == (current, longest, len(practiced))


def test_two_sessions_on_one_day_make_one_practice_day():
    s = stats(days(date(2024, 3, 4), date(2024, 3, 4)), date(2024, 3, 4))
    assert (s.days_practiced, s.sessions, s.current_streak) == (1, 2, 1)


def test_a_day_counts_after_a_minute_or_a_finished_session():
    today = date(2024, 3, 4)
    short = stats([entry(today, seconds=59.0, finished=False)], today)
    assert (short.days_practiced, short.current_streak, short.total_minutes) == (0, 0, 59 / 60)
    minute = stats([entry(today, seconds=60.0, finished=False)], today)
    assert (minute.days_practiced, minute.current_streak) == (1, 1)
    finished_short = stats([entry(today, seconds=30.0, finished=True)], today)
    assert finished_short.days_practiced == 1


def test_the_day_is_the_local_day_the_session_started():
    """23:30 in New York is the next day in UTC; it still counts for the day it was lived."""
    late = entry(date(2024, 3, 4), hour=23, tz=timezone(timedelta(hours=-5)))
    assert late.day == date(2024, 3, 4)
    assert stats([late], date(2024, 3, 4)).current_streak == 1


def test_the_grid_holds_the_last_30_days_with_minutes():
    today = date(2024, 3, 1)
    s = stats([entry(date(2024, 2, 29), seconds=120.0), entry(date(2024, 2, 29), seconds=30.0, finished=False),
               entry(date(2024, 2, 1), seconds=600.0), entry(date(2024, 1, 31), seconds=600.0)], today)
    # February 2024 has 29 days, so the 30 days ending March 1 start on February 1
    assert list(s.grid) == [date(2024, 2, 1) + timedelta(days=i) for i in range(30)]
    assert s.grid[date(2024, 2, 29)] == 2.5
    assert s.grid[date(2024, 2, 1)] == 10.0
    assert sum(s.grid.values()) == 12.5
    assert s.total_minutes == 22.5
    grid = s.to_dict()["grid"]
    assert grid[0] == {"date": "2024-02-01", "minutes": 10.0, "practiced": True}
    assert grid[-2] == {"date": "2024-02-29", "minutes": 2.5, "practiced": True}
    assert grid[-1] == {"date": "2024-03-01", "minutes": 0.0, "practiced": False}


def test_sessions_after_today_stay_out_of_the_streaks():
    s = stats(days(date(2024, 3, 5), date(2024, 3, 6)), date(2024, 3, 4))
    assert (s.current_streak, s.longest_streak) == (0, 0)


def test_finished_count_counts_only_finished_sessions_of_that_routine():
    entries = (days(date(2024, 3, 4), date(2024, 3, 5)) + days(date(2024, 3, 6), finished=False)
               + days(date(2024, 3, 6), routine="kd4"))
    assert finished_count(entries, "daily") == 2
    assert finished_count(entries, "kd4") == 1
    assert finished_count(entries, "sunday") == 0
