"""The spotter: pocketsphinx keyword spotting over a stream of 16 kHz int16 blocks.

Two decoders run on the same audio: one with every command at its quiet
threshold, one with only the barge-in words at a stricter one (words.py). A
word acts only if it stands alone: the microphone is quieter before and after
it than during it, as when someone says "pause" on the floor, not when a
sentence (the coach's, or anyone's in the room) merely contains it. That check
waits ISOLATION_S after the word has fallen quiet, which is part of the latency.
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass

import numpy as np

from .words import BARGE_FACTOR, BARGE_IN, THRESHOLDS, keyword_list

RATE = 16000
FRAME = 160  # pocketsphinx's 10 ms frame at 16 kHz
ISOLATION_S = 0.25  # the quiet looked for on either side of a word
REACH_S = 0.4  # how far a word's loud stretch may run past the spotter's edges of it
LONGEST_S = 1.5  # a word still undecided this long after it is judged on what is known
QUIET_DB = 8.0  # how much quieter than the word its surroundings must be
RESTART_S = 20.0  # a fresh utterance now and then keeps the decoder's memory small


@dataclass(frozen=True)
class Heard:
    """A word spotted at microphone samples [start, end), `strict` when the barge-in spotter heard it too."""

    word: str
    score: float
    start: int
    end: int
    strict: bool
    alone: bool


class Spotter:
    """Feeds blocks to the decoders; `feed(block)` returns the words whose surroundings are now known."""

    def __init__(self, thresholds: dict[str, float] | None = None, isolation: bool = True):
        from pocketsphinx import Decoder

        words = dict(thresholds or THRESHOLDS)
        strict = {w: t * BARGE_FACTOR for w, t in words.items() if w in BARGE_IN}
        self.isolation = isolation
        self._rng = np.random.default_rng(0)
        self._decoders = [self._decoder(Decoder, words), self._decoder(Decoder, strict)]
        self._utt = [0, 0]  # the microphone sample each decoder's utterance began at
        self._fed = 0
        self._energy = np.zeros(0, dtype=np.float32)  # dB per 10 ms frame since _energy_base
        self._energy_base = 0
        self._pending: list[Heard] = []
        self._strict: list[Heard] = []

    @staticmethod
    def _decoder(Decoder, words: dict[str, float]):
        # pocketsphinx reads the keyword list from a file: written, read, and removed at once
        fd, path = tempfile.mkstemp(suffix=".kws")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(keyword_list(words))
            decoder = Decoder(kws=path, loglevel="FATAL")
        finally:
            os.unlink(path)
        decoder.start_utt()
        return decoder

    def feed(self, block: np.ndarray) -> list[Heard]:
        """Feed int16 samples; return the words now judged (alone or not), oldest first."""
        if len(block) == 0:
            return []  # pocketsphinx's process_raw takes no empty buffer (IndexError)
        # A microphone never gives exact zeros, but a sound server's silence does, and on exact
        # zeros the decoder's running cepstral mean drifts away: a whisper of dither keeps it sane.
        block = (np.asarray(block, dtype=np.int16) + self._rng.integers(-2, 3, len(block))).astype(np.int16)
        self._note_energy(block)
        raw = block.tobytes()
        for k, decoder in enumerate(self._decoders):
            decoder.process_raw(raw, False, False)
            hyp = decoder.hyp()
            if hyp is not None:
                heard = self._heard(decoder, self._utt[k], k == 1)
                (self._strict if k == 1 else self._pending).extend(heard)
                decoder.end_utt()
                decoder.start_utt()
                self._utt[k] = self._fed + len(block)
            elif self._fed + len(block) - self._utt[k] > RESTART_S * RATE:
                decoder.end_utt()
                decoder.start_utt()
                self._utt[k] = self._fed + len(block)
        self._fed += len(block)
        return self._ripe()

    def _heard(self, decoder, base: int, strict: bool) -> list[Heard]:
        found = []
        for seg in decoder.seg():
            word = seg.word.strip()
            if word in THRESHOLDS:
                score = math.log(max(seg.prob, 1e-300))
                found.append(Heard(word, round(score, 3), base + seg.start_frame * FRAME,
                                   base + (seg.end_frame + 1) * FRAME, strict, True))
        return found

    def _ripe(self) -> list[Heard]:
        out, waiting = [], []
        for h in self._pending:
            alone = self._alone(h.start, h.end)
            if alone is None and h.end + round(LONGEST_S * RATE) > self._fed:
                waiting.append(h)
                continue
            strict = any(s.word == h.word and abs(s.end - h.end) < 0.3 * RATE for s in self._strict)
            out.append(Heard(h.word, h.score, h.start, h.end, strict, bool(alone)))
        self._pending = waiting
        self._strict = [s for s in self._strict if s.end > self._fed - RATE]
        self._trim()
        return out

    def _note_energy(self, block: np.ndarray) -> None:
        x = block.astype(np.float32)
        n = len(x) // FRAME * FRAME  # blocks are whole frames (the listener reads them so)
        power = (x[:n].reshape(-1, FRAME) ** 2).mean(axis=1) + 1.0
        self._energy = np.concatenate([self._energy, 10 * np.log10(power).astype(np.float32)])

    def _db(self, start: int, end: int) -> np.ndarray:
        a = max(0, (start - self._energy_base) // FRAME)
        b = max(0, (end - self._energy_base) // FRAME)
        return self._energy[a:b]

    def _alone(self, start: int, end: int) -> bool | None:
        """Whether [start, end) is a word alone: within REACH_S of each of its edges there are
        ISOLATION_S QUIET_DB quieter than the word; None while the audio after it is still to come.

        The spotter's word edges are loose (it often fires before a final "s" has ended, and a
        word has short dips inside), so the quiet is looked for near the edges, not at them.
        """
        if not self.isolation:
            return True
        word = self._db(start, end)
        if len(word) == 0:
            return False
        quiet = float(np.percentile(word, 75)) - QUIET_DB
        reach, span = round(REACH_S * RATE) // FRAME, round(ISOLATION_S * RATE) // FRAME
        a = (start - self._energy_base) // FRAME
        b = (end - self._energy_base) // FRAME
        e = self._energy
        calm = lambda lo: float(np.percentile(e[lo:lo + span], 90)) <= quiet  # noqa: E731
        after = None
        for k in range(reach + 1):
            if b + k + span > len(e):
                return None
            if calm(b + k):
                after = True
                break
        if not after:
            return False  # speech runs on: a sentence, not a word alone
        return any(a - k - span < 0 or calm(a - k - span) for k in range(reach + 1))

    def _trim(self) -> None:
        keep = round(4 * RATE) // FRAME  # the longest word plus both sides, with room
        if len(self._energy) > 2 * keep:
            drop = len(self._energy) - keep
            self._energy = self._energy[drop:]
            self._energy_base += drop * FRAME
