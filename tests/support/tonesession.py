"""A made-up session of three steps, each sounding its own tone: what the export tests write and read back."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from voicecoach.encoding import export_audio
from voicecoach.timeline import Event, StepSpan, Timeline

RATE = 22050
FREQS = (440.0, 660.0, 990.0)  # one tone per step, so each chapter is recognisable by ear and by FFT
TITLES = ["Tennis ball psoas release (right)", "Tennis ball psoas release (left)", "Rest"]


def s(seconds: float) -> int:
    return round(seconds * RATE)


def session() -> Timeline:
    """Half a second of intro, then three steps; 5.75 s in all."""
    spans = [(0.5, 1.0, 2.5, "right"), (2.5, 3.0, 4.5, "left")]
    steps = [
        StepSpan(i, "Tennis ball psoas release", side, s(a), s(b), s(c), c - b)
        for i, (a, b, c, side) in enumerate(spans)
    ]
    steps.append(StepSpan(2, "Rest", None, s(4.5), s(4.5), s(5.5), 1.0, rest=True))
    events = []
    for step in steps:
        events.append(Event("speech", step.announce_sample, s(0.4), step.index, text=step.title, role="announce"))
        events.append(Event("chime", step.start_sample, s(0.2), step.index, sound="chime", role="start"))
    return Timeline("psoas", "Psoas release", RATE, s(5.75), tuple(steps), tuple(events))


def tones(timeline: Timeline):
    """Return a deterministic render: silence in the intro, then each step's own sine, from its announcement."""
    starts = np.array([step.announce_sample for step in timeline.steps])

    def render(start: int, n: int) -> np.ndarray:
        samples = np.arange(start, start + n)
        step = np.searchsorted(starts, samples, side="right") - 1
        freq = np.where(step >= 0, np.take(FREQS, np.clip(step, 0, None)), 0.0)
        return (0.5 * np.sin(2 * np.pi * freq * samples / RATE)).astype(np.float32)

    return render


def pulled(target: Path):
    """Export the test session to `target` in half-second blocks: (timeline, render calls, progress reports)."""
    timeline = session()
    render = tones(timeline)
    calls, reports = [], []

    def recording(start, n):
        calls.append((start, n))
        return render(start, n)

    export_audio(timeline, recording, target, block_seconds=0.5,
                 progress=lambda done, total: reports.append((done, total)))
    return timeline, calls, reports
