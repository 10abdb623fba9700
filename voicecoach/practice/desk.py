"""Desk mode: prompts on a wall-clock schedule, and the prompt placed before the desk break.

The schedule is a daily window of local times [start, end] and a period: the
prompts fall on start + k * every, for every k that keeps them inside the
window (both ends included). Deadlines always come from that grid, never from
"now + every", so a day of breaks does not drift however long each break took.

Times are naive local datetimes. Daylight saving time is not handled
specially: on the night the clocks change, the wall clock seems to jump an
hour, which looks like a suspend (forward) or a longer wait (back); a daytime
window is not affected.

The waiting between prompts is the only sleeping voicecoach does: the pacing
inside a break is still the audio stream's.
"""
from __future__ import annotations

import re
import time as _time
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Protocol

from ..errors import SettingError
from ..timeline import Event, Timeline

# How late a deadline may be noticed and still be played: a wake-up a little
# after the deadline is an ordinary one; later than this the clock jumped
# (the computer slept) and the prompt is skipped. Never more than half a period.
GRACE = timedelta(minutes=1)
# The real clock sleeps at most this long before it looks at the wall clock again:
# a sleeping process does not notice a suspend, a fresh look at the clock does.
STEP_SECONDS = 30.0
PROMPT_TEXT = "Time for a desk break. Stand up and walk for two minutes."
PROMPT_SOUND = "prompt"
PROMPT_GAP = 0.35  # seconds of silence between the prompt chime and the spoken prompt

_HOURS = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?\s*$")


# ------------------------------------------------------------------ the schedule (pure)

def _window(day: date, start: time, end: time) -> tuple[datetime, datetime]:
    """The window that opens on `day`: it closes the next day when `end` comes before `start`."""
    first = datetime.combine(day, start)
    last = datetime.combine(day if end > start else day + timedelta(days=1), end)
    return first, last


def _windows_around(moment: datetime, start: time, end: time):
    for offset in (-1, 0, 1):
        yield _window(moment.date() + timedelta(days=offset), start, end)


