"""Hearing: one microphone block at a time through the canceller, the spotter and the gate.

This is the streaming code of the live listener and of the bench's simulated
room alike: `feed(block, sounding)` takes 16 kHz int16 microphone samples and
the session sample that was sounding when the block arrived (None while
nothing plays), and returns what became of each word heard.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..timeline import Timeline
from .gate import Gate, Verdict
from .reference import Reference
from .spotter import RATE, Heard, Spotter

MUTE_S = 0.3  # after an acknowledgement: its own echo dies away
# A word the canceller took this much out of was mostly the coach's echo, not someone in the room:
# a person's word over the coach keeps most of its power (0 dB speech-to-echo: about 3 dB taken).
ECHO_DB = 6.0


@dataclass(frozen=True)
class Event:
    """One word heard: the spotter's `heard` (microphone samples) and the gate's `verdict`."""

    heard: Heard
    verdict: Verdict


class Hearing:
    """The listening pipeline for a session at `rate`; `cancel` False runs without the echo canceller."""

    def __init__(self, rate: int, cancel: bool = True, isolation: bool = True, lag_s: float = 0.0):
        self.rate = rate
        self.reference = Reference(rate, RATE, lag_s)
        self.canceller = None
        if cancel:
            from .canceller import Canceller

            self.canceller = Canceller(RATE)
        self.spotter = Spotter(isolation=isolation)
        self.gate: Gate | None = None
        self._map: deque[tuple[int, int | None]] = deque(maxlen=400)  # (microphone end, session sample heard)
        self._fed = 0
        self._mute_until = -1
        self._taken: deque[tuple[int, float]] = deque(maxlen=1000)  # (microphone end, dB the canceller took)

    def follow(self, timeline: Timeline) -> None:
        """Judge words against `timeline` from now on (each routine of a plan in turn)."""
        self.gate = Gate(timeline)

    def mute(self, seconds: float) -> None:
        """Ignore words for `seconds` (plus MUTE_S) from now: an acknowledgement is sounding."""
        self._mute_until = self._fed + round((seconds + MUTE_S) * RATE)

    def feed(self, block: np.ndarray, sounding: int | None) -> list[Event]:
        """Run one microphone block (int16, whole 10 ms frames); return the words judged meanwhile."""
        reference = self.reference.take(len(block), sounding)
        self.reference.aligner.note(block, sounding)
        clean = self.canceller.process(block, reference) if self.canceller is not None else block
        self._fed += len(block)
        if self.canceller is not None:
            self._taken.append((self._fed, _power_db(block) - _power_db(clean)))
        self._map.append((self._fed, None if sounding is None else sounding - self.reference.lag))
        return [Event(h, self._judge(h)) for h in self.spotter.feed(clean)]

    def _judge(self, heard: Heard) -> Verdict:
        if heard.end <= self._mute_until and heard.end >= self._mute_until - round(3 * RATE):
            return Verdict(heard.word, heard.score, None, "the acknowledgement was sounding")
        if not heard.alone:
            return Verdict(heard.word, heard.score, None, "not a word alone (speech around it)")
        if self.gate is None:
            return Verdict(heard.word, heard.score, None, "nothing playing")
        verdict = self.gate.judge(heard.word, heard.score, heard.strict, self._session(heard.start),
                                  self._session(heard.end))
        if verdict.reason == "barge-in" and self._echo(heard):
            return Verdict(heard.word, heard.score, None, "over the coach: mostly the coach's echo")
        return verdict

    def _echo(self, heard: Heard) -> bool:
        """Whether the canceller took ECHO_DB or more out of the microphone while the word was said."""
        taken = [db for end, db in self._taken if heard.start < end <= heard.end + 320]
        return bool(taken) and float(np.median(taken)) >= ECHO_DB

    def _session(self, mic: int) -> int | None:
        """The session sample the microphone heard at microphone sample `mic` (None: nothing played)."""
        for end, session in reversed(self._map):
            if end <= mic or end == self._map[0][0]:
                if session is None:
                    return None
                return session + round((mic - end) * self.rate / RATE)
        return None

    def close(self) -> None:
        if self.canceller is not None:
            self.canceller.close()


def _power_db(block: np.ndarray) -> float:
    x = block.astype(np.float32)
    return 10 * float(np.log10(np.mean(x * x) + 1.0))
