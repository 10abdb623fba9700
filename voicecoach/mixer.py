"""Render any block of a timeline to PCM, so play and export stream the same samples.

Pure: it takes the timeline and the prepared clips (keyed by ("speech", text) or
("sound", name)), and for a timeline with a background the bed's reader, and
returns numpy blocks. Rendering [a, b) then [b, c) gives exactly the samples of
rendering [a, c): the bed's gains are looked up by sample, the limiter is
memoryless, nothing carries over.
"""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping

import numpy as np

from .bed import Bed, Reader
from .level import soft_limit
from .timeline import Event, Timeline


def key(event: Event) -> tuple[str, str]:
    """The clip an event plays: ("speech", text) or ("sound", name), so a word never shadows a sound."""
    return ("speech", event.text) if event.text is not None else ("sound", event.sound)


class Mixer:
    """A timeline with its clips, ready to render blocks in any order."""

    def __init__(self, timeline: Timeline, clips: Mapping[tuple[str, str], np.ndarray], bed: Reader | None = None):
        self.timeline = timeline
        if (bed is None) != (timeline.background is None):
            raise ValueError("a timeline with a background needs the bed's reader, and only such a timeline")
        self.bed = Bed(timeline.background, bed) if bed is not None else None
        self.events = sorted(timeline.events, key=lambda e: e.sample)
        self.starts = [e.sample for e in self.events]
        self.longest = max((e.samples for e in self.events), default=0)
        self.clips = {}
        for event in self.events:
            clip = clips[key(event)]
            if len(clip) != event.samples:
                raise ValueError(f"clip {key(event)!r} has {len(clip)} samples, the timeline planned {event.samples}")
            self.clips[key(event)] = np.asarray(clip, dtype=np.float32)

    def render(self, start: int, n: int) -> np.ndarray:
        """Samples [start, start + n) as float32; zeros before 0 and past the end."""
        out = np.zeros(n, dtype=np.float32)
        stop = start + n
        # only events that began at most `longest` samples before the block can reach into it
        lo = bisect_left(self.starts, start - self.longest)
        hi = bisect_left(self.starts, stop)
        for event in self.events[lo:hi]:
            a, b = max(event.sample, start), min(event.end, stop)
            if a < b:
                clip = self.clips[key(event)]
                out[a - start:b - start] += clip[a - event.sample:b - event.sample]
        if self.bed is not None:
            out += self.bed.render(start, n)
        return soft_limit(out)

