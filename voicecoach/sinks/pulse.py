"""The pulse backend: a PulseAudio-protocol stream (PulseAudio, or PipeWire's pulse server).

It keeps two seconds of the session queued at the sound server, so a stall
of the voicecoach process shorter than that is never heard: the server goes
on playing what it holds while a feeder thread is stopped, and the feeder
tops the queue up again when it runs. Pause corks the stream (the server
stops taking samples from it), reads the server's read index, which is the
exact count of samples played, and flushes what is left; resume writes again
from that very sample. Nothing here needs realtime priority.
"""
from __future__ import annotations

import ctypes
import threading
import time

from ..errors import InputError
from . import libpulse as lp
from .base import Source, device_stopped, no_device, render, to_int16

# What the stream keeps queued at the server (tlength): the longest stall of
# this process the listener never hears. Measured through a private server
# as an ordinary user (docs/performance.md): with 300 ms a 400 ms stop left
# 128 ms of silence, with 500 ms stops of 50-400 ms left none, but a test
# machine loaded far past its two cores once stalled a player for over 600 ms
# (107 ms heard). 2 s is also what PulseAudio gives a stream that asks for
# nothing. It costs nothing elsewhere: pause and stop drop the queue, and the
# server's own device latency stays at REQUEST_MS.
QUEUE_MS = 2000
# How much the server asks for at a time (minreq). With early requests the
# server also sets its own device latency to this, so a cork is heard that
# soon even on a sink that cannot rewind what it has already mixed.
REQUEST_MS = 20
# After an underrun (a stall longer than the queue) the server starts again
# as soon as this much is queued, instead of waiting for a full queue.
PREBUF_MS = 20
# How often the feeder tops the queue up: well inside the queue.
FEED_S = 0.025
# A cork is confirmed by the server at once, but a sink that rewinds moves
# the read index back in its own thread a moment later: read it until it
# stays put for this long (at most _SETTLE_MAX_S).
_SETTLE_S = 0.005
_SETTLE_MAX_S = 0.1
_BYTES = 2  # s16le mono


