"""The timing engine: a routine becomes one list of events on one sample clock.

Pure and deterministic: it takes the routine, the length of every speech clip
and every sound, and returns a Timeline. It never synthesizes, plays or writes.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .bed import BedChoice, BedPlan
from . import wording
from .duration import samples
from .text import quote
# the wording moved to its own module; these names stay importable from here
from .wording import DEFAULT_CHIMES, phrases, sounds_needed  # noqa: F401

FORMAT = "voicecoach-timeline/1"


@dataclass(frozen=True)
class Event:
    """One sound on the clock: `sample` is its first sample, `samples` its length.

    kind is "speech", "chime", "tick", "breath" or "sound" (a routine's own cue sound).
    Speech (and spoken breath cues) carry `text`; everything else carries `sound`.
    """

    kind: str
    sample: int
    samples: int
    step: int | None
    text: str | None = None
    sound: str | None = None
    role: str | None = None
    phase: str | None = None
    spoken: bool | None = None

    @property
    def end(self) -> int:
        return self.sample + self.samples

    @property
    def is_speech(self) -> bool:
        return self.text is not None

    def to_dict(self) -> dict:
        out = {"kind": self.kind, "sample": self.sample, "samples": self.samples, "step": self.step}
        for key in ("text", "sound", "role", "phase", "spoken"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True)
class StepSpan:
    """One expanded step (sides and repeats unrolled; a rest is a step too).

    Its timed interval is [start_sample, end_sample), exactly round(duration * rate) long.
    """

    index: int
    name: str
    side: str | None
    announce_sample: int
    start_sample: int
    end_sample: int
    duration_s: float
    rest: bool = False

    @property
    def title(self) -> str:
        return f"{self.name} ({self.side})" if self.side else self.name

    def to_dict(self) -> dict:
        out = {
            "index": self.index,
            "name": self.name,
            "side": self.side,
            "announce_sample": self.announce_sample,
            "start_sample": self.start_sample,
            "end_sample": self.end_sample,
            "duration_s": self.duration_s,
        }
        if self.rest:
            out["rest"] = True
        return out


@dataclass(frozen=True)
class Timeline:
    """A whole session: its steps and its events (sorted by sample), on one clock."""

    routine: str
    title: str
    sample_rate: int
    total_samples: int
    steps: tuple[StepSpan, ...] = field(default_factory=tuple)
    events: tuple[Event, ...] = field(default_factory=tuple)
    background: BedPlan | None = None  # the bed under the voice, if any (bed.plan)
    # How many steps the routine has: more than `steps` holds when the session
    # starts at a later step (--from), whose spans keep their real index.
    step_count: int | None = None
    lead_in_samples: int = 0  # the get-ready time at the start (live play), before anything else is said

    @property
    def seconds(self) -> float:
        return self.total_samples / self.sample_rate

    @property
    def steps_in_routine(self) -> int:
        """How many steps the routine has, counting those before a later start step."""
        return self.step_count if self.step_count is not None else len(self.steps)

    @property
    def timed_samples(self) -> int:
        return sum(s.end_sample - s.start_sample for s in self.steps)

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "routine": self.routine,
            "title": self.title,
            "sample_rate": self.sample_rate,
            "total_samples": self.total_samples,
            "steps": [s.to_dict() for s in self.steps],
            "events": [e.to_dict() for e in self.events],
        } | ({"background": self.background.to_dict()} if self.background else {}) \
            | ({"step_count": self.step_count} if self.step_count not in (None, len(self.steps)) else {}) \
            | ({"lead_in_samples": self.lead_in_samples} if self.lead_in_samples else {})


# ------------------------------------------------------------------ compiling

@dataclass(frozen=True)
class Options:
    """How a routine becomes a timeline; one value travels through the whole pipeline."""

    sample_rate: int = 22050
    scale: float = 1.0  # multiplies every timed duration (and cue offsets), still exact to the sample
    safety: bool = True  # speak the short red-flag reminder where the routine asks for it
    lead_in: float = 0.0  # seconds at the very start to lie down ("Get ready"), for live play
    start_step: int = 0  # index into the expanded steps to start from; skips intro and reminder
    gap: float = 0.35  # silence between two phrases, so sentences do not run together
    tail: float = 0.5  # silence after the closing chime
    safety_text: str = ""
    background: BedChoice = BedChoice()  # which bed to mix under the voice, and how
    # Silence added before a step's announcement ((expanded step index, samples); the step count
    # for the outro, -k for the k-th opening words): where a live play that starts before all
    # its speech exists waits for it.
    waits: tuple[tuple[int, int], ...] = ()


class _Clock:
    """Places events; knows every length, so the compile loop reads like the contract."""

    def __init__(self, speech: Mapping[str, int], sounds: Mapping[str, int], rate: int):
        self.speech, self.sound_len, self.rate = speech, sounds, rate
        self.events: list[Event] = []

    def say(self, text: str, at: int, step: int | None) -> int:
        ev = Event("speech", at, self.speech[text], step, text=text)
        self.events.append(ev)
        return ev.end

    def play(self, kind: str, name: str, at: int, step: int | None, role: str) -> int:
        ev = Event(kind, at, self.sound_len[name], step, sound=name, role=role)
        self.events.append(ev)
        return ev.end


def compile(routine, speech: Mapping[str, int], sounds: Mapping[str, int],
            options: Options = Options(), problems: list | None = None) -> Timeline:
    """Turn a routine into a Timeline; `speech` and `sounds` give each clip's length in samples.

    Guarantees the rules of the routine format: exact intervals, elastic announcements,
    cues at exact offsets, no overlapping speech. A cue that cannot fit raises RoutineError,
    or, when a `problems` list is given, is added to it and left out (validate reports them all).
    """
    from .routines.model import expand

    rate = options.sample_rate
    clock = _Clock(speech, sounds, rate)
    chimes = wording.chimes(routine)
    gap = samples(options.gap, rate)
    steps = expand(routine)
    if not 0 <= options.start_step < len(steps):
        raise ValueError(f"start_step {options.start_step} is outside 0..{len(steps) - 1}")
    waited = dict(options.waits)
    pos = 0
    if options.lead_in > 0:
        pos = max(clock.say(wording.GET_READY, 0, None) + gap, samples(options.lead_in, rate))
    lead_in = pos
    said = 1 if lead_in else 0  # opening words said: a wait before the k-th goes under key -k
    if options.start_step == 0:
        for text in (routine.intro, wording.safety(routine, options)):
            if text:
                pos = clock.say(text, pos + (waited.get(-said, 0) if said else 0), None) + gap
                said += 1
    spans: list[StepSpan] = []
    for i in range(options.start_step, len(steps)):
        exp = steps[i]
        nxt = steps[i + 1] if i + 1 < len(steps) else None
        prev = steps[i - 1] if i > options.start_step else None
        n = samples(exp.duration * options.scale, rate)
        continuing = wording.continues(prev, exp)
        if continuing:
            announce = start = spans[-1].end_sample  # the boundary chime is already there
        else:
            pos += waited.get(i, 0)
            announce = pos
            for text in wording.announcement(exp, nxt):
                pos = clock.say(text, pos, i) + gap
            start = pos - gap + samples(exp.step.prep, rate)
            clock.play("chime", chimes["start"], start, i, "start")
        end = start + n
        spans.append(StepSpan(i, exp.name, exp.side, announce, start, end, n / rate, rest=exp.rest))
        opening = chimes["end" if continuing and exp.rest else "start"]  # the chime that rings at `start`
        _fill_interval(clock, routine, exp, nxt, i, start, end, options, chimes, opening, problems)
        if nxt is not None and wording.continues(exp, nxt):
            role = "end" if nxt.rest else "start"
            clock.play("chime", chimes[role], end, i, role)
            pos = end
        else:
            pos = clock.play("chime", chimes["end"], end, i, "end") + gap
    pos = clock.say(routine.outro or wording.DEFAULT_OUTRO, pos + waited.get(len(steps), 0), None) + gap
    pos = clock.play("chime", chimes["complete"], pos, None, "complete")
    total = pos + samples(options.tail, rate)
    events = tuple(sorted(clock.events, key=lambda e: (e.sample, e.kind)))
    return Timeline(routine.id, routine.title, rate, total, tuple(spans), events, step_count=len(steps),
                    lead_in_samples=lead_in)


def _offset(cue, n: int, scale: float, rate: int) -> int:
    if cue.anchor == "share":
        return round(cue.offset * n)
    off = samples(cue.offset * scale, rate)
    return n - off if cue.anchor == "end" else off


def _fill_interval(clock: _Clock, routine, exp, nxt, index: int, start: int, end: int,
                   options: Options, chimes: dict[str, str], opening: str, problems: list | None = None) -> None:
    """Cues, halfway, breathing and countdown inside one timed interval [start, end).

    The chime that opens the interval is kept clear of speech, so the listener (and
    a detector) hears its attack cleanly: cues over it are errors, breath cues dropped.
    """
    rate, n, step = clock.rate, end - start, exp.step
    count = step.countdown if step.countdown is not None else routine.countdown
    ticks = [end - k * rate for k in range(count, 0, -1) if end - k * rate > start]
    # spoken words must be over before the first tick (or the end when there is no countdown)
    limit = max(start, end - count * rate) if count else end
    where_end = "the countdown" if count else "the end of the interval"

    # The routine as written must fit (an error names the line). A session scaled
    # with --scale drops what no longer fits instead: the author's routine was valid.
    strict = options.scale == 1.0

    def refuse(where, message: str) -> None:
        if strict and problems is not None:
            problems.append(where.error(message))
        elif strict:
            raise where.error(message)

    def fits(label: str, at: int, length: int, where) -> bool:
        if at + length <= limit:
            return True
        refuse(where, f"{label} takes {length / rate:.1f} s to say from {(at - start) / rate:.1f} s and would run "
                      f"past {where_end} at {(limit - start) / rate:.1f} s of this {n / rate:g} s interval; "
                      "say it earlier or shorten it")
        return False

    fixed: list[tuple[int, int, object, str, Event]] = []  # (at, end, where, label, event)
    if exp.rest:
        text = wording.rest_words(nxt)
        at = start + clock.sound_len[opening] + samples(options.gap, rate)
        length = clock.speech[text]
        if at + length <= limit:  # generated words: a rest too short for them stays silent
            fixed.append((at, at + length, None, text, Event("speech", at, length, index, text=text, role="rest")))
    for cue in () if exp.rest else step.cues:  # a rest is not the step: its cues stay out
        off = _offset(cue, n, options.scale, rate)
        if not 0 <= off < n:
            refuse(cue.where, f"this cue at {off / rate:g} s falls outside the {n / rate:g} s interval; "
                              "expected an offset inside it")
            continue
        at = start + off
        if cue.say:
            text = wording.fill(cue.say, exp, nxt)
            length = clock.speech[text]
            if fits(f"the cue {quote(text, 80)}", at, length, cue.where):
                fixed.append((at, at + length, cue.where, f"the cue {quote(text, 80)}",
                              Event("speech", at, length, index, text=text, role="cue")))
        else:
            length = clock.sound_len[cue.sound]
            fixed.append((at, at + length, cue.where, f"the sound {quote(cue.sound)}",
                          Event("sound", at, length, index, sound=cue.sound, role="cue")))
    if step.halfway and not exp.rest:
        at = start + n // 2
        event = None
        if isinstance(step.halfway, str):
            text = wording.fill(step.halfway, exp, nxt)
            length = clock.speech[text]
            if fits(f"the halfway words {quote(text, 80)}", at, length, step.where):
                event = Event("speech", at, length, index, text=text, role="halfway")
        else:
            event = Event("chime", at, clock.sound_len[chimes["halfway"]], index, sound=chimes["halfway"],
                          role="halfway")
        if event is not None:
            fixed.append((at, event.end, step.where, "the halfway cue", event))
    fixed.append((start, start + clock.sound_len[opening], None, "the start chime", None))
    fixed.sort(key=lambda f: (f[0], f[4] is not None))
    kept = fixed[:1]
    for after in fixed[1:]:
        before = kept[-1]
        if after[0] < before[1] and after[2] is not None:
            refuse(after[2], f"{after[3]} at {(after[0] - start) / rate:g} s overlaps {before[3]}, which lasts "
                             f"until {(before[1] - start) / rate:.1f} s; cues may not overlap, so move one of them")
            continue
        kept.append(after)
    fixed = kept
    clock.events += [f[4] for f in fixed if f[4] is not None]
    if step.breathe and not exp.rest:
        _breathe(clock, step.breathe, index, start, limit, [(f[0], f[1]) for f in fixed], chimes)
    clock.events += [Event("tick", t, clock.sound_len[chimes["tick"]], index, sound=chimes["tick"],
                           role="countdown") for t in ticks]


def _breathe(clock: _Clock, pattern, index: int, start: int, limit: int,
             busy: list[tuple[int, int]], chimes: dict[str, str]) -> None:
    """Breathing cues from `start`; whole cycles only, dropped (never moved) where they would collide."""
    rate = clock.rate
    phases = [(p, samples(getattr(pattern, wording.BREATH_FIELDS[p]), rate)) for p in ("in", "hold", "out", "hold_out")]
    cycle = sum(length for _, length in phases)
    spoken_until = start
    cycle_start, number = start, 0
    while cycle_start + cycle <= limit:
        at = cycle_start
        for phase, length in phases:
            if length == 0:
                continue
            talk = number < pattern.spoken
            if talk:
                text = wording.BREATH_WORDS[phase]
                event = Event("breath", at, clock.speech[text], index, text=text, phase=phase, spoken=True)
            elif phase in wording.BREATH_TONES:
                name = chimes["breath-" + phase]
                event = Event("breath", at, clock.sound_len[name], index, sound=name, phase=phase, spoken=False)
            else:
                at += length
                continue
            clash = any(event.sample < b_end and b_start < event.end for b_start, b_end in busy)
            if talk and (event.end > limit or event.sample < spoken_until):
                clash = True
            if not clash:
                clock.events.append(event)
                if talk:
                    spoken_until = event.end
            at += length
        cycle_start += cycle
        number += 1
