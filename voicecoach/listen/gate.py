"""The gate: whether a heard word may act, from the session's own timeline (pure).

voicecoach knows to the sample when its own speech and sounds play. A word
heard while the coach speaks (plus `tail` for the room's echo) is barge-in:
only "pause" and "stop", and only from the strict spotter; over a chime none. A word the coach is
saying at that moment never acts, whatever the spotter says: "Next: knee hug"
must not skip a step even with the echo canceller off.
"""
from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from ..timeline import Timeline
from .words import BARGE_IN, COMMANDS, SOUNDS_LIKE

TAIL_S = 0.3  # a living room's reverb dies away well within this


@dataclass(frozen=True)
class Verdict:
    """What became of one heard word: `command` when it acts, else None and `reason`."""

    word: str
    score: float
    command: str | None
    reason: str


class Gate:
    """Judges words heard at session samples against `timeline`'s own sounds."""

    def __init__(self, timeline: Timeline, tail_s: float = TAIL_S):
        tail = round(tail_s * timeline.sample_rate)
        # a chime has no words: None marks it (a word over it never acts, see judge)
        spans = sorted((e.sample, e.end + tail, _words(e.text) if e.is_speech else None)
                       for e in timeline.events if e.samples > 0)
        self._starts = [s for s, _, _ in spans]
        self._spans = spans
        self._longest = max((b - a for a, b, _ in spans), default=0)

    def sounding(self, start: int, end: int) -> list[frozenset[str] | None]:
        """The words of every own sound (None for a chime) that overlaps session samples [start, end]."""
        hi = bisect_right(self._starts, end)
        lo = bisect_right(self._starts, start - self._longest - 1)
        return [words for a, b, words in self._spans[lo:hi] if a <= end and b >= start]

    def judge(self, word: str, score: float, strict: bool, start: int | None, end: int | None) -> Verdict:
        """The verdict on `word` heard over session samples [start, end] (None: paused, nothing plays).

        `strict` says whether the barge-in spotter heard it too.
        """
        if start is None and end is None:
            return Verdict(word, score, COMMANDS[word], "quiet")
        # A word that began before the session did ends over its first sounds (the spotter's word
        # reaches back past the start: "pause" was heard in the desk prompt's chime that way), and one
        # whose end came after a pause began while the session sounded: judge the part that played.
        start = 0 if start is None else start
        end = start if end is None else end
        own = self.sounding(start, end)
        if not own:
            return Verdict(word, score, COMMANDS[word], "quiet")
        if any(words is None for words in own):
            # Barge-in is for the coach's speech. A chime's echo is a short, clean, isolated sound,
            # the very shape of a word said alone, and the spotter heard "pause" in one; a chime
            # lasts at most 1.5 s, so whoever said a word over it says it again.
            return Verdict(word, score, None, "over the session's own chime")
        alike = {word, *SOUNDS_LIKE.get(word, ())}
        if any(alike & words for words in own):
            return Verdict(word, score, None, "the coach says it")
        if word not in BARGE_IN:
            return Verdict(word, score, None, "over the coach: only pause and stop")
        if not strict:
            return Verdict(word, score, None, "over the coach: below the barge-in threshold")
        return Verdict(word, score, COMMANDS[word], "barge-in")


def _words(text: str | None) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z]+", text.lower())) if text else frozenset()
