"""The timing engine: a routine becomes one list of events on one sample clock.

Pure and deterministic: it takes the routine, the length of every speech clip
and every sound, and returns a Timeline. It never synthesizes, plays or writes.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from . import interval, wording
from .bed import BedChoice, BedPlan
from .clock import Clock, Event
from .duration import samples

__all__ = ["Event", "FORMAT", "Options", "StepSpan", "Timeline", "compile", "phrases", "sounds_needed"]

FORMAT = "voicecoach-timeline/1"


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


def compile(routine, speech: Mapping[str, int], sounds: Mapping[str, int],
            options: Options = Options(), problems: list | None = None) -> Timeline:
    """Turn a routine into a Timeline; `speech` and `sounds` give each clip's length in samples.

    Guarantees the rules of the routine format: exact intervals, elastic announcements,
    cues at exact offsets, no overlapping speech. A cue that cannot fit raises RoutineError,
    or, when a `problems` list is given, is added to it and left out (validate reports them all).
    """
    from .routines.model import expand

    rate = options.sample_rate
    clock = Clock(speech, sounds, rate)
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
    for text in opening(routine, options):
        pos = clock.say(text, pos + (waited.get(-said, 0) if said else 0), None) + gap
        said += 1
    spans: list[StepSpan] = []
    for turn in wording.turns(steps, options.start_step):
        i, exp = turn.index, turn.exp
        n = samples(exp.duration * options.scale, rate)
        if turn.continued:
            announce = start = spans[-1].end_sample  # the boundary chime is already there
        else:
            pos += waited.get(i, 0)
            announce = pos
            for text in turn.announcement:
                pos = clock.say(text, pos, i) + gap
            start = pos - gap + samples(exp.step.prep, rate)
            clock.play("chime", chimes["start"], start, i, "start")
        end = start + n
        spans.append(StepSpan(i, exp.name, exp.side, announce, start, end, n / rate, rest=exp.rest))
        first_chime = chimes["end" if turn.continued and exp.rest else "start"]  # the chime that rings at `start`
        interval.fill(clock, turn, routine.countdown, start, end, options.scale, gap, chimes, first_chime, problems)
        if turn.continues:
            role = "end" if turn.nxt.rest else "start"
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


def phrases(routine, options: Options) -> list[str]:
    """Every text `compile` may speak with these options, in order of first use (what to synthesize)."""
    from .routines.model import expand

    out = [wording.GET_READY] if options.lead_in > 0 else []
    out += opening(routine, options)
    for turn in wording.turns(expand(routine), options.start_step):
        out += turn.texts()
    out.append(routine.outro or wording.DEFAULT_OUTRO)
    return list(dict.fromkeys(out))


def sounds_needed(routine) -> list[str]:
    """Every sound name the timeline may play (chimes by role, and the cues' own sounds), from any start step."""
    from .routines.model import expand

    names = list(wording.chimes(routine).values())
    names += [cue.sound for turn in wording.turns(expand(routine)) for cue, _ in turn.cues if cue.sound]
    return list(dict.fromkeys(names))


def opening(routine, options: Options) -> list[str]:
    """What is said before the first step: the intro and the safety reminder, unless the session starts later."""
    if options.start_step > 0:
        return []
    safety = options.safety_text if routine.safety and options.safety else None
    return [text for text in (routine.intro, safety) if text]
