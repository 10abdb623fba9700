"""The practice commands through the real CLI: week, today, history, safety, and the safety question."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

import voicecoach.cli.practice  # noqa: F401  (registers the commands on the app)
from voicecoach.cli import app
from voicecoach.practice.history import Entry, read, record
from voicecoach.practice.plan import level_for, todays_plan
from voicecoach.practice.safety import confirm_safety, safety_question
from voicecoach.routines import builtin_ids, load
from voicecoach.routines.safety import full_text
from voicecoach.practice.schedule import load_schedule

CET = timezone(timedelta(hours=1))
BALL = """\
title: Ball work
safety: false
progression: {from: 30s, to: 2m, step: 15s, every: 3}
steps:
  - {name: Ball, duration: 30s, sides: [right, left]}
"""


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    """Every file voicecoach reads or writes lives in this test's temp folder."""
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.setenv("VOICECOACH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("VOICECOACH_ROUTINES", str(tmp_path / "routines"))
    monkeypatch.setenv("VOICECOACH_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.delenv("VOICECOACH_SCHEDULE", raising=False)
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def lines(text: str) -> list[str]:
    return text.splitlines()


def session(day: date, routine: str = "daily", seconds: float = 190.0, finished: bool = True) -> Entry:
    return Entry(routine, routine, datetime(day.year, day.month, day.day, 7, 30, tzinfo=CET), seconds, 190.0,
                 finished)


def ball_schedule(tmp_path, monkeypatch):
    (tmp_path / "routines").mkdir()
    (tmp_path / "routines" / "ball.yaml").write_text(BALL, encoding="utf-8")
    path = tmp_path / "schedule.yaml"
    path.write_text("days:\n  monday: [ball, kd4]\n", encoding="utf-8")
    monkeypatch.setenv("VOICECOACH_SCHEDULE", str(path))


def test_week_lists_all_seven_days_and_marks_today():
    result = run("week", "--date", "2024-03-07")
    assert result.exit_code == 0, result.output
    assert lines(result.stdout) == [
        "Monday     daily + psoas-release   8:10",
        "Tuesday    daily                   3:10",
        "Wednesday  daily                   3:10",
        "Thursday   daily + psoas-release   8:10  <- today",
        "Friday     daily                   3:10",
        "Saturday   daily                   3:10",
        "Sunday     sunday                 10:10",
    ]


def test_week_writes_a_calendar(private_dirs):
    target = private_dirs / "week.ics"
    result = run("week", "--date", "2024-03-07", "--ics", str(target), "--at", "6:45")
    assert result.exit_code == 0, result.output
    assert lines(result.stdout)[-1] == f"wrote {target} (3 weekly events at 06:45, reminder 10 minutes before)"
    text = target.read_text(encoding="utf-8")
    assert text.count("BEGIN:VEVENT") == 3 and text.count("BEGIN:VALARM") == 3
    assert "DTSTART:20240307T064500" in text


@pytest.mark.parametrize("at", ["7", "24:00", "07:60", "seven"])
def test_week_refuses_a_bad_time(at):
    result = run("week", "--at", at)
    assert result.exit_code == 1
    assert lines(result.stderr) == [f"voicecoach: --at {at!r}: expected a time like 07:30 (HH:MM, 24-hour clock)"]


@pytest.mark.parametrize("day, expected", [
    ("2024-03-04", ["Monday 2024-03-04: 8:10 timed",
                    "  daily            3:10  Daily Hip Care",
                    "  psoas-release    5:00  Deep Psoas Release"]),
    ("2024-03-07", ["Thursday 2024-03-07: 8:10 timed",
                    "  daily            3:10  Daily Hip Care",
                    "  psoas-release    5:00  Deep Psoas Release"]),
    ("2024-03-05", ["Tuesday 2024-03-05: 3:10 timed",
                    "  daily    3:10  Daily Hip Care"]),
    ("2024-03-10", ["Sunday 2024-03-10: 10:10 timed",
                    "  sunday   10:10  Sunday Full Routine"]),
])
def test_today_shows_the_days_plan(day, expected):
    result = run("today", "--date", day)
    assert result.exit_code == 0, result.output
    assert lines(result.stdout) == expected


@pytest.mark.parametrize("day", ["2024-02-30", "04.03.2024", "20240304", "tomorrow"])
def test_today_refuses_a_bad_date(day):
    result = run("today", "--date", day)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert lines(result.stderr) == [f"voicecoach: --date {day!r}: expected a date like 2024-03-04 (YYYY-MM-DD)"]


def test_today_on_a_rest_day_falls_back_to_the_morning_routine(private_dirs, monkeypatch):
    path = private_dirs / "schedule.yaml"
    path.write_text("days:\n  monday: [daily]\n", encoding="utf-8")
    monkeypatch.setenv("VOICECOACH_SCHEDULE", str(path))
    assert todays_plan(date(2024, 3, 5)) == ["morning"]
    assert todays_plan(date(2024, 3, 4)) == ["daily"]
    result = run("today", "--date", "2024-03-05")
    assert lines(result.stdout) == ["Tuesday 2024-03-05 (nothing scheduled, so the morning routine): 3:00 timed",
                                    "  morning    3:00  3-Minute Morning Pain Prevention Routine"]


def test_a_bad_schedule_is_one_located_line(private_dirs, monkeypatch):
    path = private_dirs / "schedule.yaml"
    path.write_text("days:\n  monday: [daily, psoas-relase]\n", encoding="utf-8")
    monkeypatch.setenv("VOICECOACH_SCHEDULE", str(path))
    result = run("today")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert lines(result.stderr) == [f"{path}:2:19: unknown routine 'psoas-relase' on monday; did you mean "
                                    "'psoas-release'? expected a built-in id (" + ", ".join(builtin_ids())
                                    + "), a routine in your folder, or a path"]


def test_today_shows_the_progression_level(private_dirs, monkeypatch):
    ball_schedule(private_dirs, monkeypatch)
    for d in range(4):  # three finished sessions make a level; one more is not yet the next
        record(session(date(2024, 2, 26 + d), routine="ball"))
    record(session(date(2024, 3, 1), routine="ball", finished=False))
    entries, _ = read()
    assert level_for(load("ball"), entries) == 2
    assert level_for(load("kd4"), entries) == 1
    result = run("today", "--date", "2024-03-04")
    assert result.exit_code == 0, result.output
    assert lines(result.stdout) == [
        "Monday 2024-03-04: 2:40 timed",
        "  ball    1:30  Ball work",
        "                level 2 of 7: 45 s per technique",
        "  kd4     1:10  KD 4 Acupressure Point",
    ]


def test_history_counts_days_minutes_and_streaks():
    for day in (date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1), date(2024, 3, 3)):
        record(session(day))
    record(session(date(2024, 3, 3), seconds=30.0, finished=False))
    record(session(date(2024, 3, 2), seconds=45.0, finished=False))
    result = run("history", "--today", "2024-03-04")
    assert result.exit_code == 0, result.output
    assert lines(result.stdout) == [
        "days practiced: 4",
        "sessions:       6 (4 finished)",
        "minutes:        13.9",
        "current streak: 1 day",
        "longest streak: 3 days",
        "",
        "2024-02-04 " + "·" * 24 + "▪▪▪▫▪·" + " 2024-03-04",
        "last 30 days: ▪ practiced  ▫ under a minute  · none",
    ]


def test_history_as_json():
    record(session(date(2024, 3, 4)))
    result = run("history", "--json", "--today", "2024-03-04")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {k: data[k] for k in ("days_practiced", "sessions", "current_streak", "longest_streak")} == {
        "days_practiced": 1, "sessions": 1, "current_streak": 1, "longest_streak": 1}
    assert len(data["grid"]) == 30
    assert data["grid"][-1] == {"date": "2024-03-04", "minutes": 3.2, "practiced": True}


def test_history_survives_a_torn_last_line(private_dirs):
    record(session(date(2024, 3, 4)))
    with open(private_dirs / "data" / "history.jsonl", "ab") as f:
        f.write(b'{"routine": "daily", "title": "Da')
    result = run("history", "--today", "2024-03-04")
    assert result.exit_code == 0
    assert lines(result.stderr) == ["voicecoach: warning: history.jsonl line 2 is damaged and was skipped"]
    assert lines(result.stdout)[0] == "days practiced: 1"


def test_history_with_no_sessions_yet():
    result = run("history", "--today", "2024-01-01")
    assert result.exit_code == 0
    assert lines(result.stdout)[:5] == ["days practiced: 0", "sessions:       0 (0 finished)",
                                        "minutes:        0.0", "current streak: 0 days", "longest streak: 0 days"]
    assert lines(result.stdout)[6] == "2023-12-03 " + "·" * 30 + " 2024-01-01"


def test_history_refuses_a_bad_date():
    result = run("history", "--today", "2024-13-01")
    assert (result.exit_code, lines(result.stderr)) == (
        1, ["voicecoach: --today '2024-13-01': expected a date like 2024-03-04 (YYYY-MM-DD)"])


def test_safety_prints_the_whole_page():
    result = run("safety")
    assert result.exit_code == 0
    assert result.stdout == full_text()


def test_the_safety_question_is_asked_once_and_remembered(private_dirs):
    asked: list[str] = []

    def no(question: str) -> bool:
        asked.append(question)
        return False

    def yes(question: str) -> bool:
        asked.append(question)
        return True

    assert confirm_safety(no) is False
    assert confirm_safety(yes) is True
    assert confirm_safety(no) is True  # not asked again
    assert asked == [safety_question()] * 2
    for words in ("Blood clots", "infection", "Recent surgery"):
        assert words in asked[0]
    saved = json.loads((private_dirs / "data" / "safety-confirmed").read_text(encoding="utf-8"))
    assert date.fromisoformat(saved["confirmed"]) == date.today()


def test_a_damaged_safety_file_asks_again(private_dirs):
    (private_dirs / "data").mkdir()
    (private_dirs / "data" / "safety-confirmed").write_text("{not json", encoding="utf-8")
    assert confirm_safety(lambda q: False) is False


def test_today_play_hands_each_routine_to_play(no_audio_env):
    """With no sound device the first `play` stops with its own error; the rest are not tried."""
    result = run("today", "--date", "2024-03-04", "--play")
    assert result.exit_code == 3, result.output
    assert lines(result.stdout)[0] == "Monday 2024-03-04: 8:10 timed"
    errors = [line for line in lines(result.stderr) if line.startswith("voicecoach:")]
    assert len(errors) == 1 and "no audio device" in errors[0]


@pytest.mark.audio
@pytest.mark.slow
def test_today_play_plays_the_plan_through_a_real_sound_server(private_dirs, monkeypatch, pulse_env):
    (private_dirs / "routines").mkdir()
    for name in ("one", "two"):
        (private_dirs / "routines" / f"{name}.yaml").write_text(
            f"title: Tiny {name}\nsafety: false\noutro: Done.\nsteps:\n  - {{name: Hold, duration: 1s}}\n",
            encoding="utf-8")
    (private_dirs / "config.yaml").write_text("lead_in: 0\n", encoding="utf-8")
    path = private_dirs / "schedule.yaml"
    path.write_text("days:\n  monday: [one, two]\n", encoding="utf-8")
    monkeypatch.setenv("VOICECOACH_SCHEDULE", str(path))
    result = run("today", "--date", "2024-03-04", "--play")
    assert result.exit_code == 0, result.output
    done = [line for line in lines(result.stdout) if line.startswith("Finished")]
    assert [line.split(" (")[0] for line in done] == ["Finished 2 routines: Tiny one + Tiny two"]  # one plan
    assert load_schedule().for_date(date(2024, 3, 4)) == ["one", "two"]
