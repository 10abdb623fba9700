"""The sample clock: an Event is one sound on it, and a Clock places events knowing every length.

Pure: the timeline's compile loop and the interval filling (interval.py) put
their events here; nothing is synthesized, played or written.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


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


class Clock:
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
