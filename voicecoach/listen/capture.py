"""The microphone: a record stream on the sound server (the pulse backend's libpulse), 16 kHz mono int16.

`Capture.read()` returns what arrived since the last call, in whole 10 ms
frames, and raises MicrophoneGone when the source or the server went away.
Nothing is written anywhere: the samples live in memory until the listener
has run them through the recognizer.
"""
from __future__ import annotations

import ctypes

import numpy as np

from ..sinks import libpulse as lp
from .spotter import FRAME, RATE

FRAGMENT_MS = 20  # how often the server sends what it recorded: a part of the latency

class MicrophoneGone(OSError):
    """The microphone (or the sound server) is not there, or went away; the message says which."""


class Capture:
    """A record stream from `device` (a source name, or part of one; None: the server's default source)."""

    def __init__(self, device: str | None = None):
        try:
            self._conn = lp.Connection("voicecoach listen")
        except OSError as exc:
            raise MicrophoneGone(f"no sound server to listen through ({exc})") from None
        pa = self._pa = self._conn.pa
        self._carry = b""
        spec = lp.SampleSpec(lp.SAMPLE_S16LE, RATE, 1)
        attr = lp.BufferAttr(lp.NO_VALUE, lp.NO_VALUE, lp.NO_VALUE, lp.NO_VALUE, FRAGMENT_MS * RATE // 1000 * 2)
        conn = self._conn
        # A microphone the user named stays that microphone: pulled out, listening stops and says so,
        # rather than the server moving the stream to whatever source is left (the speaker's monitor, say).
        flags = lp.STREAM_ADJUST_LATENCY | (lp.STREAM_DONT_MOVE if device else 0)
        with conn.locked():
            self._stream = pa.pa_stream_new(conn.context, b"listening", ctypes.byref(spec), None)
            ok = self._stream and pa.pa_stream_connect_record(
                self._stream, device.encode() if device else None, ctypes.byref(attr), flags) >= 0
        ended = (lp.STREAM_READY, lp.STREAM_FAILED, lp.STREAM_TERMINATED)
        if not ok or not conn.until(lambda: pa.pa_stream_get_state(self._stream) in ended, 5.0) \
                or not self._ready():
            with conn.locked():
                detail = conn.error()
            self.close()
            where = f"microphone {device!r}" if device else "the default microphone"
            raise MicrophoneGone(f"cannot listen on {where}: {detail}")

    def _ready(self) -> bool:
        with self._conn.locked():
            return self._conn.alive() and self._pa.pa_stream_get_state(self._stream) == lp.STREAM_READY

    def read(self) -> np.ndarray:
        """The samples recorded since the last read, whole frames only (possibly none)."""
        pa = self._pa
        chunks = [self._carry]
        with self._conn.locked():
            if not (self._conn.alive() and pa.pa_stream_get_state(self._stream) == lp.STREAM_READY):
                raise MicrophoneGone("the microphone went away")
            while pa.pa_stream_readable_size(self._stream) > 0:
                data, size = ctypes.c_void_p(), ctypes.c_size_t()
                if pa.pa_stream_peek(self._stream, ctypes.byref(data), ctypes.byref(size)) < 0 or size.value == 0:
                    break
                # a hole in the recording (data NULL) is silence of that length
                chunks.append(ctypes.string_at(data, size.value) if data.value else bytes(size.value))
                pa.pa_stream_drop(self._stream)
        raw = b"".join(chunks)
        whole = len(raw) - len(raw) % (FRAME * 2)
        self._carry = raw[whole:]
        return np.frombuffer(raw[:whole], dtype="<i2").copy()

    def close(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is None:
            return
        if getattr(self, "_stream", None):
            with conn.locked():
                self._pa.pa_stream_disconnect(self._stream)
                self._pa.pa_stream_unref(self._stream)
            self._stream = None
        conn.close()
        self._conn = None
