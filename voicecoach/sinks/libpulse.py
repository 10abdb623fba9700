"""A small ctypes layer over libpulse's asynchronous API: just what the pulse sink needs.

libpulse is the client library of PulseAudio, and PipeWire desktops serve the
same protocol (pipewire-pulse), so it reaches the sound server of nearly every
Linux desktop. No Python binding of it that is maintained offers playback
streams with cork, flush and timing information, so these few declarations
stand in for one.

The mainloop runs in libpulse's own thread (``pa_threaded_mainloop``), and no
Python callback is ever handed to it for playing: the sink polls states and
operations under the mainloop's lock, so libpulse's thread never waits for
Python's interpreter lock. Only listing the server's sinks (for ``--device``)
uses a callback, once, before anything plays.
"""
from __future__ import annotations

import contextlib
import ctypes
import time
from typing import Callable, Iterator

from .. import clib

c_p = ctypes.c_void_p

# enum values from <pulse/def.h> and <pulse/sample.h>
SAMPLE_S16LE = 3
CONTEXT_NOAUTOSPAWN = 1
CONTEXT_READY, CONTEXT_FAILED, CONTEXT_TERMINATED = 4, 5, 6
STREAM_READY, STREAM_FAILED, STREAM_TERMINATED = 2, 3, 4
OPERATION_RUNNING = 0
STREAM_START_CORKED = 0x0001
STREAM_INTERPOLATE_TIMING = 0x0002
STREAM_NOT_MONOTONIC = 0x0004
STREAM_AUTO_TIMING_UPDATE = 0x0008
STREAM_DONT_MOVE = 0x0200
STREAM_ADJUST_LATENCY = 0x2000
STREAM_EARLY_REQUESTS = 0x4000
SEEK_RELATIVE = 0
NO_VALUE = 0xFFFFFFFF  # (uint32_t) -1: "let the server choose"
SIZE_ERROR = ctypes.c_size_t(-1).value


class SampleSpec(ctypes.Structure):
    _fields_ = [("format", ctypes.c_int), ("rate", ctypes.c_uint32), ("channels", ctypes.c_uint8)]


class BufferAttr(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint32) for name in ("maxlength", "tlength", "prebuf", "minreq", "fragsize")]


class TimingInfo(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long), ("synchronized_clocks", ctypes.c_int),
                ("sink_usec", ctypes.c_uint64), ("source_usec", ctypes.c_uint64),
                ("transport_usec", ctypes.c_uint64), ("playing", ctypes.c_int),
                ("write_index_corrupt", ctypes.c_int), ("write_index", ctypes.c_int64),
                ("read_index_corrupt", ctypes.c_int), ("read_index", ctypes.c_int64),
                ("configured_sink_usec", ctypes.c_uint64), ("configured_source_usec", ctypes.c_uint64),
                ("since_underrun", ctypes.c_int64)]


class SinkInfo(ctypes.Structure):
    """The first fields of ``pa_sink_info``: only read through a pointer libpulse owns."""

    _fields_ = [("name", ctypes.c_char_p), ("index", ctypes.c_uint32), ("description", ctypes.c_char_p)]


SinkInfoCallback = ctypes.CFUNCTYPE(None, c_p, ctypes.POINTER(SinkInfo), ctypes.c_int, c_p)

_SIGNATURES = {
    "pa_threaded_mainloop_new": (c_p, []),
    "pa_threaded_mainloop_get_api": (c_p, [c_p]),
    "pa_threaded_mainloop_start": (ctypes.c_int, [c_p]),
    "pa_threaded_mainloop_stop": (None, [c_p]),
    "pa_threaded_mainloop_free": (None, [c_p]),
    "pa_threaded_mainloop_lock": (None, [c_p]),
    "pa_threaded_mainloop_unlock": (None, [c_p]),
    "pa_context_new": (c_p, [c_p, ctypes.c_char_p]),
    "pa_context_connect": (ctypes.c_int, [c_p, ctypes.c_char_p, ctypes.c_int, c_p]),
    "pa_context_get_state": (ctypes.c_int, [c_p]),
    "pa_context_errno": (ctypes.c_int, [c_p]),
    "pa_context_disconnect": (None, [c_p]),
    "pa_context_unref": (None, [c_p]),
    "pa_context_get_sink_info_list": (c_p, [c_p, SinkInfoCallback, c_p]),
    "pa_strerror": (ctypes.c_char_p, [ctypes.c_int]),
    "pa_stream_new": (c_p, [c_p, ctypes.c_char_p, ctypes.POINTER(SampleSpec), c_p]),
    "pa_stream_connect_playback": (ctypes.c_int, [c_p, ctypes.c_char_p, ctypes.POINTER(BufferAttr), ctypes.c_int,
                                                  c_p, c_p]),
    "pa_stream_get_state": (ctypes.c_int, [c_p]),
    "pa_stream_writable_size": (ctypes.c_size_t, [c_p]),
    # the record stream (listen/capture.py: the microphone)
    "pa_stream_connect_record": (ctypes.c_int, [c_p, ctypes.c_char_p, ctypes.POINTER(BufferAttr), ctypes.c_int]),
    "pa_stream_peek": (ctypes.c_int, [c_p, ctypes.POINTER(c_p), ctypes.POINTER(ctypes.c_size_t)]),
    "pa_stream_drop": (ctypes.c_int, [c_p]),
    "pa_stream_readable_size": (ctypes.c_size_t, [c_p]),
    "pa_stream_write": (ctypes.c_int, [c_p, c_p, ctypes.c_size_t, c_p, ctypes.c_int64, ctypes.c_int]),
    "pa_stream_cork": (c_p, [c_p, ctypes.c_int, c_p, c_p]),
    "pa_stream_flush": (c_p, [c_p, c_p, c_p]),
    "pa_stream_drain": (c_p, [c_p, c_p, c_p]),
    "pa_stream_update_timing_info": (c_p, [c_p, c_p, c_p]),
    "pa_stream_get_timing_info": (ctypes.POINTER(TimingInfo), [c_p]),
    "pa_stream_get_time": (ctypes.c_int, [c_p, ctypes.POINTER(ctypes.c_uint64)]),
    "pa_stream_get_buffer_attr": (ctypes.POINTER(BufferAttr), [c_p]),
    "pa_stream_disconnect": (ctypes.c_int, [c_p]),
    "pa_stream_unref": (None, [c_p]),
    "pa_operation_get_state": (ctypes.c_int, [c_p]),
    "pa_operation_cancel": (None, [c_p]),
    "pa_operation_unref": (None, [c_p]),
}
def load() -> ctypes.CDLL:
    """Return libpulse with its functions declared; raise OSError when it is not installed."""
    return clib.load("libpulse.so.0", "pulse", "libpulse0", _SIGNATURES)


