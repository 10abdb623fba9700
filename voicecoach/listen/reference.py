"""The echo canceller's reference: the samples voicecoach played, at the moment the microphone hears them.

The player's render is tapped (`tap`): every block sent to the sink lands in a
ring by its session sample. For each microphone block the listener says which
session sample was sounding as the block arrived; the reference for the block
is the ring just before that, moved back by the measured delay (the sound
server's queue to the speaker, the air, the capture), resampled to 16 kHz as
one continuous stream. The delay is measured by cross-correlating the
microphone with the ring now and then (`Aligner`), and only a clear peak moves it.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

RING_S = 8.0  # the sink renders up to 2 s ahead; the listener reads at most ~1 s behind
JUMP_S = 0.03  # a cursor further than this from where it should be jumps (a seek, a pause)
MAX_LAG_S = 0.5  # the longest delay looked for
WINDOW_S = 1.5  # microphone audio per delay measurement
EVERY_S = 2.0  # one measurement per this much microphone audio with sound in it


class Reference:
    """The ring of played samples and the aligned, resampled reference stream (int16 at `out_rate`)."""

    def __init__(self, rate: int, out_rate: int = 16000, lag_s: float = 0.0):
        import soxr

        self.rate, self.out_rate = rate, out_rate
        self._ring = np.zeros(int(RING_S * rate), dtype=np.float32)
        self._soxr = soxr
        self._stream = None
        self._fifo = np.zeros(0, dtype=np.float32)
        self._cursor: float | None = None  # the session sample the next block's reference starts at
        self._fed = 0.0  # the session sample the resampler is to be given next (ahead of the cursor)
        self.lag = round(lag_s * rate)  # session samples between "sounding" and "heard by the microphone"
        self.aligner = Aligner(self)

    def tap(self, render: Callable[[int, int], np.ndarray]) -> Callable[[int, int], np.ndarray]:
        """`render` that also keeps what it returns; thread-safe enough: one writer (the sink's feeder)."""
        def tapped(start: int, n: int) -> np.ndarray:
            block = render(start, n)
            self.put(start, np.asarray(block, dtype=np.float32).reshape(-1))
            return block
        return tapped

    def put(self, start: int, block: np.ndarray) -> None:
        size = len(self._ring)
        if len(block) > size:
            start, block = start + len(block) - size, block[-size:]
        idx = (np.arange(len(block)) + start) % size
        self._ring[idx] = block

    def played(self, start: int, stop: int) -> np.ndarray:
        """Session samples [start, stop) from the ring (zeros before the session's start)."""
        idx = np.arange(start, stop)
        out = self._ring[idx % len(self._ring)].copy()
        out[idx < 0] = 0.0
        return out

    def take(self, n: int, sounding: int | None) -> np.ndarray:
        """The int16 reference for a microphone block of `n` samples that ended as `sounding` played.

        `sounding` None: nothing plays (paused, stopped): silence, and the stream starts afresh.
        """
        if sounding is None:
            self._cursor = None
            return np.zeros(n, dtype=np.int16)
        step = n * self.rate / self.out_rate
        target = sounding - self.lag - step
        if self._cursor is None or abs(self._cursor - target) > JUMP_S * self.rate:
            self._stream = self._soxr.ResampleStream(self.rate, self.out_rate, 1, dtype="float32")
            self._fifo = np.zeros(0, dtype=np.float32)
            self._fed = target
        self._cursor = target + step
        # soxr's output starts exactly at its input's first sample but holds its filter's delay back
        # (about 20 ms): the ring is read that far ahead, never the output delayed by it, or the
        # reference would reach the canceller after the echo and the filter could not converge.
        for _ in range(64):
            if len(self._fifo) >= n:
                break
            a, b = int(self._fed), int(self._fed + step)
            self._fed += step
            self._fifo = np.concatenate([self._fifo, self._stream.resample_chunk(self.played(a, b))])
        out, self._fifo = self._fifo[:n], self._fifo[n:]
        if len(out) < n:
            out = np.concatenate([out, np.zeros(n - len(out), dtype=np.float32)])
        return np.clip(out * 32767.0, -32768, 32767).astype(np.int16)


class Aligner:
    """Measures the delay between the ring and the microphone and sets `Reference.lag`."""

    def __init__(self, reference: Reference):
        self.ref = reference
        self._mic: list[np.ndarray] = []
        self._count = 0
        self._since = 0
        self._end: int | None = None  # the session sample sounding at the end of the kept microphone audio
        self._last: float | None = None
        self.measured: list[float] = []  # each accepted delay in seconds (for the bench and --listen-log)

    def note(self, mic: np.ndarray, sounding: int | None) -> None:
        """Keep the microphone block; measure when enough continuous audio with sound in it came."""
        out = self.ref.out_rate
        if sounding is None or (self._end is not None and abs(sounding - self._end - len(mic) * self.ref.rate / out)
                                > JUMP_S * self.ref.rate):
            self._mic, self._count, self._end = [], 0, sounding
            return
        self._mic.append(mic.astype(np.float32) / 32768.0)
        self._count += len(mic)
        self._since += len(mic)
        self._end = sounding
        keep = int(WINDOW_S * out)
        while self._count - len(self._mic[0]) >= keep:
            self._count -= len(self._mic.pop(0))
        if self._count >= keep and self._since >= EVERY_S * out:
            self._since = 0
            self._measure(np.concatenate(self._mic)[-keep:], sounding)

    def _measure(self, mic: np.ndarray, sounding: int) -> None:
        ref_rate, out = self.ref.rate, self.ref.out_rate
        span = round((WINDOW_S + MAX_LAG_S) * ref_rate)
        played = self.ref.played(sounding - span, sounding)
        if float(np.sqrt(np.mean(played ** 2))) < 1e-3:
            return  # nothing played: nothing to find
        played = self.ref._soxr.resample(played, ref_rate, out)
        m, n = len(mic), len(played)
        size = 1 << (m + n).bit_length()
        corr = np.fft.irfft(np.fft.rfft(played, size) * np.conj(np.fft.rfft(mic, size)), size)[:n - m + 1]
        # corr[k]: the microphone matched against played[k:k+m]; the delay is (n - m - k) samples
        k = int(np.argmax(np.abs(corr)))
        if np.abs(corr[k]) < 4 * np.median(np.abs(corr)) + 1e-9:
            return  # no clear peak: the echo is too faint or too smeared to move the delay
        delay = (n - m - k) / out
        self.measured.append(delay)
        # Speech's own rhythm now and then gives a clear but wrong peak (0.37 s, 0.5 s seen in the
        # bench's room); a reference moved late by it stops the canceller, so only a delay measured
        # twice in a row (within 2 ms) moves it.
        last, self._last = self._last, delay
        if last is None or abs(last - delay) > 0.002:
            return
        self.ref.lag = round(max(0.0, delay - 0.01) * ref_rate)  # 10 ms early: the filter needs the reference first
