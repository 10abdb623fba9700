"""The background bed under the voice: its level, fades, ducking and looping, by plan.

Pure: the plan is a function of the timeline (where speech is) and of two
numbers measured on the bed (its length and the loudness of its loud
passages); no signal detector listens to the mix. `Bed.render(start, n)`
looks every gain up by absolute sample index in tables built once, so a block
does the same float32 arithmetic on each sample whatever its size or place:
no state runs from one block to the next, and no transcendental function is
evaluated per sample (their SIMD and scalar paths may differ in the last bit).
The bed's samples come from a reader (`sounds` decodes files into one), so
nothing here touches a file.
"""
from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from typing import Protocol

import numpy as np

DUCK_DB = 12.0  # the bed under speech, below its own level
LEVEL_DB = -20.0  # the bed's loud passages, below the speech's loudness
# The duck is fully down LEAD_S before the first word and stays down HOLD_S after
# the last, so no consonant is masked; the gain travels in raised-cosine ramps
# (in dB) of DOWN_S and UP_S. Phrases closer than DOWN_S + UP_S share one duck:
# an announcement's sentences (0.35 s apart) do not let the bed bob up between them.
LEAD_S, DOWN_S, HOLD_S, UP_S = 0.15, 0.25, 0.20, 0.60
FADE_IN_S, FADE_OUT_S = 3.0, 4.0
CROSSFADE_S = 3.0  # at the loop point of a file shorter than the session
# BS.1770 lets a 400 ms block into the integrated loudness when it is within
# 10 LU of the mean of all blocks. With speech for a share p of the session,
# bed-only blocks get in (and pull a session far below -16 LUFS) once the bed is
# louder than 0.1p / (0.9 + 0.1p) of the speech's power; the level stays this far
# under that line. Measured over the built-in routines: p is 0.18 to 0.46.
GATE_MARGIN_DB = 3.0


@dataclass(frozen=True)
class BedChoice:
    """Which bed a session asks for and how it sits under the voice (it travels in timeline.Options)."""

    name: str | None = None  # a bed name or an audio file from the caller: beats the routine's own
    off: bool = False  # no bed, whatever the routine or the config file says
    default: str | None = None  # the config file's bed, for a routine that names none
    duck_db: float = DUCK_DB
    level_db: float = LEVEL_DB


class Reader(Protocol):
    """The bed's own samples: read(pos, n) gives float32 samples [pos, pos + n) of [0, length)."""

    length: int

    def read(self, pos: int, n: int) -> np.ndarray: ...


@dataclass(frozen=True)
class BedPlan:
    """How the bed is mixed into one session (all lengths in samples); recorded in the timeline."""

    source: str  # the bed's name, or the file as it was given
    kind: str  # "bed" (built-in) or "file"
    length: int  # the bed before looping
    crossfade: int  # at each loop point; 0 for a seamless loop
    gain_db: float  # applied to the bed's samples before fades and ducking
    level_db: float  # the loud passages this far below the speech, after the cap below
    requested_level_db: float
    duck_db: float
    total: int  # the session's length
    fade_in: int
    fade_out: int
    down: int  # ramp into a duck
    up: int  # ramp out of a duck
    ducks: tuple[tuple[int, int], ...]  # fully ducked spans [a, b)

    @property
    def period(self) -> int:
        return self.length - self.crossfade

    def to_dict(self) -> dict:
        return {
            "source": self.source, "kind": self.kind,
            "level_db": round(self.level_db, 2), "requested_level_db": round(self.requested_level_db, 2),
            "gain_db": round(self.gain_db, 2), "duck_db": self.duck_db,
            "loop_samples": self.period, "crossfade_samples": self.crossfade,
            "fade_in_samples": self.fade_in, "fade_out_samples": self.fade_out,
            "duck_down_samples": self.down, "duck_up_samples": self.up,
            "ducks": [list(d) for d in self.ducks],
        }


def _samples(seconds: float, rate: int) -> int:
    return int(round(seconds * rate))


def duck_spans(speech: list[tuple[int, int]], rate: int) -> tuple[tuple[int, int], ...]:
    """The fully ducked spans: each phrase [start, end) widened by LEAD_S and HOLD_S, near ones merged."""
    lead, hold = _samples(LEAD_S, rate), _samples(HOLD_S, rate)
    bridge = _samples(DOWN_S, rate) + _samples(UP_S, rate)
    out: list[list[int]] = []
    for start, end in sorted(speech):
        a, b = start - lead, end + hold
        if out and a - out[-1][1] <= bridge:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return tuple((a, b) for a, b in out)


def gate_cap_db(speech_share: float) -> float:
    """The loudest level (dB against the speech) at which the bed stays out of the loudness gate."""
    p = min(max(speech_share, 1e-6), 1.0)
    return 10.0 * math.log10(0.1 * p / (0.9 + 0.1 * p)) - GATE_MARGIN_DB