class PulseError(OSError):
    """The sound server refused or dropped something; the message is libpulse's."""


class Connection:
    """A context connected to the sound server, with its mainloop thread.

    Everything that touches the context or its streams happens inside
    ``with conn.locked():``; ``until`` and ``finish`` poll with the lock
    released in between, so libpulse's thread can do the work meanwhile.
    """

    POLL_S = 0.001

    def __init__(self, app_name: str = "voicecoach", timeout: float = 5.0):
        self.pa = pa = load()
        self.mainloop = pa.pa_threaded_mainloop_new()
        self.context = pa.pa_context_new(pa.pa_threaded_mainloop_get_api(self.mainloop), app_name.encode())
        self._open = True
        try:
            # NOAUTOSPAWN: never start a sound server of our own; the one the desktop runs or none.
            if pa.pa_context_connect(self.context, None, CONTEXT_NOAUTOSPAWN, None) < 0:
                raise PulseError(self.error())
            if pa.pa_threaded_mainloop_start(self.mainloop) < 0:
                raise PulseError("could not start libpulse's thread")
            done = (CONTEXT_READY, CONTEXT_FAILED, CONTEXT_TERMINATED)
            if not self.until(lambda: pa.pa_context_get_state(self.context) in done, timeout):
                raise PulseError(f"the sound server did not answer within {timeout:g} s")
            if not self.alive():
                raise PulseError(self.error())
        except BaseException:
            self.close()
            raise

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self.pa.pa_threaded_mainloop_lock(self.mainloop)
        try:
            yield
        finally:
            self.pa.pa_threaded_mainloop_unlock(self.mainloop)

    def error(self) -> str:
        """Return libpulse's text for the context's last error."""
        return self.pa.pa_strerror(self.pa.pa_context_errno(self.context)).decode(errors="replace")

    def alive(self) -> bool:
        """Whether the connection to the server stands (call with the lock held)."""
        return self.pa.pa_context_get_state(self.context) == CONTEXT_READY

    def until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Poll ``condition`` under the lock until it holds; False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            with self.locked():
                if condition():
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(self.POLL_S)

    def finish(self, operation: int | None, timeout: float = 2.0) -> bool:
        """Wait for an operation libpulse started (call without the lock); False if it failed or timed out."""
        if not operation:
            return False
        pa = self.pa
        try:
            return self.until(lambda: pa.pa_operation_get_state(operation) != OPERATION_RUNNING
                              or not self.alive(), timeout) and self._done(operation)
        finally:
            with self.locked():
                pa.pa_operation_unref(operation)

    def _done(self, operation: int) -> bool:
        with self.locked():
            return self.pa.pa_operation_get_state(operation) != OPERATION_RUNNING and self.alive()

    def sinks(self, timeout: float = 5.0) -> list[tuple[str, str]]:
        """Return (name, description) of every sink the server offers."""
        found: list[tuple[str, str]] = []
        ended = []

        def each(_context, info, eol, _userdata):
            if eol or not info:
                ended.append(True)
                return
            found.append((info.contents.name.decode(errors="replace"),
                          (info.contents.description or b"").decode(errors="replace")))

        callback = SinkInfoCallback(each)  # kept alive here until the listing has ended
        with self.locked():
            operation = self.pa.pa_context_get_sink_info_list(self.context, callback, None)
        if not self.finish(operation, timeout) or not ended:
            raise PulseError("the sound server did not list its sinks")
        return found

    def close(self) -> None:
        """Disconnect and stop libpulse's thread; safe to call twice."""
        if not self._open:
            return
        self._open = False
        pa = self.pa
        with self.locked():
            pa.pa_context_disconnect(self.context)
            pa.pa_context_unref(self.context)
        pa.pa_threaded_mainloop_stop(self.mainloop)
        pa.pa_threaded_mainloop_free(self.mainloop)
