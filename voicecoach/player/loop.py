"""The play loop: one continuous stream to a sink, with keys and MPRIS acted on between looks.

The pacing is the sink's: the whole session is one stream of samples, so the
loop here only polls (for keys, commands from the session bus and the display)
and never times anything. That loop is the one place that acts on a command,
whichever way it came.
"""
from __future__ import annotations

import gc
import signal
import time
from collections.abc import Callable
from datetime import datetime

from ..timeline import Timeline
from .outcome import Interrupted, Outcome
from .panel import Place, next_step, status, step_at

POLL = 0.05  # seconds between looks at the keyboard and the bus: well inside the 100 ms pause promise
# The commands a key gives; MPRIS gives the same ones, plus "play" and "pause" (mpris/).
KEYS = {" ": "toggle", "n": "next", "N": "next", "b": "restart", "B": "restart", "q": "quit", "Q": "quit"}


class Player:
    """Plays a rendered session on a sink and reacts to keys and MPRIS; never sleeps to keep time.

    `remote`, when given, is the session's `mpris.Mpris`: its `poll()` gives
    commands from the bus and `publish(sample, paused)` tells it where we are.
    `place` says where the session sits in a plan (for the panel), and
    `stopped()` gives the number of a signal that asked to stop, else None.
    `growing`, when given, is a growing.GrowingSession: the timeline is its
    latest, and the loop tells it where the listener is, so a wait for speech
    goes before the next announcement in time.
    `ears`, when given, is a `listen.Listener`: it taps the render (the echo
    canceller's reference), hears where we are, and gives spoken commands.
    `later(timeline)`, when given (and no `remote`), starts the remote once the
    stream has started and returns it (or None): the bus waits, the first sound does not.
    """

    def __init__(self, timeline: Timeline, render, sink, reopen=None, remote=None, place: Place | None = None,
                 stopped: Callable[[], int | None] = lambda: None, growing=None, ears=None, later=None):
        self._timeline = timeline
        self.growing = growing
        self.render = render
        self.sink = sink
        self.reopen = reopen  # a sink plays one stream: skipping needs a fresh one
        self.remote = remote
        self.place = place
        self.stopped = stopped
        self.paused = False
        self.ears = ears
        self.later = later if remote is None else None
        if ears is not None:
            self.render = ears.follow(self.timeline, render)

    @property
    def timeline(self) -> Timeline:
        return self.growing.timeline if self.growing is not None else self._timeline

    def _seek(self, sample: int, step: int | None = None) -> None:
        """Play from `sample`, or from step `step`'s announcement once its words are spoken."""
        if self.reopen is None:
            return  # no way to open another stream: keys that jump do nothing
        self.sink.stop()
        if step is not None:
            if self.growing is not None:
                self.growing.until_step(step)  # its announcement is final once it and all before are spoken
            sample = next(s.announce_sample for s in self.timeline.steps if s.index == step)
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
                self._seek(nxt.announce_sample, nxt.index)
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
        if self.ears is not None:
            commands.extend(self.ears.poll())
        return commands

    def run(self, from_sample: int = 0, keys: Callable[[], str | None] = lambda: None,
            show: Callable[[str], None] | None = None) -> Outcome:
        """Play to the end (or until quit or a stop signal); Ctrl-C stops the sound first, then raises Interrupted."""
        if self.growing is not None and not getattr(self.sink, "grows", False):
            self.growing.until_complete()  # this backend needs the session's length before it starts
        total = self.timeline.total_samples
        # A full garbage collection holds the interpreter lock, and the audio
        # callback needs it: collect now and leave everything built so far out
        # of later collections, so none of them is long enough to starve it.
        # A sink with seconds queued at the server (pulse) is not starved by it:
        # there the collection comes after the first samples are queued, not before.
        if not getattr(self.sink, "deep_queue", False):
            gc.collect()
            gc.freeze()
        try:
            return self._play(total, from_sample, keys, show)
        finally:
            gc.unfreeze()  # desk mode plays all day: what this session held may be freed later

    def _play(self, total: int, from_sample: int, keys, show) -> Outcome:
        """Play; `total` is the session's length as far as it is known (a growing session's grows)."""
        self.sink.start(self.render, total, self.timeline.sample_rate, from_sample=from_sample)
        started = datetime.now().astimezone()
        if getattr(self.sink, "deep_queue", False):
            gc.collect()
            gc.freeze()
        if self.later is not None:
            self.remote, self.later = self.later(self.timeline), None
        last_shown = 0.0

        def stop(finished: bool = False, signum: int | None = None) -> Outcome:
            position = self.timeline.total_samples if finished else self.sink.position()
            self.sink.stop()
            return Outcome(position, self.timeline.total_samples, finished, signum, started, timeline=self.timeline)

        try:
            while True:
                if not self.paused and self.sink.wait(POLL):
                    total = self.timeline.total_samples
                    return Outcome(total, total, True, None, started, timeline=self.timeline)
                if self.growing is not None and not self.paused:
                    grown = self.timeline
                    self.growing.advance(self.sink.position())
                    if self.remote is not None and self.timeline is not grown:
                        self.remote.grew(self.timeline)
                    if self.ears is not None and self.timeline is not grown:
                        self.ears.grew(self.timeline)
                if self.paused:
                    time.sleep(POLL)  # only waiting for a key; the stream is stopped
                if (signum := self.stopped()) is not None:
                    return stop(signum=signum)
                for command in self._commands(keys):
                    if not self.handle(command):
                        return stop()
                if self.remote is not None:
                    self.remote.publish(self.sink.position(), self.paused)
                if self.ears is not None:
                    self.ears.publish(self.sink.position(), self.paused)
                if show is not None and time.monotonic() - last_shown >= 0.25:
                    waiting = self.growing is not None and self.growing.waiting
                    show(status(self.timeline, self.sink.position(), self.paused, self.place)
                         + ("\nWaiting for speech: the next step begins as soon as its words are ready"
                            if waiting else ""))
                    last_shown = time.monotonic()
        except KeyboardInterrupt:
            raise Interrupted(stop(signum=signal.SIGINT)) from None

