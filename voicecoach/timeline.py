"""The timing engine: a routine becomes one list of events on one sample clock.

Pure and deterministic: it takes the routine, the length of every speech clip
and every sound, and returns a Timeline. It never synthesizes, plays or writes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

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

    @property
    def seconds(self) -> float:
        return self.total_samples / self.sample_rate

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
        }
