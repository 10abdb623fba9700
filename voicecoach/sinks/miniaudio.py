"""The miniaudio backend: the device pulls frames from a generator, block by block.

The device asks for frames and the generator hands it the next block of the
source; pause feeds silence without advancing the stream, so resume continues
at exactly the sample where the stream stopped. It keeps only one 60 ms period
queued at the sound server (see below), so a stall of voicecoach longer than
that is heard as a gap.
"""
from __future__ import annotations

import sys
import threading
import time
from collections import deque

import numpy as np

from ..errors import InputError
from .base import DEFAULT_RATE, Source, device_stopped, no_device, prefer_realtime, render, to_int16

# Period of the device callback and how many periods it buffers. With
# PulseAudio, miniaudio asks the server to hold one period (tlength), which is
# both how late a pause is heard and how long a stall the stream survives
# without a gap: 60 ms keeps pause under 100 ms and survived the 50-90 ms
# scheduling stalls of a loaded two-core machine where 20 and 40 ms did not.
_MA_PERIOD_MS = 60
QUEUED_MS = _MA_PERIOD_MS  # what the sound server holds: the longest stall that is not heard
_MA_PERIODS = 3
# wait() looks this often whether the device still pulls frames; a device
# silent for _STALL_S while playing has died.
_WAIT_STEP_S = 0.25
_STALL_S = 3.0


def _miniaudio_backends() -> list:
    """Return miniaudio's backends to try on this platform, best first.

    The list is explicit so miniaudio never falls back to its "null" backend,
    which would swallow the session in silence instead of failing.
    """
    import miniaudio

    B = miniaudio.Backend
    if sys.platform.startswith("linux"):
        return [B.PULSEAUDIO, B.ALSA]  # PipeWire serves the PulseAudio protocol too
    if sys.platform == "darwin":
        return [B.COREAUDIO]
    if sys.platform == "win32":
        return [B.WASAPI, B.DSOUND, B.WINMM]
    return [B.SNDIO, B.AUDIO4, B.OSS, B.PULSEAUDIO, B.ALSA]


