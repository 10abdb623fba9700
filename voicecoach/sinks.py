"""Live audio output: play a rendered sample stream on the sound device.

A sink pulls the session from a ``Source`` (``source(start, n)`` returns the
float32 mono samples ``start .. start+n``, zeros past the end; in practice the
mixer) and plays it as one continuous stream, so the pacing is the audio
clock's and nothing drifts. Two backends share the ``Sink`` interface:

* ``miniaudio``: streams. The device asks for frames and a generator hands it
  the next block of the source; pause feeds silence without advancing the
  stream, so resume continues at exactly the sample where the stream stopped.
* ``simpleaudio``: the backend the project was specified with. It can only
  play whole buffers, so the remaining session is rendered into one buffer and
  played as one stream; pause stops it and resume plays the rest from the
  paused position. It is offered where it imports and the Python is older
  than 3.12 (it is reported to crash at exit on 3.12+).

Backends register through ``register()``; the built-ins use the same path.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from typing import Callable, Protocol

import numpy as np

from voicecoach.errors import InputError, NoAudioDevice

Source = Callable[[int, int], np.ndarray]

# open_sink opens the device before the stream's rate is known; the session
# default is the likeliest, and start() reopens if the stream differs.
_DEFAULT_RATE = 22050
_HINT = "to listen anyway, write the session to a file with `voicecoach export`"


class Sink(Protocol):
    """Plays one stream of samples on a sound device."""

    def start(self, source: Source, total: int, rate: int, from_sample: int = 0) -> None:
        """Start playing samples ``from_sample .. total`` of ``source`` at ``rate``."""

    def position(self) -> int:
        """Return the stream sample the listener is hearing now (approximate)."""

    def pause(self) -> None:
        """Silence the output, keeping the stream position (may block until it is silent)."""

    def resume(self) -> None:
        """Continue at the sample where the stream stopped."""

    def stop(self) -> None:
        """Stop playing and release the device; the sink cannot be restarted."""

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every sample up to ``total`` has been played; False on timeout."""

    @property
    def finished(self) -> bool:
        """True once every sample up to ``total`` has been played."""


SinkFactory = Callable[[str | None], Sink]
_FACTORIES: dict[str, SinkFactory] = {}
_AVAILABLE: dict[str, Callable[[], bool]] = {}


def register(name: str, factory: SinkFactory, *,
             available: Callable[[], bool] | None = None) -> None:
    """Make a backend known by ``name``; ``factory(device)`` opens a sink.

    ``available`` says whether the backend can be used on this machine at all
    (its library imports); without it the backend is always offered.
    """
    _FACTORIES[name] = factory
    _AVAILABLE[name] = available or (lambda: True)


def backends() -> list[str]:
    """Return the names of all registered backends, sorted."""
    return sorted(_FACTORIES)


def available_backends() -> list[str]:
    """Return the registered backends usable on this machine, sorted."""
    return [name for name in backends() if _AVAILABLE[name]()]


def default_backend() -> str:
    """Return "simpleaudio" where it imports and Python < 3.12, else "miniaudio"."""
    return "simpleaudio" if "simpleaudio" in available_backends() else "miniaudio"


def open_sink(backend: str | None = None, device: str | None = None) -> Sink:
    """Open the output device through ``backend`` (default: ``default_backend()``).

    Returns a sink whose device is already open, so a missing sound server is
    reported here, within a few seconds, as NoAudioDevice. An unknown backend
    name, or one not usable here, is an InputError listing the choices.
    """
    name = backend or default_backend()
    if name not in _FACTORIES:
        raise InputError(f"unknown audio backend {name!r}; choose one of: {', '.join(backends())}")
    if not _AVAILABLE[name]():
        raise InputError(
            f"audio backend {name!r} is not available here; "
            f"choose one of: {', '.join(available_backends())}"
        )
    return _FACTORIES[name](device)


def to_int16(block: np.ndarray) -> np.ndarray:
    """Return float samples in [-1, 1] as int16 (clipped, rounded)."""
    return np.rint(np.clip(block, -1.0, 1.0) * 32767.0).astype("<i2")


def _render(source: Source, start: int, n: int) -> np.ndarray:
    """Return exactly ``n`` float32 samples of ``source`` from ``start``."""
    block = np.asarray(source(start, n), dtype=np.float32).reshape(-1)
    if len(block) != n:
        raise ValueError(f"source returned {len(block)} samples for a block of {n}")
    return block