def next_deadline(now: datetime, every: timedelta, start: time, end: time) -> datetime:
    """The first slot start + k * every (k >= 0) that is >= `now` and inside its window.

    The window is [start, end] local time, both ends included; when `end` is
    earlier than `start` the window runs over midnight. When no slot of today's
    window is left (after the end, or the period does not divide the window and
    the last slot has passed), the answer is the next window's start.
    Exact: integer arithmetic on timedeltas, no floating point.
    """
    if every <= timedelta(0):
        raise ValueError(f"every must be positive, found {every!r}")
    if start == end:
        raise ValueError("the window's start and end are the same time")
    best = None
    for first, last in _windows_around(now, start, end):
        if last < now:
            continue
        k = max(0, -((first - now) // every))  # ceil((now - first) / every), exactly
        slot = first + k * every
        if slot <= last and (best is None or slot < best):
            best = slot
    # the window opening tomorrow always has a slot at its start, so best is set
    return best


def slot_in_day(deadline: datetime, every: timedelta, start: time, end: time) -> tuple[int, int]:
    """(n, total): `deadline` is the n-th (1-based) of the `total` slots of its window."""
    for first, last in _windows_around(deadline, start, end):
        if first <= deadline <= last:
            return (deadline - first) // every + 1, (last - first) // every + 1
    raise ValueError(f"{deadline} is outside every window of {start}-{end}")


def slots_between(since: datetime, until: datetime, every: timedelta, start: time, end: time) -> int:
    """How many slots fall in [since, until)."""
    count, slot = 0, next_deadline(since, every, start, end)
    while slot < until:
        count += 1
        slot = next_deadline(slot + timedelta(microseconds=1), every, start, end)
    return count


def parse_every(text: str) -> timedelta:
    """An `every` value ('60m', '45m', '90s', '1:30') as a timedelta; InputError otherwise.

    A bare number is minutes: desk breaks are minutes apart, and `--every 45` taken as
    45 seconds was refused for being shorter than the break itself.
    """
    from ..duration import parse_duration

    bare = re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", text)
    if bare and float(text) == 0:
        raise SettingError("every", text, "expected a duration above zero (a bare number is minutes)")
    try:
        seconds = parse_duration(text.strip() + "m" if bare else text)
    except ValueError as exc:
        raise SettingError("every", text, str(exc)) from None
    return timedelta(seconds=seconds)


def parse_hours(text: str) -> tuple[time, time]:
    """An `hours` value ('9-17', '08:30-17:30', '22-6' over midnight) as (start, end); InputError otherwise."""
    match = _HOURS.fullmatch(text)
    problem = SettingError("hours", text, "expected a window of local time like 9-17 or 08:30-17:30 "
                                          "(H-H or HH:MM-HH:MM, 24-hour clock)")
    if not match:
        raise problem
    h1, m1, h2, m2 = (int(g) if g is not None else 0 for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise problem
    start, end = time(h1, m1), time(h2, m2)
    if start == end:
        raise SettingError("hours", text, "the window starts and ends at the same time")
    return start, end


# ------------------------------------------------------------------ clocks and the loop

class Clock(Protocol):
    """Where the loop reads the time and waits."""

    def now(self) -> datetime:
        """The current local time (naive)."""

    def sleep_until(self, deadline: datetime) -> None:
        """Return once now() >= deadline (or later, if the computer slept)."""


class WallClock:
    """The local wall clock, optionally running `speed` times faster (a testing aid).

    At speed 1 `now()` is `datetime.now()`. At speed s, time starts at the real
    now and each real second counts as s seconds, suspends included, because
    it is still read from the wall clock. `sleep_until` sleeps in steps of at
    most STEP_SECONDS real seconds and reads the wall clock after each, since
    a process's sleep does not count the time the computer was suspended.
    """

    def __init__(self, speed: float = 1.0, step: float = STEP_SECONDS):
        if speed <= 0:
            raise ValueError(f"speed must be positive, found {speed!r}")
        self.speed, self.step = speed, step
        self.origin = datetime.now()

    def now(self) -> datetime:
        real = datetime.now()
        if self.speed == 1.0:
            return real
        return self.origin + (real - self.origin) * self.speed

    def sleep_until(self, deadline: datetime) -> None:
        while True:
            left = (deadline - self.now()).total_seconds() / self.speed
            if left <= 0:
                return
            _time.sleep(min(left, self.step))


def run(clock: Clock, prompt: Callable[[datetime], None], every: timedelta, start: time, end: time,
        count: int | None = None, on_skip: Callable[[int], None] | None = None) -> int:
    """Call `prompt(deadline)` at each slot of the schedule until `count` prompts (forever if None).

    Returns the number of prompts made. A deadline noticed more than
    min(GRACE, every / 2) late means the clock jumped (the computer slept, or
    a prompt ran past the next slot): every slot already past is skipped,
    `on_skip(n)` is told how many, and the loop waits for the next future slot.
    Exceptions from `prompt` or the clock (KeyboardInterrupt) propagate.
    """
    grace = min(GRACE, every / 2)
    done = 0
    deadline = next_deadline(clock.now(), every, start, end)
    while count is None or done < count:
        clock.sleep_until(deadline)
        now = clock.now()
        if now - deadline > grace:
            upcoming = next_deadline(now, every, start, end)
            if on_skip is not None:
                on_skip(slots_between(deadline, upcoming, every, start, end))
            deadline = upcoming
            continue
        prompt(deadline)
        done += 1
        deadline = next_deadline(deadline + timedelta(microseconds=1), every, start, end)
    return done


# ------------------------------------------------------------------ the prompt before the break

def after_chime(timeline: Timeline, sound: str, sound_samples: int, gap: int) -> Timeline:
    """The same timeline with a chime at sample 0 and everything else `sound_samples + gap` later.

    Steps and events keep their exact distances, so every interval stays exact.
    """
    shift = sound_samples + gap
    chime = Event("chime", 0, sound_samples, None, sound=sound, role="prompt")
    events = (chime,) + tuple(replace(e, sample=e.sample + shift) for e in timeline.events)
    steps = tuple(replace(s, announce_sample=s.announce_sample + shift, start_sample=s.start_sample + shift,
                          end_sample=s.end_sample + shift) for s in timeline.steps)
    return replace(timeline, total_samples=timeline.total_samples + shift, steps=steps, events=events)


def prompted(session):
    """(timeline, render) of a prepared desk-break session with the prompt chime in front.

    The spoken prompt is the routine's intro (the caller sets it), so it is
    synthesized and levelled with the rest; only the chime is added here.
    """
    from .. import sounds
    from ..duration import samples
    from ..mixer import Mixer

    rate = session.timeline.sample_rate
    clip = sounds.load(PROMPT_SOUND, rate)
    timeline = after_chime(session.timeline, PROMPT_SOUND, len(clip), samples(PROMPT_GAP, rate))
    mixer = Mixer(timeline, {**session.mixer.clips, ("sound", PROMPT_SOUND): clip})
    return timeline, mixer.render


DESK_BREAK = "desk-break"


def prepare_break(scale: float = 1.0, voice_of=None, period: timedelta | None = None, every: str | None = None,
                  progress=None, limit: int | None = None):
    """The desk break as it plays after each prompt: (routine, timeline, render).

    The spoken prompt takes the place of the routine's own intro, which says the
    same. With `period`, SettingError when a break would not fit in it (`every`
    is the period as the user wrote it).
    """
    from ..duration import clock
    from ..routines import load
    from ..session import options, prepare_session

    routine = replace(load(DESK_BREAK), intro=PROMPT_TEXT)
    session = prepare_session(routine, options(scale=scale), voice_of(routine) if voice_of else None, progress, limit)
    tl, render = prompted(session)
    length = timedelta(seconds=tl.seconds / scale)
    if period is not None and period <= length:
        raise SettingError("every", every if every is not None else str(period),
                           f"a desk break takes {clock(length.total_seconds())}; choose a longer period")
    return routine, tl, render


# ------------------------------------------------------------------ desk mode on the sound device

class DeskMode:
    """Desk mode: the break prepared once, then at each slot of the schedule a prompt and the break, each recorded.

    The sound device is opened first, so "no audio device" comes within seconds,
    and the one-session lock is held (as `purpose`) until `close`. `scale` shortens
    the day and each break's timed parts alike (a testing aid); speech keeps its pace.
    Use as a context manager.
    """

    def __init__(self, settings, every: str, hours: str, count: int | None = None, scale: float = 1.0,
                 on_voice: Callable | None = None, purpose: str = "desk mode", heard: Callable | None = None):
        from ..listen import for_settings
        from ..player import LivePlay
        from ..session import voice_for

        self.period, (self.start, self.end) = parse_every(every), parse_hours(hours)
        self.count, self.done = count, 0
        self.ears, self.not_listening = for_settings(settings, heard)  # `heard(line)`: each word (listen_log)
        try:
            self.live = LivePlay(settings.backend, settings.device, mpris=settings.mpris,
                                 pause_others=settings.pause_others, purpose=purpose, ears=self.ears)
        except BaseException:
            self.ears is not None and self.ears.close()
            raise
        try:
            said = on_voice or (lambda voice: voice)
            self.routine, self.timeline, self.render = prepare_break(
                scale, lambda r: said(voice_for(r, settings)), self.period, every, limit=settings.cache_limit)
        except BaseException:
            self.close()
            raise
        self.clock = WallClock(speed=1 / scale)
        self.first = next_deadline(self.clock.now(), self.period, self.start, self.end)

    def run(self, on_prompt: Callable | None = None, on_end: Callable | None = None,
            on_skip: Callable[[int], None] | None = None, on_deaf: Callable[[str], None] | None = None) -> int:
        """Play the breaks until `count` of them (forever if None); returns how many were played (also `done`).

        `on_prompt(deadline, n, total)` before each break (the n-th of `total` today, or of `count`),
        `on_end(outcome, mpris_off)` after each, however it ended (outcome None when it raised; mpris_off, after
        the first, why it was not on the session bus), `on_skip(n)` for slots missed while away,
        `on_deaf(why)` once, after the break during or before which listening stopped (a microphone pulled out).
        Ctrl-C, or player.Interrupted (a signal during a break, with its outcome), propagates.
        """
        from . import history

        def prompt(deadline: datetime) -> None:
            n, total = ((self.done + 1, self.count) if self.count else
                        slot_in_day(deadline, self.period, self.start, self.end))
            if on_prompt is not None:
                on_prompt(deadline, n, total)
            outcome = None
            try:
                outcome = self.live.play(self.timeline, self.render, on_end=history.recorder(self.routine, self.timeline))
            finally:
                if on_end is not None:
                    on_end(outcome, self.live.mpris_off if self.done == 0 else None)
                if self.ears is not None and self.ears.failure and not self.not_listening:
                    self.not_listening = self.ears.failure  # said once: the day goes on without listening
                    if on_deaf is not None:
                        on_deaf(self.not_listening)
            self.done += 1
            if self.count is None or self.done < self.count:
                self.live.ready()  # before the next deadline, so opening the device never delays a prompt

        return run(self.clock, prompt, self.period, self.start, self.end, self.count, on_skip=on_skip)

    def close(self) -> None:
        self.live.close()
        if self.ears is not None:
            self.ears.close()
            self.not_listening = self.not_listening or self.ears.failure

    def __enter__(self) -> DeskMode:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