class MiniaudioSink:
    """Streams through ``miniaudio.PlaybackDevice``; the device pulls the frames.

    Position: the device pulls frames at the audio clock's pace, and every pull
    is remembered as (device frame, stream sample, real samples). The listener
    hears the frame pulled one device latency ago, so ``position()`` maps
    ``pulled - latency`` back to a stream sample (within about 20 ms). While
    paused the device is fed silence and the stream does not advance, so
    resume continues at exactly the next unplayed sample.
    """

    def __init__(self, device: str | None = None):
        import miniaudio

        self._ma = miniaudio
        self._backends = _miniaudio_backends()
        self._device_id = self._find_device(device) if device else None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._device = self._open(DEFAULT_RATE)
        self._source: Source | None = None
        self._error: BaseException | None = None
        self._stopped = False
        self._paused = False
        self._last_pull = time.monotonic()
        self._tuned = False
        self.realtime = False  # whether the callback thread got realtime scheduling

    def _find_device(self, name: str):
        """Return the id of the playback device called ``name`` (or containing it)."""
        ma = self._ma
        try:
            found = ma.Devices(backends=self._backends).get_playbacks()
        except ma.MiniaudioError as exc:
            raise no_device("miniaudio", exc) from exc
        exact = [d for d in found if d["name"] == name]
        partial = [d for d in found if name.lower() in d["name"].lower()]
        matches = exact or partial
        if len(matches) != 1:
            names = ", ".join(repr(d["name"]) for d in found) or "none"
            raise InputError(f"audio device {name!r} matches {len(matches)} devices; devices: {names}")
        return matches[0]["id"]

    def _open(self, rate: int):
        ma = self._ma
        try:
            device = ma.PlaybackDevice(
                output_format=ma.SampleFormat.SIGNED16, nchannels=1, sample_rate=rate,
                buffersize_msec=_MA_PERIOD_MS, callback_periods=_MA_PERIODS,
                device_id=self._device_id, backends=self._backends, app_name="voicecoach",
            )
        except ma.MiniaudioError as exc:
            raise no_device("miniaudio", exc) from exc
        period = _MA_PERIOD_MS * rate // 1000
        # What the device holds between the pull and the loudspeaker. Measured
        # against a PulseAudio monitor: about one period (the server asks for
        # data as it needs it); an ALSA ring buffer holds all periods.
        self._latency = period if device.backend == "PulseAudio" else _MA_PERIODS * period
        # finished waits one period more than that, so it is never early.
        self._drain = self._latency + period
        return device

    def start(self, source: Source, total: int, rate: int, from_sample: int = 0) -> None:
        if self._source is not None or self._stopped:
            raise RuntimeError("a sink plays one stream; open another sink")
        if self._device.sample_rate != rate:
            self._device.close()
            self._device = self._open(rate)
        self._source, self._total, self._rate = source, total, rate
        self._next = min(from_sample, total)  # next stream sample to hand over
        self._pulled = 0  # device frames handed over, silence included
        self._end_frame: int | None = None  # device frame just after the last real sample
        # (device frame, stream sample, real samples) of recent pulls, oldest first.
        self._pulls: deque[tuple[int, int, int]] = deque()
        feed = self._feed()
        next(feed)
        try:
            self._device.start(feed)
        except self._ma.MiniaudioError as exc:
            raise no_device("miniaudio", exc) from exc

    def _feed(self):
        """Generator the device calls: receives a frame count, yields int16 bytes."""
        frames = yield b""
        while True:
            frames = yield self._block(frames)

    def _block(self, frames: int) -> bytes:
        if not self._tuned:
            self._tuned = True
            self.realtime = prefer_realtime()
        out = np.zeros(frames, dtype="<i2")
        self._last_pull = time.monotonic()
        with self._lock:
            real = 0
            if not self._paused and self._error is None and self._next < self._total:
                real = min(frames, self._total - self._next)
                try:
                    out[:real] = to_int16(render(self._source, self._next, real))
                except Exception as exc:  # noqa: BLE001 - re-raised from wait()
                    self._error, real = exc, 0
            self._pulls.append((self._pulled, self._next, real))
            self._next += real
            self._pulled += frames
            if self._next >= self._total and self._end_frame is None:
                self._end_frame = self._pulled - frames + real
            heard = self._pulled - self._latency
            while len(self._pulls) > 1 and self._pulls[1][0] <= heard:
                self._pulls.popleft()
            if self._error is not None or (
                self._end_frame is not None and self._pulled - self._drain >= self._end_frame
            ):
                self._done.set()
        return out.tobytes()

    def position(self) -> int:
        if self._source is None:
            return 0
        with self._lock:
            heard = self._pulled - self._latency
            if not self._pulls:
                return self._next
            frame, sample, real = self._pulls[0]
            for pull in self._pulls:
                if pull[0] > heard:
                    break
                frame, sample, real = pull
            return sample + min(max(heard - frame, 0), real)

    def pause(self) -> None:
        with self._lock:
            self._paused = True

    def resume(self) -> None:
        with self._lock:
            self._paused = False

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._device.close()

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._done.is_set():
            now = time.monotonic()
            if self._stopped or (deadline is not None and now >= deadline):
                return False
            # A device that stops asking for frames (server gone) must not hang the session.
            if self._source is not None and now - self._last_pull > _STALL_S:
                raise device_stopped()
            self._done.wait(_WAIT_STEP_S if deadline is None else min(_WAIT_STEP_S, deadline - now))
        if self._error is not None:
            raise self._error
        return True

    @property
    def finished(self) -> bool:
        return self._done.is_set() and self._error is None


def missing() -> str | None:
    """Return why this backend cannot be used on this machine at all, or None."""
    try:
        import miniaudio  # noqa: F401
    except ImportError:
        return "the miniaudio package is not installed (pip install miniaudio)"
    return None