def prefer_realtime() -> bool:
    """Ask the OS to run the calling thread (the audio callback) ahead of ordinary work.

    A device callback that waits behind busy programs for longer than the
    device's buffer leaves a gap, and everything after it is late. Sound
    servers run their own threads this way; where the OS allows it (Linux,
    with RLIMIT_RTPRIO above zero or as root) the thread that feeds them
    should too. Elsewhere nothing changes. Returns whether it worked.
    """
    if not hasattr(os, "sched_setscheduler"):
        return False
    try:
        # pid 0 is the calling thread on Linux; a low priority stays below the sound server's.
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(min(3, os.sched_get_priority_max(os.SCHED_RR))))
    except (OSError, AttributeError):
        return False
    return True


def _no_device(backend: str, detail: object) -> NoAudioDevice:
    return NoAudioDevice(
        f"no audio device or sound server could be opened ({backend}: {detail}); {_HINT}"
    )


# --- miniaudio -------------------------------------------------------------

# Period of the device callback and how many periods it buffers. With
# PulseAudio, miniaudio asks the server to hold one period (tlength), which is
# both how late a pause is heard and how long a stall the stream survives
# without a gap: 60 ms keeps pause under 100 ms and survived the 50-90 ms
# scheduling stalls of a loaded two-core machine where 20 and 40 ms did not.
_MA_PERIOD_MS = 60
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
        self._device = self._open(_DEFAULT_RATE)
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
            raise _no_device("miniaudio", exc) from exc
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
            raise _no_device("miniaudio", exc) from exc
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
            raise _no_device("miniaudio", exc) from exc

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
                    out[:real] = to_int16(_render(self._source, self._next, real))
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
                raise NoAudioDevice(f"the audio device stopped playing; {_HINT}")
            self._done.wait(_WAIT_STEP_S if deadline is None else min(_WAIT_STEP_S, deadline - now))
        if self._error is not None:
            raise self._error
        return True

    @property
    def finished(self) -> bool:
        return self._done.is_set() and self._error is None


def _miniaudio_available() -> bool:
    try:
        import miniaudio  # noqa: F401
    except ImportError:
        return False
    return True


register("miniaudio", MiniaudioSink, available=_miniaudio_available)


# --- simpleaudio -----------------------------------------------------------

# How often wait() looks whether simpleaudio's buffer has finished; this only
# notices the end, the pacing stays the audio clock's.
_SA_POLL_S = 0.002
# A buffer that ends this much sooner than its length was cut off, not played.
_SA_EARLY_S = 0.5


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
            raise InputError("the simpleaudio backend plays on ALSA's default device only; "
                             "use --backend miniaudio to choose a device")
        self._sa = simpleaudio
        self._probe()
        self._pcm: np.ndarray | None = None
        self._play = None
        self._stopped = False
        self._paused = False
        self._complete = False
        self._error: NoAudioDevice | None = None

    def _probe(self) -> None:
        """Open ALSA's default device once with 1 ms of silence: fail now, not mid-session."""
        self._play_from(np.zeros(_DEFAULT_RATE // 1000, dtype="<i2"), _DEFAULT_RATE).wait_done()

    def _play_from(self, pcm: np.ndarray, rate: int):
        try:
            return self._sa.play_buffer(pcm, 1, 2, rate)
        except Exception as exc:  # noqa: BLE001 - SimpleaudioError derives from Exception only
            raise _no_device("simpleaudio", exc) from exc

    def start(self, source: Source, total: int, rate: int, from_sample: int = 0) -> None:
        if self._pcm is not None or self._stopped:
            raise RuntimeError("a sink plays one stream; open another sink")
        self._rate, self._base = rate, min(from_sample, total)
        self._pcm = np.empty(total - self._base, dtype="<i2")
        step = 60 * rate  # a minute at a time keeps the float32 copy small
        for start in range(self._base, total, step):
            n = min(step, total - start)
            self._pcm[start - self._base:start - self._base + n] = to_int16(_render(source, start, n))
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
                self._error = NoAudioDevice(f"the audio device stopped playing; {_HINT}")
                return False
        self._complete = True
        self._from = self._base + len(self._pcm)
        self._play = None
        return True


def _simpleaudio_available() -> bool:
    if sys.version_info >= (3, 12):
        return False
    try:
        import simpleaudio  # noqa: F401
    except ImportError:
        return False
    return True


register("simpleaudio", SimpleaudioSink, available=_simpleaudio_available)