def plan(timeline, source: str, kind: str, length: int, loud_db: float, choice: BedChoice,
         speech_lufs: float) -> BedPlan:
    """The bed's plan for `timeline`: a file shorter than it is crossfaded at its loop point.

    `loud_db` is the loudness of the bed's loud passages (see level.loud_passages_lufs);
    the bed is set `choice.level_db` below `speech_lufs` by it, or lower where the
    session has so little speech that the bed would decide its loudness (gate_cap_db).
    """
    rate, total = timeline.sample_rate, timeline.total_samples
    speech = [(e.sample, e.end) for e in timeline.events if e.is_speech]
    share = sum(b - a for a, b in speech) / max(total, 1)
    level_db = min(choice.level_db, gate_cap_db(share))
    # a built-in loops seamlessly as it is; a file as long as the session never loops
    crossfade = 0 if kind == "bed" or length >= total else min(_samples(CROSSFADE_S, rate), length // 3)
    fade_in, fade_out = _samples(FADE_IN_S, rate), _samples(FADE_OUT_S, rate)
    if fade_in + fade_out > total:  # a very short session: both fades shrink in proportion
        fade_in, fade_out = total * fade_in // (fade_in + fade_out), total * fade_out // (fade_in + fade_out)
    return BedPlan(source, kind, length, crossfade, speech_lufs + level_db - loud_db, level_db, choice.level_db,
                   choice.duck_db, total, fade_in, fade_out, _samples(DOWN_S, rate), _samples(UP_S, rate),
                   duck_spans(speech, rate))


def _ramp_down(n: int, floor: float) -> np.ndarray:
    """n gains falling from just under 1 to `floor`: a raised cosine in dB, so the ear hears an even glide."""
    x = np.arange(1, n + 1, dtype=np.float64) / max(n, 1)
    db = 20.0 * math.log10(floor) * (0.5 - 0.5 * np.cos(np.pi * x))
    return (10.0 ** (db / 20.0)).astype(np.float32)


def _fade_in(n: int) -> np.ndarray:
    x = (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1)
    return (np.sin(0.5 * np.pi * x) ** 2).astype(np.float32)


class Bed:
    """A BedPlan with the bed's reader: render(start, n) gives the bed's part of any block of the session."""

    def __init__(self, plan: BedPlan, reader: Reader):
        if reader.length != plan.length:
            raise ValueError(f"the bed has {reader.length} samples, the plan {plan.length}")
        self.plan, self.reader = plan, reader
        self.gain = np.float32(10.0 ** (plan.gain_db / 20.0))
        self.floor = np.float32(10.0 ** (-plan.duck_db / 20.0))
        self.down = _ramp_down(plan.down, float(self.floor))  # down[i]: i + 1 samples into the ramp
        self.up = _ramp_down(plan.up, float(self.floor))[::-1].copy()  # up[i]: i samples after the duck
        self.fade_in = _fade_in(plan.fade_in)
        self.fade_out = _fade_in(plan.fade_out)[::-1].copy()
        x = (np.arange(plan.crossfade, dtype=np.float64) + 0.5) / max(plan.crossfade, 1)
        # equal power: a song's tail and head are unrelated, so their powers add
        self.x_in = np.sin(0.5 * np.pi * x).astype(np.float32)
        self.x_out = np.cos(0.5 * np.pi * x).astype(np.float32)
        self.duck_ends = [b for _, b in plan.ducks]

    def render(self, start: int, n: int) -> np.ndarray:
        """The bed's samples [start, start + n) with every gain applied (zeros outside the session)."""
        out = np.zeros(n, dtype=np.float32)
        a, b = max(start, 0), min(start + n, self.plan.total)
        if a < b:
            out[a - start:b - start] = self._looped(a, b - a) * (self.gain * self._fades(a, b - a)
                                                                 * self._ducks(a, b - a))
        return out

    def _looped(self, start: int, n: int) -> np.ndarray:
        """The bed repeated: pass k >= 1 of period P starts with its head fading in over the last pass's tail."""
        out = np.empty(n, dtype=np.float32)
        period, cross = self.plan.period, self.plan.crossfade
        t, stop = start, start + n
        while t < stop:
            k, r = divmod(t, period)
            if k >= 1 and r < cross:
                m = min(cross - r, stop - t)
                out[t - start:t - start + m] = (self.reader.read(r, m) * self.x_in[r:r + m]
                                                + self.reader.read(period + r, m) * self.x_out[r:r + m])
            else:
                m = min(period - r, stop - t)
                out[t - start:t - start + m] = self.reader.read(r, m)
            t += m
        return out

    def _fades(self, start: int, n: int) -> np.ndarray:
        g = np.ones(n, dtype=np.float32)
        stop = start + n
        p, q = start, min(len(self.fade_in), stop)
        if p < q:
            g[:q - p] = self.fade_in[p:q]
        a = self.plan.total - len(self.fade_out)
        p, q = max(a, start), stop
        if p < q:
            g[p - start:] *= self.fade_out[p - a:q - a]
        return g

    def _ducks(self, start: int, n: int) -> np.ndarray:
        g = np.ones(n, dtype=np.float32)
        stop = start + n
        nd, nu = len(self.down), len(self.up)
        first = bisect_left(self.duck_ends, start - nu)
        for a, b in self.plan.ducks[first:]:
            if a - nd >= stop:
                break
            for lo, hi, values in ((a - nd, a, self.down), (a, b, None), (b, b + nu, self.up)):
                p, q = max(lo, start), min(hi, stop)
                if p < q:
                    part = self.floor if values is None else values[p - lo:q - lo]
                    np.minimum(g[p - start:q - start], part, out=g[p - start:q - start])
        return g
