"""The acknowledgement: a short soft sound, distinct from every chime, that says a command was heard.

It plays on a stream of its own beside the session's, so the sound server
mixes it in and the session's plan does not move, and so it sounds at once
(the session's stream holds two seconds queued) and also when the command
was "pause". A stream is opened ahead, so the sound needs no connecting.
"""
from __future__ import annotations

import contextlib

import numpy as np

LENGTH_S = 0.16
LEVEL = 0.12  # about -18 dBFS: soft, under the voice (the chimes peak near -6 dBFS)


def sound(rate: int) -> np.ndarray:
    """Two quick falling wood-like blips (1320 Hz then 990 Hz, 60 ms each): no chime has a tone this short."""
    out = np.zeros(round(LENGTH_S * rate), dtype=np.float32)
    n = round(0.06 * rate)
    t = np.arange(n) / rate
    envelope = np.exp(-t / 0.015) * np.minimum(1.0, t / 0.002)
    for start, freq in ((0, 1320.0), (round(0.08 * rate), 990.0)):
        out[start:start + n] += (LEVEL * envelope * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return out


class Acknowledger:
    """Plays `sound` on its own stream of the player's backend and device."""

    def __init__(self, rate: int, backend: str | None = None, device: str | None = None):
        self.rate, self.backend, self.device = rate, backend, device
        self._clip = sound(rate)
        self._ahead = None
        self._playing = None

    def _open(self):
        from ..player import quiet_stderr
        from ..sinks import open_sink

        with quiet_stderr():
            return open_sink(self.backend, self.device)

    def ready(self) -> None:
        """Open the next stream now (not in the moment a command comes)."""
        if self._ahead is None:
            self._ahead = self._open()

    def play(self) -> None:
        """Start the sound; what fails to play is not worth stopping a session for."""
        clip = self._clip
        with contextlib.suppress(Exception):
            self.ready()
            sink, self._ahead = self._ahead, None
            self._stop_playing()
            sink.start(lambda start, n: np.pad(clip[start:start + n], (0, max(0, start + n - len(clip)))),
                       len(clip), self.rate)
            self._playing = sink
            self.ready()

    def _stop_playing(self) -> None:
        if self._playing is not None:
            with contextlib.suppress(Exception):
                self._playing.stop()
            self._playing = None

    def close(self) -> None:
        self._stop_playing()
        if self._ahead is not None:
            with contextlib.suppress(Exception):
                self._ahead.stop()
            self._ahead = None
