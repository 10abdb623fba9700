"""What the live panel says: where a session is (step, time left, what is next), from its timeline alone."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..duration import clock
from ..timeline import StepSpan, Timeline


@dataclass(frozen=True)
class Place:
    """Where a routine sits in a plan: routine `index` (0-based) of `count`, times in seconds."""

    index: int
    count: int
    before: float  # the plan's seconds before this routine
    total: float  # the whole plan's seconds
    next_title: str | None = None  # the routine after this one


def step_at(timeline: Timeline, sample: int) -> StepSpan | None:
    """The step whose announcement or interval holds `sample` (the last one started)."""
    current = None
    for span in timeline.steps:
        if span.announce_sample <= sample:
            current = span
    return current


def timed_done(timeline: Timeline, position: int, start: int = 0) -> float:
    """Seconds of timed work (holds and rests) played between `start` and `position`."""
    done = sum(max(0, min(position, s.end_sample) - max(start, s.start_sample)) for s in timeline.steps)
    return done / timeline.sample_rate


def next_step(timeline: Timeline, sample: int) -> StepSpan | None:
    return next((s for s in timeline.steps if s.announce_sample > sample), None)


def status(timeline: Timeline, sample: int, paused: bool = False, place: Place | None = None) -> str:
    """The one-screen summary: current step and side, time left, what is next, overall progress.

    In a plan of several routines (`place`) the first line says which routine
    this is, and the time is the plan's.
    """
    rate = timeline.sample_rate
    span = step_at(timeline, sample)
    several = place is not None and place.count > 1
    lines = [f"Routine {place.index + 1} of {place.count}: {timeline.title}" if several else timeline.title]
    if sample < timeline.lead_in_samples:
        # a countdown, so it never shows 0:00 while time is left
        lines.append(f"Get into position: {clock(math.ceil((timeline.lead_in_samples - sample) / rate))}")
    elif span is None:
        lines.append("Introduction")
    else:
        if sample < span.start_sample:
            left = f"starts in {clock((span.start_sample - sample) / rate)}"
        else:
            left = f"{clock(max(0, span.end_sample - sample) / rate)} left"
        lines.append(f"Step {span.index + 1} of {timeline.steps_in_routine}: {span.title}  ({left})")
    nxt = next_step(timeline, sample)
    after = place.next_title if place is not None else None
    lines.append(f"Next: {nxt.title}" if nxt else f"Next: {after}" if after else "Next: the end")
    done = min(sample, timeline.total_samples) / rate
    before, total = (place.before, place.total) if place is not None else (0.0, timeline.seconds)
    lines.append(f"{clock(before + done)} / {clock(total)}" + ("   PAUSED (space to resume)" if paused else ""))
    lines.append("keys: space pause · n next · b restart step · q quit")
    return "\n".join(lines)

