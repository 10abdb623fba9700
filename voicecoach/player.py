"""Live play: one continuous stream to a sink, with keys, MPRIS and a display around it.

The pacing is the sink's: the whole session is one stream of samples, so the
loop here only polls (for keys, commands from the session bus and the display)
and never times anything. That loop is the one place that acts on a command,
whichever way it came.
"""
from __future__ import annotations

import contextlib
import gc
import os
import select
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .duration import clock
from .timeline import StepSpan, Timeline

POLL = 0.05  # seconds between looks at the keyboard and the bus: well inside the 100 ms pause promise
# The commands a key gives; MPRIS gives the same ones, plus "play" and "pause" (mpris.py).
KEYS = {" ": "toggle", "n": "next", "N": "next", "b": "restart", "B": "restart", "q": "quit", "Q": "quit"}


@dataclass(frozen=True)
class Outcome:
    """How a play ended: samples heard, whether it reached the end, and where it stopped."""

    position: int
    total: int
    finished: bool


def step_at(timeline: Timeline, sample: int) -> StepSpan | None:
    """The step whose announcement or interval holds `sample` (the last one started)."""
    current = None
    for span in timeline.steps:
        if span.announce_sample <= sample:
            current = span
    return current


def timed_done(timeline: Timeline, position: int, start: int = 0) -> float:
    """Seconds of timed work (holds and rests) played between `start` and `position`."""
    done = sum(max(0, min(position, s.end_sample) - max(start, s.start_sample)) for s in timeline.steps)
    return done / timeline.sample_rate


def next_step(timeline: Timeline, sample: int) -> StepSpan | None:
    return next((s for s in timeline.steps if s.announce_sample > sample), None)


def status(timeline: Timeline, sample: int, paused: bool = False) -> str:
    """The one-screen summary: current step and side, time left, what is next, overall progress."""
    rate = timeline.sample_rate
    span = step_at(timeline, sample)
    lines = [timeline.title]
    if span is None:
        lines.append("Introduction")
    else:
        if sample < span.start_sample:
            left = f"starts in {clock((span.start_sample - sample) / rate)}"
        else:
            left = f"{clock(max(0, span.end_sample - sample) / rate)} left"
        lines.append(f"Step {span.index + 1} of {len(timeline.steps)}: {span.title}  ({left})")
    nxt = next_step(timeline, sample)
    lines.append(f"Next: {nxt.title}" if nxt else "Next: the end")
    done = min(sample, timeline.total_samples) / rate
    lines.append(f"{clock(done)} / {clock(timeline.seconds)}" + ("   PAUSED (space to resume)" if paused else ""))
    lines.append("keys: space pause · n next · b restart step · q quit")
    return "\n".join(lines)


