"""The listener: spoken commands for a live session, on a thread of its own.

The player sees three calls (its whole interface to listening):
`follow(timeline, render)` when a routine starts (returns the render to use:
the tapped one, so the echo canceller gets the exact samples sent),
`publish(sample, paused)` on each look of its loop (which session sample is
sounding now), and `poll()` for the commands heard since (the same command
names as keys and MPRIS). The thread reads the microphone every READ_S, runs
`Hearing`, acknowledges a command with its sound, and queues it. A microphone
that goes away ends only the listening: `failure` says why.
"""
from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable

from dataclasses import replace

import numpy as np

from ..timeline import Timeline
from .ack import LENGTH_S, Acknowledger
from .hearing import Event, Hearing
from .sieve import Sieve

READ_S = 0.02  # the microphone's fragment: reading more often finds nothing new
STALE_S = 0.5  # a position not published for this long: nothing plays any more


class Listener:
    """Listens on `mic` (None: the default microphone) for a session at `rate`; use as a context manager.

    `backend` and `device` are the player's, for the acknowledgement's stream.
    `log(line)` gets one line per word heard (word, score, acted or ignored and why).
    Raises capture.MicrophoneGone when there is nothing to listen on.
    """

    def __init__(self, rate: int, mic: str | None = None, backend: str | None = None, device: str | None = None,
                 cancel: bool = True, log: Callable[[str], None] | None = None):
        from .capture import Capture

        self.rate = rate
        self.log = log
        self.failure: str | None = None
        self.cpu_s = 0.0  # the thread's own CPU time so far
        self.listened_s = 0.0
        self.hearing = Hearing(rate, cancel=cancel)
        self._capture = Capture(mic)
        self._ack = Acknowledger(rate, backend, device)
        with contextlib.suppress(Exception):  # no stream for it: commands still act, unconfirmed
            self._ack.ready()  # here, not on the thread: the player opens its stream now too
        self._sieve = Sieve()  # speexdsp's own warning kept off the terminal
        self._commands: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._where: tuple[int, bool, float] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voicecoach-listen", daemon=True)
        self._thread.start()

    # --- the player's side ----------------------------------------------------

    def follow(self, timeline: Timeline, render):
        """Judge words against `timeline` from now on; returns `render` tapped for the echo canceller."""
        self.hearing.follow(timeline)
        self._where = None
        self.poll()  # a word heard between two sessions (desk mode) is not for this one
        return self.hearing.reference.tap(render)

    def grew(self, timeline: Timeline) -> None:
        """The session grew (growing.py): judge words against its latest timeline."""
        self.hearing.follow(timeline)

    def publish(self, sample: int, paused: bool) -> None:
        self._where = (sample, paused, time.monotonic())

    def poll(self) -> list[str]:
        out = []
        while True:
            try:
                out.append(self._commands.get_nowait())
            except queue.Empty:
                return out

    # --- the thread -----------------------------------------------------------

    def _sounding(self, now: float) -> int | None:
        where = self._where
        if where is None:
            return None
        sample, paused, at = where
        if paused or now - at > STALE_S:
            return None
        return sample + round((now - at) * self.rate)

    def _run(self) -> None:
        from .capture import MicrophoneGone

        started = time.thread_time()
        try:
            while not self._stop.wait(READ_S):
                block = self._capture.read()
                if len(block):
                    self._hear(block)
                self.cpu_s = time.thread_time() - started
        except MicrophoneGone as exc:
            self.failure = f"listening stopped: {exc}"
        except Exception as exc:  # the session plays on without listening, whatever went wrong here
            self.failure = f"listening stopped: {type(exc).__name__}: {exc}"

    def _hear(self, block: np.ndarray) -> None:
        self.listened_s += len(block) / 16000
        now = time.monotonic()
        where = self._where
        idle = where is None or now - where[2] > STALE_S  # no session playing or paused: between desk breaks
        for event in self.hearing.feed(block, self._sounding(now)):
            command = event.verdict.command
            if command is not None and idle:
                event = Event(event.heard, replace(event.verdict, command=None, reason="no session playing"))
            elif command is not None:
                self._ack.play()
                self.hearing.mute(LENGTH_S)
                self._commands.put(command)
            if self.log is not None:
                self.log(describe(event))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self._capture.close()
        self._ack.close()
        self.hearing.close()
        self._sieve.close()

    def __enter__(self) -> "Listener":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def describe(event: Event) -> str:
    """One line of --listen-log: '  12.34 s  heard "pause" (score -0.19): acted (pause, quiet)'."""
    v = event.verdict
    what = f"acted ({v.command}, {v.reason})" if v.command else f"ignored ({v.reason})"
    at = event.heard.end / 16000
    return f'{at:7.2f} s  heard "{v.word}" (score {v.score:g}{", strict" if event.heard.strict else ""}): {what}'
