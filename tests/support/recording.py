"""Read a recording of a live play as pieces of the stream that was sent.

A sink that plays every sample once, in order, gives back a recording that is
the stream itself with silence inserted where the server had nothing to play
(a stall longer than what was queued) or where the listener paused.
Following the recording through the stream sample for sample, and finding
where it takes up the stream again after they part, tells exactly how much
silence was inserted at each join and whether anything was skipped or
repeated there: a stall shows as inserted silence with nothing skipped, a
pause as inserted silence plus the resume error.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Piece:
    """``length`` samples at recording index ``rec`` equal the stream from ``at``."""

    rec: int
    length: int
    at: int


@dataclass(frozen=True)
class Join:
    """What happened between two pieces.

    ``rec`` is the recording index where the silence between them begins;
    ``silence`` is the silence inserted there (samples the listener heard that
    the stream does not hold); ``skipped`` is the stream samples jumped over
    that were not all zero (negative: repeated). A stall that is heard:
    silence > 0, skipped == 0.
    """

    rec: int
    silence: int
    skipped: int


def _locate(stream: np.ndarray, piece: np.ndarray, near: int, reach: int, sure: int = 512) -> int | None:
    """Return where ``piece`` (an anchor and what follows it) continues the stream, nearest ``near``.

    A short anchor of quiet sound can occur in several places; the nearest
    place where at least ``sure`` samples agree wins, else the longest agreement.
    """
    size = min(32, len(piece))
    lo, hi = max(0, near - reach), min(len(stream) - size, near + reach)
    if hi < lo:
        return None
    first = np.flatnonzero(stream[lo:hi + 1] == piece[0]) + lo
    best, best_len = None, 0
    for start in sorted(first.tolist(), key=lambda s: abs(s - near)):
        if not np.array_equal(stream[start:start + size], piece[:size]):
            continue
        n = min(len(piece), len(stream) - start, 4 * sure)
        differ = np.flatnonzero(stream[start:start + n] != piece[:n])
        agree = int(differ[0]) if len(differ) else n
        if agree >= min(sure, n):
            return start
        if agree > best_len:
            best, best_len = start, agree
    return best


def pieces(recording: np.ndarray, stream: np.ndarray, first_at: int = 0, anchor: int = 32,
           reach: int = 10 * 22050) -> list[Piece]:
    """Cut the int16 ``recording`` into runs that equal the int16 ``stream`` sample for sample.

    From an anchor (``anchor`` non-zero samples in a row, found exactly in the
    stream nearest where the last piece ended, the first nearest ``first_at``)
    a piece runs as long as recording and stream agree. Where they part, the
    next anchor in the recording starts the next piece. Raises AssertionError
    naming the recording index of an anchor that is not in the stream at all
    (samples changed, not merely delayed).
    """
    recording = np.asarray(recording)
    nonzero = np.concatenate(([0], np.cumsum(recording != 0)))
    anchors = np.flatnonzero(nonzero[anchor:] - nonzero[:-anchor] == anchor)  # windows with no zero
    out: list[Piece] = []
    near = first_at
    k = np.searchsorted(anchors, 0)
    while k < len(anchors):
        i = int(anchors[k])
        j = _locate(stream, recording[i:i + 4096], near, reach)
        if j is None:
            raise AssertionError(f"the recording at sample {i} is not in the stream")
        # back from the anchor as far as both agree: quiet samples that hold no anchor belong to it too
        done = out[-1].rec + out[-1].length if out else 0
        back = min(i - done, j)
        if back > 0:
            differ = np.flatnonzero(recording[i - back:i][::-1] != stream[j - back:j][::-1])
            back = int(differ[0]) if len(differ) else back
            i, j = i - back, j - back
        n = min(len(recording) - i, len(stream) - j)
        differ = np.flatnonzero(recording[i:i + n] != stream[j:j + n])
        length = int(differ[0]) if len(differ) else n
        out.append(Piece(i, length, j))
        near = j + length
        k = np.searchsorted(anchors, i + length)
    return out


def joins(found: list[Piece], stream: np.ndarray) -> list[Join]:
    """Return what happened between each two consecutive pieces (see ``Join``)."""
    out = []
    for a, b in zip(found, found[1:]):
        heard_gap = b.rec - (a.rec + a.length)  # zeros in the recording between them
        jumped = b.at - (a.at + a.length)  # stream samples between them
        if jumped >= 0 and not stream[a.at + a.length:b.at].any():
            # the stream's own zeros, played as zeros: only the rest was inserted
            out.append(Join(a.rec + a.length, heard_gap - jumped, 0))
        else:  # sound jumped over (skipped > 0), or played twice (skipped < 0)
            out.append(Join(a.rec + a.length, heard_gap, jumped))
    return out