class PulseSink:
    """Streams to the sound server through libpulse; a feeder thread keeps the queue full.

    It plays a growing session (growing.py) as it grows: never past what is final.

    Position: the stream's byte ``b`` is session sample ``base + b // 2``
    always (a flush moves the write index back to the read index, and resume
    writes from there), so the server's read index names the next sample to
    be heard exactly, and ``pa_stream_get_time`` (interpolated between the
    server's timing reports) gives the one heard now while playing.
    """

    grows = True  # plays a session whose end is not known yet
    deep_queue = True  # seconds queued at the server: a pause of this process (a garbage collection) is not heard

    def __init__(self, device: str | None = None):
        try:
            self._conn = lp.Connection()
        except OSError as exc:
            raise no_device("pulse", exc) from None
        self._pa = self._conn.pa
        try:
            self._device = self._find_device(device) if device else None
        except BaseException:
            self._conn.close()
            raise
        self._state = threading.Lock()  # guards the fields below; taken before the mainloop's lock
        self._stream = None
        self._stopped = False
        self._paused = False
        self._error: BaseException | None = None
        self._drain = None
        self._done = threading.Event()
        self._feeder: threading.Thread | None = None
        self.realtime = False  # nothing here asks for realtime scheduling
        self._growing = None

    def _find_device(self, name: str) -> bytes:
        """Return the server's name of the sink called ``name`` (or whose description contains it)."""
        try:
            found = self._conn.sinks()
        except OSError as exc:
            raise no_device("pulse", exc) from None
        exact = [n for n, d in found if name in (n, d)]
        partial = [n for n, d in found if name.lower() in d.lower() or name.lower() in n.lower()]
        matches = exact or partial
        if len(matches) != 1:
            names = ", ".join(repr(d) for _, d in found) or "none"
            raise InputError(f"audio device {name!r} matches {len(matches)} devices; devices: {names}")
        return matches[0].encode()

    # --- starting -------------------------------------------------------------

    def start(self, source: Source, total: int, rate: int, from_sample: int = 0) -> None:
        if self._stream is not None or self._stopped:
            raise RuntimeError("a sink plays one stream; open another sink")
        self._source, self._total, self._rate = source, total, rate
        # A source with `ready()` grows (growing.py): (samples final, its length once known, else None).
        self._growing = getattr(source, "__self__", None) and getattr(source.__self__, "ready", None)
        self._base = self._next = self._held = min(from_sample, total)
        pa, conn = self._pa, self._conn
        spec = lp.SampleSpec(lp.SAMPLE_S16LE, rate, 1)
        size = lambda ms: ms * rate // 1000 * _BYTES  # noqa: E731
        attr = lp.BufferAttr(lp.NO_VALUE, size(QUEUE_MS), size(PREBUF_MS), size(REQUEST_MS), lp.NO_VALUE)
        flags = (lp.STREAM_START_CORKED | lp.STREAM_INTERPOLATE_TIMING | lp.STREAM_AUTO_TIMING_UPDATE
                 | lp.STREAM_NOT_MONOTONIC | lp.STREAM_EARLY_REQUESTS)
        with conn.locked():
            self._stream = pa.pa_stream_new(conn.context, b"session", ctypes.byref(spec), None)
            if not self._stream or pa.pa_stream_connect_playback(
                    self._stream, self._device, ctypes.byref(attr), flags, None, None) < 0:
                raise no_device("pulse", conn.error())
        ended = (lp.STREAM_READY, lp.STREAM_FAILED, lp.STREAM_TERMINATED)
        if not conn.until(lambda: pa.pa_stream_get_state(self._stream) in ended, 5.0) or not self._ready():
            with conn.locked():
                detail = conn.error()
            raise no_device("pulse", detail)
        with conn.locked():
            granted = pa.pa_stream_get_buffer_attr(self._stream).contents
            self.queued_ms = 1000 * granted.tlength // (_BYTES * rate)
        # Fill the queue while corked, so the first sample plays with a full queue behind it.
        self._fill()
        if self._error is not None:
            raise self._error
        self._cork(False)
        self._feeder = threading.Thread(target=self._feed, name="voicecoach-pulse", daemon=True)
        self._feeder.start()

    def _ready(self) -> bool:
        with self._conn.locked():
            return self._conn.alive() and self._pa.pa_stream_get_state(self._stream) == lp.STREAM_READY

    # --- feeding --------------------------------------------------------------

    def _feed(self) -> None:
        while not self._stopped and not self._done.is_set():
            self._fill()
            if self._error is not None:
                self._done.set()
                return
            time.sleep(FEED_S)

    def _fill(self) -> None:
        """Write what the server asks for; after the last sample, ask to be told when it has played."""
        pa, conn = self._pa, self._conn
        with self._state:
            if self._paused or self._stopped or self._error is not None:
                return
            if not self._ready():
                self._error = device_stopped()
                return
            if self._drain is not None:
                with conn.locked():
                    drained = pa.pa_operation_get_state(self._drain) != lp.OPERATION_RUNNING
                if drained:
                    self._done.set()
                return
            with conn.locked():
                wanted = pa.pa_stream_writable_size(self._stream)
            if wanted == lp.SIZE_ERROR:
                self._error = device_stopped()
                return
            limit = self._total
            if self._growing is not None:  # a session still growing: play no further than what is final
                limit, total = self._growing()
                if total is not None:
                    self._total = limit = total
            n = min(wanted // _BYTES, limit - self._next)
            if n > 0:
                try:
                    pcm = to_int16(render(self._source, self._next, n)).tobytes()
                except Exception as exc:  # noqa: BLE001 - re-raised from wait()
                    self._error = exc
                    return
                with conn.locked():
                    if pa.pa_stream_write(self._stream, pcm, len(pcm), None, 0, lp.SEEK_RELATIVE) < 0:
                        self._error = device_stopped()
                        return
                self._next += n
            if self._next >= self._total and (self._growing is None or self._growing()[1] is not None):
                with conn.locked():
                    self._drain = pa.pa_stream_drain(self._stream, None, None)

    # --- control --------------------------------------------------------------

    def _cork(self, cork: bool) -> None:
        with self._conn.locked():
            operation = self._pa.pa_stream_cork(self._stream, int(cork), None, None)
        if not self._conn.finish(operation):
            self._error = device_stopped()

    def _read_index(self) -> int | None:
        """Return the server's read index in bytes, freshly reported; None when it cannot say."""
        conn, pa = self._conn, self._pa
        with conn.locked():
            operation = pa.pa_stream_update_timing_info(self._stream, None, None)
        if not conn.finish(operation):
            return None
        with conn.locked():
            info = pa.pa_stream_get_timing_info(self._stream)
            if not info or info.contents.read_index_corrupt:
                return None
            return info.contents.read_index

    def _heard(self) -> int | None:
        """After a cork: the read index once it stays put (a rewinding sink moves it back a little)."""
        last = self._read_index()
        deadline = time.monotonic() + _SETTLE_MAX_S
        while last is not None and time.monotonic() < deadline:
            time.sleep(_SETTLE_S)
            now = self._read_index()
            if now == last:
                break
            last = now
        return last

    def position(self) -> int:
        if self._stream is None:
            return 0
        with self._state:
            if self._paused or self._stopped or self._error is not None:
                return self._held
            usec = ctypes.c_uint64()
            with self._conn.locked():
                known = self._pa.pa_stream_get_time(self._stream, ctypes.byref(usec)) == 0
            if known:
                self._held = min(self._base + usec.value * self._rate // 1_000_000, self._next)
            return self._held

    def pause(self) -> None:
        """Cork, take the exact sample heard last from the server, drop what is queued."""
        if self._stream is None:
            return
        with self._state:
            if self._paused or self._stopped or self._error is not None or self._done.is_set():
                return
            self._paused = True
            self._cork(True)
            read = self._heard()
            if read is not None:
                self._held = min(self._base + read // _BYTES, self._next)
            if self._drain is not None:
                with self._conn.locked():
                    self._pa.pa_operation_cancel(self._drain)
                    self._pa.pa_operation_unref(self._drain)
                self._drain = None
            with self._conn.locked():
                operation = self._pa.pa_stream_flush(self._stream, None, None)
            if not self._conn.finish(operation):
                self._error = device_stopped()
            # The flush moved the server's write index back to its read index: the next
            # byte written is the byte after the last one played, session sample _held.
            self._next = self._held
            self._done.clear()

    def resume(self) -> None:
        if self._stream is None:
            return
        with self._state:
            if not self._paused or self._stopped:
                return
            self._paused = False
        self._fill()
        if self._error is None:
            self._cork(False)

    def stop(self) -> None:
        with self._state:
            if self._stopped:
                return
            self._stopped = True
        if self._feeder is not None:
            self._feeder.join(2.0)
        if self._stream is not None:
            with self._conn.locked():
                if self._drain is not None:
                    self._pa.pa_operation_unref(self._drain)
                self._pa.pa_stream_disconnect(self._stream)
                self._pa.pa_stream_unref(self._stream)
        self._conn.close()

    def wait(self, timeout: float | None = None) -> bool:
        if self._stream is None:
            return False
        if timeout is not None and timeout <= 0:
            ended = self._done.is_set()
        else:
            ended = self._done.wait(timeout)
        if self._error is not None:
            raise self._error
        return ended and not self._stopped

    @property
    def finished(self) -> bool:
        return self._done.is_set() and self._error is None and not self._paused


def missing() -> str | None:
    """Return why this backend cannot be used on this machine at all, or None (libpulse loads)."""
    try:
        lp.load()
    except OSError as exc:
        return str(exc)
    return None