@contextlib.contextmanager
def keyboard(enabled: bool) -> Iterator[Callable[[], str | None]]:
    """Single keypresses from a terminal stdin (cbreak mode, restored on exit); None when no key."""
    if not enabled:
        yield lambda: None
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)

        def read() -> str | None:
            ready, _, _ = select.select([fd], [], [], 0)
            return os.read(fd, 1).decode(errors="ignore") if ready else None

        yield read
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for a moment.

    ALSA's C library prints its own complaints ("ALSA lib pcm.c: Unknown PCM")
    while a device is probed; voicecoach reports the failure in one line itself.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class Player:
    """Plays a rendered session on a sink and reacts to keys and MPRIS; never sleeps to keep time.

    `remote`, when given, is the session's `mpris.Mpris`: its `poll()` gives
    commands from the bus and `publish(sample, paused)` tells it where we are.
    """

    def __init__(self, timeline: Timeline, render, sink, reopen=None, remote=None):
        self.timeline = timeline
        self.render = render
        self.sink = sink
        self.reopen = reopen  # a sink plays one stream: skipping needs a fresh one
        self.remote = remote
        self.paused = False

    def _seek(self, sample: int) -> None:
        if self.reopen is None:
            return  # no way to open another stream: keys that jump do nothing
        self.sink.stop()
        self.sink = self.reopen()
        self.sink.start(self.render, self.timeline.total_samples, self.timeline.sample_rate, from_sample=sample)
        self.paused = False

    def handle(self, command: str) -> bool:
        """Act on one command (a value of KEYS, "play" or "pause"); returns False when the user asked to quit.

        "play" while playing and "pause" while paused do nothing, so a
        desktop that sends Play or Pause can never toggle the wrong way.
        """
        position = self.sink.position()
        if command == "toggle" or command == ("play" if self.paused else "pause"):
            if self.paused:
                self.sink.resume()
            else:
                self.sink.pause()
            self.paused = not self.paused
        elif command == "next":
            nxt = next_step(self.timeline, position)
            if nxt is not None:
                self._seek(nxt.announce_sample)
        elif command == "restart":
            span = step_at(self.timeline, position)
            self._seek(span.announce_sample if span else 0)
        elif command == "quit":
            return False
        return True

    def _commands(self, keys: Callable[[], str | None]) -> list[str]:
        """The commands that came since the last look: a key, then whatever the bus queued."""
        key = keys()
        commands = [KEYS[key]] if key in KEYS else []
        if self.remote is not None:
            while (command := self.remote.poll()) is not None:
                commands.append(command)
        return commands

    def run(self, from_sample: int = 0, keys: Callable[[], str | None] = lambda: None,
            show: Callable[[str], None] | None = None) -> Outcome:
        """Play to the end (or until quit); Ctrl-C stops the sound first, then propagates."""
        total = self.timeline.total_samples
        # A full garbage collection holds the interpreter lock, and the audio
        # callback needs it: collect now and leave everything built so far out
        # of later collections, so none of them is long enough to starve it.
        gc.collect()
        gc.freeze()
        try:
            return self._play(total, from_sample, keys, show)
        finally:
            gc.unfreeze()  # desk mode plays all day: what this session held may be freed later

    def _play(self, total: int, from_sample: int, keys, show) -> Outcome:
        self.sink.start(self.render, total, self.timeline.sample_rate, from_sample=from_sample)
        last_shown = 0.0
        try:
            while True:
                if not self.paused and self.sink.wait(POLL):
                    return Outcome(total, total, finished=True)
                if self.paused:
                    time.sleep(POLL)  # only waiting for a key; the stream is stopped
                for command in self._commands(keys):
                    if not self.handle(command):
                        position = self.sink.position()
                        self.sink.stop()
                        return Outcome(position, total, finished=False)
                if self.remote is not None:
                    self.remote.publish(self.sink.position(), self.paused)
                if show is not None and time.monotonic() - last_shown >= 0.25:
                    show(status(self.timeline, self.sink.position(), self.paused))
                    last_shown = time.monotonic()
        except KeyboardInterrupt:
            position = self.sink.position()
            self.sink.stop()
            raise Interrupted(Outcome(position, total, finished=False)) from None


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during play, after the sound was stopped; carries how far the session got."""

    def __init__(self, outcome: Outcome):
        super().__init__()
        self.outcome = outcome


class LivePlay:
    """The one live-play path: a sink opened early (so "no audio device" comes within
    milliseconds), sessions played on it with keys, MPRIS and a display, every end reported.

    With `mpris` each session is also a media player on the D-Bus session bus
    while it plays (mpris.py); without a bus it plays exactly the same, and
    `mpris_off` says why. `pause_others` pauses the other players that are
    playing when a session starts, and resumes them when it ends, however it ends.

    Use as a context manager; whatever happens, no stream is left playing.
    """

    def __init__(self, backend: str | None = None, device: str | None = None, mpris: bool = True,
                 pause_others: bool = False):
        self.backend = backend
        self.device = device
        self.pause_others = pause_others
        self.mpris_off: str | None = None  # why the last session was not on the bus (None: it was, or not asked)
        self._mpris = self._load_mpris() if mpris else None
        self._sink = self._open()

    def _load_mpris(self):
        # imported here, with the device, not when a session starts: it takes about 0.1 s
        try:
            from . import mpris
        except ImportError as exc:  # dbus_fast missing (it is not installed off Linux)
            self.mpris_off = f"MPRIS off: {exc}"
            return None
        return mpris

    def _open(self):
        from .sinks import open_sink

        with quiet_stderr():
            return open_sink(self.backend, self.device)

    def ready(self) -> None:
        """Open the next stream now (a sink plays one stream), so a later play starts at once."""
        if self._sink is None:
            self._sink = self._open()

    def play(self, timeline: Timeline, render, keys: Callable[[], str | None] = lambda: None,
             show: Callable[[str], None] | None = None,
             on_end: Callable[[Outcome], None] | None = None) -> Outcome:
        """Play one session to its end or until quit; `on_end(outcome)` runs however it ends.

        Ctrl-C stops the sound, calls `on_end`, then raises `Interrupted`.
        """
        self.ready()
        remote = self._mpris.Mpris(timeline, self.pause_others) if self._mpris is not None else None
        player = Player(timeline, render, self._sink, self._open, remote)
        self._sink = None  # the player owns it now, and any stream a key reopens
        try:
            if remote is not None:
                remote.start()
            outcome = player.run(keys=keys, show=show)
        except Interrupted as stop:
            if on_end is not None:
                on_end(stop.outcome)
            raise
        finally:
            player.sink.stop()
            if remote is not None:  # after the sound stopped, so resumed music never overlaps it
                remote.close()
                self.mpris_off = remote.failure
        if on_end is not None:
            on_end(outcome)
        return outcome

    def close(self) -> None:
        """Release the stream opened ahead, if any."""
        if self._sink is not None:
            self._sink.stop()
            self._sink = None

    def __enter__(self) -> "LivePlay":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
