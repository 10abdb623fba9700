"""The simpleaudio backend, the one the project was specified with.

It can only play whole buffers, so the remaining session is rendered into one
buffer and played as one stream; pause stops it and resume plays the rest from
the paused position. It is offered where it imports and the Python is older
than 3.12 (it is reported to crash at exit on 3.12+).
"""
from __future__ import annotations

import ctypes
import sys
import time

import numpy as np

from ..errors import NoAudioDevice, SettingError
from .base import DEFAULT_RATE, Source, device_stopped, no_device, render, to_int16

# How often wait() looks whether simpleaudio's buffer has finished; this only
# notices the end, the pacing stays the audio clock's.
_SA_POLL_S = 0.002
# A buffer that ends this much sooner than its length was cut off, not played.
_SA_EARLY_S = 0.5


_ALSA_HANDLER = None  # kept alive for as long as alsa-lib may call it


def _quiet_alsa() -> None:
    """Stop alsa-lib printing its own lines on stderr ("underrun occurred") while a session plays.

    voicecoach reports a failing device in one line of its own; alsa-lib's
    default handler would also print every underrun it recovers from, in the
    middle of a session. A handler that does nothing replaces it, once per process.
    """
    global _ALSA_HANDLER
    if _ALSA_HANDLER is not None:
        return
    try:
        alsa = ctypes.CDLL("libasound.so.2")
    except OSError:
        return
    # void handler(const char *file, int line, const char *function, int err, const char *fmt, ...)
    prototype = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                                 ctypes.c_char_p)
    _ALSA_HANDLER = prototype(lambda *_: None)
    alsa.snd_lib_error_set_handler(_ALSA_HANDLER)


class SimpleaudioSink:
    """Plays one buffer through ``simpleaudio.play_buffer`` (ALSA's default device).

    Position: simpleaudio reports nothing but "still playing", so while playing
    ``position() = start sample + elapsed monotonic time x rate`` since
    ``play_buffer`` returned. simpleaudio's stop lets the ALSA buffer drain
    (100 ms plus the rest of the 4 KiB block being written), so ``pause()``
    waits until the sound has really ended (100-200 ms) and takes the position
    then; resume plays the rest from there. That position is a clock
    estimate, so a pause can skip or repeat a few milliseconds (measured
    within 20 ms); the miniaudio backend resumes exactly.
    """

    def __init__(self, device: str | None = None):
        import simpleaudio

        if device is not None:
            raise SettingError("device", device, "the simpleaudio backend plays on ALSA's default device only",
                               instead=("backend", "miniaudio"))
        self._sa = simpleaudio
        _quiet_alsa()
        self._probe()
        self._pcm: np.ndarray | None = None
        self._play = None
        self._stopped = False
        self._paused = False
        self._complete = False
        self._error: NoAudioDevice | None = None

    def _probe(self) -> None:
        """Open ALSA's default device once with 1 ms of silence: fail now, not mid-session."""
        self._play_from(np.zeros(DEFAULT_RATE // 1000, dtype="<i2"), DEFAULT_RATE).wait_done()

    def _play_from(self, pcm: np.ndarray, rate: int):
        try:
            return self._sa.play_buffer(pcm, 1, 2, rate)
        except Exception as exc:  # noqa: BLE001 - SimpleaudioError derives from Exception only
            raise no_device("simpleaudio", exc) from exc

    def start(self, source: Source, total: int, rate: int, from_sample: int = 0) -> None:
        if self._pcm is not None or self._stopped:
            raise RuntimeError("a sink plays one stream; open another sink")
        self._rate, self._base = rate, min(from_sample, total)
        self._pcm = np.empty(total - self._base, dtype="<i2")
        step = 60 * rate  # a minute at a time keeps the float32 copy small
        for start in range(self._base, total, step):
            n = min(step, total - start)
            self._pcm[start - self._base:start - self._base + n] = to_int16(render(source, start, n))
        self._begin(self._base)

    def _begin(self, sample: int) -> None:
        self._from = sample
        self._play = None
        if sample < self._base + len(self._pcm):
            self._play = self._play_from(self._pcm[sample - self._base:], self._rate)
        self._since = time.monotonic()

    def position(self) -> int:
        if self._pcm is None:
            return 0
        if self._paused or self._stopped or self._play is None:
            return self._from
        elapsed = int((time.monotonic() - self._since) * self._rate)
        return min(self._from + elapsed, self._base + len(self._pcm))

    def _halt(self) -> None:
        """Stop the buffer, wait until ALSA has drained it, keep the position then."""
        if self._play is None:
            return
        self._play.stop()
        while self._play.is_playing():
            time.sleep(_SA_POLL_S)
        # The drain has ended: the clock estimate now is where the sound stopped.
        heard = self.position()
        self._from = heard
        self._play = None

    def pause(self) -> None:
        if self._pcm is not None and not self._paused and not self._stopped:
            self._halt()
            self._paused = True

    def resume(self) -> None:
        if self._paused and not self._stopped:
            self._paused = False
            self._begin(self._from)

    def stop(self) -> None:
        if not self._stopped:
            if not self.finished:
                self._halt()
            self._stopped = True

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.finished:
            if self._error is not None:
                raise self._error
            if self._stopped or (deadline is not None and time.monotonic() >= deadline):
                return False
            time.sleep(_SA_POLL_S)
        return True

    @property
    def finished(self) -> bool:
        if self._complete:
            return True
        if self._pcm is None or self._paused or self._stopped or self._error is not None:
            return False
        if self._play is not None:
            if self._play.is_playing():
                return False
            # simpleaudio ends a buffer early, silently, when the device fails.
            left = (self._base + len(self._pcm) - self._from) / self._rate
            if time.monotonic() - self._since < left - _SA_EARLY_S:
                self._error = device_stopped()
                return False
        self._complete = True
        self._from = self._base + len(self._pcm)
        self._play = None
        return True


def missing() -> str | None:
    """Return why this backend cannot be used on this machine at all, or None."""
    if sys.version_info >= (3, 12):
        return "simpleaudio is not offered on Python 3.12 and later (it is reported to crash at exit)"
    try:
        import simpleaudio  # noqa: F401
    except ImportError:
        return "the simpleaudio package is not installed"
    return None
