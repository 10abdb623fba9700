"""Desk mode: the wall-clock schedule (pure, with a fake clock) and `voicecoach remind` end to end.

The end-to-end test runs the real command on the private sound server with a
fast clock (`--minute-seconds 0.5`: a minute lasts half a second and the
break's timed parts are 120 times shorter), records the sink's monitor and
finds the prompt chime and the walk's chimes in the recording.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.audiofind import find
from support.pulse import no_server_env
from voicecoach import sounds
from voicecoach.duration import samples
from voicecoach.errors import InputError
from voicecoach.practice.desk import (after_chime, next_deadline, parse_every, parse_hours, run, slot_in_day,
                               slots_between)
from voicecoach.routines import load
from voicecoach.timeline import compile, phrases, sounds_needed

DAY = date(2024, 3, 4)
HOUR = timedelta(hours=1)
NINE, FIVE = time(9), time(17)
RATE = 22050


def at(hh: int, mm: int = 0, ss: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hh, mm, ss))


class FakeClock:
    """A clock that jumps: sleeping wakes `wake` after the deadline, or at a planned jump target."""

    def __init__(self, now: datetime, wake: timedelta = timedelta(milliseconds=300)):
        self.t, self.wake = now, wake
        self.jumps: dict[datetime, datetime] = {}  # deadline slept towards -> where the clock lands
        self.slept: list[datetime] = []

    def now(self) -> datetime:
        return self.t

    def sleep_until(self, deadline: datetime) -> None:
        self.slept.append(deadline)
        self.t = self.jumps.pop(deadline, max(self.t, deadline + self.wake))


# ------------------------------------------------------------------ pure scheduling

def test_a_day_of_prompts_lands_on_the_hour_whatever_each_break_took():
    clock = FakeClock(at(8, 12))
    prompts, lengths = [], iter([170, 3000, 59, 1200, 700, 2, 3500, 250, 800, 90])

    def prompt(deadline: datetime) -> None:
        prompts.append(deadline)
        clock.t += timedelta(seconds=next(lengths))  # the break itself takes its time

    skips: list[int] = []
    assert run(clock, prompt, HOUR, NINE, FIVE, count=10, on_skip=skips.append) == 10
    assert prompts == [at(h) for h in range(9, 18)] + [at(9, day=DAY + timedelta(days=1))]
    assert skips == []


def test_after_a_suspend_the_next_future_prompt_comes_and_the_missed_ones_are_counted():
    clock = FakeClock(at(9, 59))
    clock.jumps[at(11)] = at(14, 20)  # asleep from 10:05 (after the 10:00 break) to 14:20
    prompts: list[datetime] = []

    def prompt(deadline: datetime) -> None:
        prompts.append(deadline)
        clock.t += timedelta(minutes=5)

    skips: list[int] = []
    run(clock, prompt, HOUR, NINE, FIVE, count=2, on_skip=skips.append)
    assert prompts == [at(10), at(15)]
    assert skips == [4]  # 11:00, 12:00, 13:00, 14:00
    assert clock.slept == [at(10), at(11), at(15)]


def test_a_suspend_over_night_skips_the_slots_of_both_days():
    clock = FakeClock(at(16, 30))
    clock.jumps[at(17)] = at(10, 30, day=DAY + timedelta(days=1))
    prompts: list[datetime] = []
    skips: list[int] = []
    run(clock, prompts.append, HOUR, NINE, FIVE, count=1, on_skip=skips.append)
    assert skips == [1 + 2]  # 17:00 today, 09:00 and 10:00 tomorrow
    assert prompts == [at(11, day=DAY + timedelta(days=1))]


def test_a_wake_up_a_little_late_still_prompts():
    clock = FakeClock(at(9, 59), wake=timedelta(seconds=40))
    prompts: list[datetime] = []
    run(clock, prompts.append, HOUR, NINE, FIVE, count=2, on_skip=pytest.fail)
    assert prompts == [at(10), at(11)]


@pytest.mark.parametrize("now, expected", [
    (at(0), at(9)),
    (at(8, 59, 59), at(9)),
    (at(9), at(9)),  # a slot exactly now is due now
    (at(9, 0, 1), at(10)),
    (at(16, 59), at(17)),
    (at(17), at(17)),  # the window's end is included
    (at(17, 0, 1), at(9, day=DAY + timedelta(days=1))),
    (at(23, 59, 59), at(9, day=DAY + timedelta(days=1))),
])
def test_window_edges(now, expected):
    assert next_deadline(now, HOUR, NINE, FIVE) == expected


def test_a_period_that_does_not_divide_the_window():
    every = timedelta(minutes=45)  # 9:00, 9:45, ... 16:30; 17:15 would be past the end
    assert next_deadline(at(16, 10), every, NINE, FIVE) == at(16, 30)
    assert next_deadline(at(16, 31), every, NINE, FIVE) == at(9, day=DAY + timedelta(days=1))
    assert slot_in_day(at(16, 30), every, NINE, FIVE) == (11, 11)
    assert next_deadline(at(12, 0), timedelta(minutes=7), NINE, FIVE) == at(12, 2)  # 9:00 + 26 * 7 min


def test_a_window_over_midnight():
    night = (time(22), time(6))
    assert next_deadline(at(21), HOUR, *night) == at(22)
    assert next_deadline(at(23, 10), HOUR, *night) == at(0, day=DAY + timedelta(days=1))
    assert next_deadline(at(5, 30), HOUR, *night) == at(6)
    assert next_deadline(at(6, 1), HOUR, *night) == at(22)
    assert slot_in_day(at(3), HOUR, *night) == (6, 9)


def test_slot_numbers_and_counting():
    assert slot_in_day(at(9), HOUR, NINE, FIVE) == (1, 9)
    assert slot_in_day(at(17), HOUR, NINE, FIVE) == (9, 9)
    assert slots_between(at(10, 5), at(15), HOUR, NINE, FIVE) == 4
    assert slots_between(at(11), at(11), HOUR, NINE, FIVE) == 0
    assert slots_between(at(9), at(9, day=DAY + timedelta(days=7)), HOUR, NINE, FIVE) == 7 * 9


@given(now=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)),
       every_s=st.integers(1, 24 * 3600), start_m=st.integers(0, 1439), end_m=st.integers(0, 1439))
def test_the_deadline_is_the_first_grid_slot_inside_a_window(now, every_s, start_m, end_m):
    start, end = time(start_m // 60, start_m % 60), time(end_m // 60, end_m % 60)
    if start == end:
        return
    every = timedelta(seconds=every_s)
    got = next_deadline(now, every, start, end)
    assert got >= now
    n, total = slot_in_day(got, every, start, end)  # inside a window, on its grid
    assert 1 <= n <= total
    first = got - (n - 1) * every
    assert first.time() == start
    # and no slot lies between now and it
    assert slots_between(now, got, every, start, end) == 0


def test_parse_every_and_hours():
    assert parse_every("60m") == HOUR
    assert parse_every("1:30") == timedelta(seconds=90)
    assert parse_every("90s") == timedelta(seconds=90)
    assert parse_hours("9-17") == (NINE, FIVE)
    assert parse_hours("08:30-17:45") == (time(8, 30), time(17, 45))
    assert parse_hours("22-6") == (time(22), time(6))
    # the library names the setting in its own words; the command line says which option (test_remind_cli)
    for bad in ("9", "9-", "25-3", "9:60-17", "9-17-18", "nine-five", "9-9"):
        with pytest.raises(InputError, match=f"^hours '{bad}': ") as caught:
            parse_hours(bad)
        assert caught.value.setting == "hours" and "--" not in str(caught.value)
    for bad in ("0", "5x", "-3m", "25h"):
        with pytest.raises(InputError, match=f"^every '{bad}': ") as caught:
            parse_every(bad)
        assert caught.value.setting == "every" and "--" not in str(caught.value)


def test_the_prompt_chime_moves_the_break_without_changing_its_intervals():
    routine = load("desk-break")
    tl = compile(routine, {t: 1000 + 37 * len(t) for t in phrases(routine, _opts())},
                 {n: 4410 for n in sounds_needed(routine)}, _opts())
    moved = after_chime(tl, "prompt", 19845, 7718)
    shift = 19845 + 7718
    assert moved.events[0].sample == 0 and moved.events[0].sound == "prompt"
    assert [e.sample - shift for e in moved.events[1:]] == [e.sample for e in tl.events]
    assert moved.total_samples == tl.total_samples + shift
    assert [(s.end_sample - s.start_sample, s.start_sample - shift) for s in moved.steps] == \
           [(s.end_sample - s.start_sample, s.start_sample) for s in tl.steps]


def _opts():
    from voicecoach.session import options

    return options()


# ------------------------------------------------------------------ the command

def remind_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "voicecoach", "remind", *args]


@pytest.mark.parametrize("args, message", [
    (["--every", "often"], "voicecoach: --every 'often': expected a duration"),
    (["--every", "0"], "voicecoach: --every '0': expected a duration above zero"),
    (["--hours", "9-25"], "voicecoach: --hours '9-25': expected a window of local time"),
    (["--hours", "17"], "voicecoach: --hours '17': expected a window of local time"),
])
def test_bad_options_are_one_line_and_exit_1(args, message, tmp_path):
    result = subprocess.run(remind_cmd(*args), capture_output=True, text=True, timeout=30,
                            env={**os.environ, **no_server_env(tmp_path)})
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1


def test_no_audio_device_exits_3(tmp_path):
    result = subprocess.run(remind_cmd("--backend", "miniaudio"), capture_output=True, text=True, timeout=30,
                            env={**os.environ, **no_server_env(tmp_path)})
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_a_period_shorter_than_the_break_is_refused(user_env):
    result = subprocess.run(remind_cmd("--every", "2m", "--backend", "miniaudio"), capture_output=True,
                            text=True, timeout=60, env=user_env)
    assert result.returncode == 1
    assert result.stderr.startswith("voicecoach: --every '2m': a desk break takes 3:")
    assert result.stderr.count("\n") == 1


@pytest.mark.slow
def test_two_breaks_on_schedule_through_the_sound_server(pulse_server, user_env, tmp_path, record_property):
    minute = 0.5  # real seconds per minute: the hourly schedule runs every 30 s
    scale = minute / 60
    # a window opening one or two (fast) minutes from now, so the first prompt comes within a second
    opens = (datetime.now() + timedelta(minutes=2)).replace(second=0, microsecond=0)
    closes = opens + timedelta(hours=3)
    hours = f"{opens:%H:%M}-{closes:%H:%M}"
    rec = pulse_server.record(tmp_path / "remind.wav")
    # brisk speech keeps the break (about 25 s, nearly all of it speech) inside the 30 s period
    result = subprocess.run(remind_cmd("--count", "2", "--hours", hours, "--minute-seconds", str(minute),
                                       "--rate", "500"),
                            env=user_env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    recording = rec.stop()
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        f"Desk breaks every 60 minutes from {opens:%H:%M} to {closes:%H:%M}; the first at {opens:%H:%M}. Ctrl-C stops.",
        f"{opens:%H:%M} desk break (1 of 2)",
        f"{opens + timedelta(hours=1):%H:%M} desk break (2 of 2)",
        "Done: 2 desk breaks.",
    ]

    prompts = find(recording, sounds.load("prompt", RATE), threshold=0.6)
    assert len(prompts) == 2
    period = prompts[1] - prompts[0]
    record_property("period_error_ms", 1000 * (period / RATE - 60 * minute))
    # A prompt follows the wall clock (a sleep until the hour, then a stream opened), not the
    # sample clock: nobody notices an hourly reminder half a second late, but a schedule that
    # slips by a step or drifts by a break's length would be off by seconds.
    assert abs(period - 60 * minute * RATE) <= 0.5 * RATE

    starts = find(recording, sounds.load("bell", RATE), threshold=0.6)
    ends = find(recording, sounds.load("bell-double", RATE), threshold=0.6)
    walk = samples(120 * scale, RATE)
    for p in prompts:
        start = next(s for s in starts if s > p)  # the walk is the first timed step
        end = next(e for e in ends if e > start)
        record_property("walk_error_samples", end - start - walk)
        assert abs((end - start) - walk) <= 0.002 * RATE  # the walk itself is on the sample clock

    lines = (Path(user_env["VOICECOACH_DATA"]) / "history.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert [(e["routine"], e["finished"]) for e in entries] == [("desk-break", True)] * 2
    assert all(e["seconds"] == pytest.approx(170 * scale, abs=1e-3) for e in entries)


def test_ctrl_c_in_a_break_stops_the_sound_and_says_how_many_were_done(pulse_server, user_env, tmp_path):
    import signal
    import time as clock

    import numpy as np

    opens = (datetime.now() + timedelta(minutes=2)).replace(second=0, microsecond=0)
    hours = f"{opens:%H:%M}-{opens + timedelta(hours=3):%H:%M}"
    rec = pulse_server.record(tmp_path / "stop.wav")
    proc = subprocess.Popen(remind_cmd("--hours", hours, "--minute-seconds", "0.5", "--rate", "500",
                                       "--backend", "miniaudio"),
                            env=user_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    chime, heard = sounds.load("prompt", RATE), []
    give_up = clock.monotonic() + 30
    while not heard and clock.monotonic() < give_up:
        clock.sleep(0.2)
        heard = find(np.frombuffer(b"".join(rec._chunks), dtype="<i2").astype(np.float32) / 32768, chime)
    assert heard, "the prompt chime was never heard"
    clock.sleep(2.0)  # inside the break, in its speech
    sent = rec.now_index()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    clock.sleep(1.0)
    recording = rec.stop()
    assert proc.returncode == 130
    assert err == "Stopped; 0 desk breaks done.\n"
    assert out.splitlines()[1] == f"{opens:%H:%M} desk break (1 of 4 today)"
    # the sound stopped within half a second of Ctrl-C
    after = recording[sent + RATE // 2:]
    assert len(after) > RATE // 2 and np.abs(after).max() < 1e-3
    entry = json.loads((Path(user_env["VOICECOACH_DATA"]) / "history.jsonl").read_text())
    assert (entry["routine"], entry["finished"]) == ("desk-break", False)
