"""The weekly schedule: the built-in plan, a user's own file replacing it, and located errors."""
from __future__ import annotations

from datetime import date

import pytest

from voicecoach.errors import RoutineError
from voicecoach.routines import expand, load
from voicecoach.practice.schedule import DAYS, builtin_path, load_schedule

MONDAY, THURSDAY, SUNDAY = date(2024, 3, 4), date(2024, 3, 7), date(2024, 3, 10)


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    """Never read the real config folder: point every override at an empty temp folder."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("VOICECOACH_ROUTINES", str(tmp_path / "routines"))
    monkeypatch.delenv("VOICECOACH_SCHEDULE", raising=False)


def write(tmp_path, text: str):
    path = tmp_path / "schedule.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def step_names(ids: list[str]) -> list[str]:
    return [e.name for rid in ids for e in expand(load(rid))]


def test_the_builtin_schedule_is_used_when_there_is_no_file_of_yours():
    schedule = load_schedule()
    assert schedule.source == builtin_path()
    assert [day for day, _ in schedule.week()] == list(DAYS)


@pytest.mark.parametrize("day", [MONDAY, THURSDAY])
def test_psoas_release_on_monday_and_thursday(day):
    assert load_schedule().for_date(day) == ["daily", "psoas-release"]


def test_sunday_is_the_full_routine_with_the_couch_stretch():
    assert load_schedule().for_date(SUNDAY) == ["sunday"]
    names = step_names(["sunday"])
    couch = step_names(["couch-stretch"])
    assert any(names[i:i + len(couch)] == couch for i in range(len(names)))


@pytest.mark.parametrize("offset", range(7))
def test_quad_sweep_and_kd4_every_day(offset):
    """Directly (`daily`) or inside Sunday's full routine, never missing and never twice."""
    day = date(2024, 3, 4 + offset)
    names = step_names(load_schedule().for_date(day))
    for part in ("quad-sweep", "kd4"):
        wanted = step_names([part])
        at = next(i for i in range(len(names)) if names[i:i + len(wanted)] == wanted)
        assert names[at + len(wanted):].count(wanted[0]) == 0, (day, part)


def test_for_date_crosses_years_by_weekday():
    schedule = load_schedule()
    assert schedule.for_date(date(2024, 12, 30)) == schedule.for_date(date(2025, 1, 6)) == ["daily", "psoas-release"]


def test_your_file_in_the_config_folder_replaces_the_builtin(tmp_path):
    folder = tmp_path / "config" / "voicecoach"
    folder.mkdir(parents=True)
    (folder / "schedule.yaml").write_text("days:\n  monday: [morning]\n", encoding="utf-8")
    schedule = load_schedule()
    assert schedule.source == folder / "schedule.yaml"
    assert schedule.for_date(MONDAY) == ["morning"]
    assert schedule.for_date(SUNDAY) == []  # a day left out is a rest day


def test_voicecoach_schedule_names_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, "version: 1\ndays:\n  Sunday: [kd4, quad-sweep]\n  friday: []\n")
    monkeypatch.setenv("VOICECOACH_SCHEDULE", str(path))
    schedule = load_schedule()
    assert schedule.for_date(SUNDAY) == ["kd4", "quad-sweep"]
    assert schedule.week()[4] == ("friday", [])


def test_a_missing_file_named_by_voicecoach_schedule_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICECOACH_SCHEDULE", str(tmp_path / "nope.yaml"))
    with pytest.raises(RoutineError) as err:
        load_schedule()
    assert str(err.value) == f"{tmp_path / 'nope.yaml'}:1:1: no such file"


def test_routines_of_your_own_and_routine_files(tmp_path, monkeypatch):
    mine = tmp_path / "routines"
    mine.mkdir()
    (mine / "evening.yaml").write_text("title: Evening\nsteps: [{name: Rest, duration: 5s}]\n", encoding="utf-8")
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "short.yaml").write_text("title: Short\nsteps: [{name: A, duration: 5s}]\n",
                                                   encoding="utf-8")
    path = write(tmp_path, "days:\n  monday: [evening, extra/short.yaml]\n")
    assert load_schedule(path).for_date(MONDAY) == ["evening", str(tmp_path / "extra" / "short.yaml")]


@pytest.mark.parametrize("text, where, message", [
    ("days:\n  mondya: [daily]\n", "2:3", "unknown day 'mondya'; did you mean 'monday'? expected one of: "
                                          + ", ".join(DAYS)),
    ("days:\n  monday: [daily]\n  tuesday: [daily, dialy]\n", "3:20",
     "unknown routine 'dialy' on tuesday; did you mean 'daily'? expected a built-in id ("),
    ("days:\n  monday: daily\n", "2:11", "expected a list of routine ids like [daily, psoas-release] "
                                         "([] for a rest day) for monday, found the text 'daily'"),
    ("days:\n  monday: [daily]\n  Monday: [kd4]\n", "3:3", "'monday' is given twice; each day may appear once"),
    ("days:\n  monday: [extra/missing.yaml]\n", "2:12", "no routine file 'extra/missing.yaml'"),
    ("version: 2\ndays: {}\n", "1:10", "unknown schedule version 2; expected 1"),
    ("weeks:\n  monday: [daily]\n", "1:1", "unknown key 'weeks' in the schedule; expected one of: version, days"),
    ("version: 1\n", "1:1", "missing 'days': expected a mapping of weekday to routines"),
    ("days: [daily]\n", "1:7", "expected the days of the week (monday: [daily], ...) (a mapping of key: value), "
                               "found a list"),
    ("days:\n  monday: [daily, {x: 1}]\n", "2:19", "expected a routine id for monday as text, found a mapping"),
])
def test_mistakes_are_one_line_at_their_place(tmp_path, text, where, message):
    path = write(tmp_path, text)
    with pytest.raises(RoutineError) as err:
        load_schedule(path)
    line = str(err.value)
    assert line.startswith(f"{path}:{where}: {message}"), line
    assert "\n" not in line
