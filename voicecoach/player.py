"""Live play: one continuous stream to a sink, with keys, MPRIS and a display around it.

The pacing is the sink's: the whole session is one stream of samples, so the
loop here only polls (for keys, commands from the session bus and the display)
and never times anything. That loop is the one place that acts on a command,
whichever way it came.
"""
from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from .duration import clock
from .errors import EnvironmentProblem
from .timeline import StepSpan, Timeline

POLL = 0.05  # seconds between looks at the keyboard and the bus: well inside the 100 ms pause promise
# The commands a key gives; MPRIS gives the same ones, plus "play" and "pause" (mpris.py).
KEYS = {" ": "toggle", "n": "next", "N": "next", "b": "restart", "B": "restart", "q": "quit", "Q": "quit"}


# Besides Ctrl-C (SIGINT), what ends a session from outside: closing its terminal
# and `kill`. Each stops the sound, resumes paused players and is recorded, as q is.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGHUP", "SIGTERM") if hasattr(signal, name))
LOCK_FILE = "live.lock"


@dataclass(frozen=True)
class Outcome:
    """How a play ended: samples heard, whether it reached the end, and where it stopped.

    `signal` is the signal that ended it (SIGINT for Ctrl-C, SIGHUP, SIGTERM),
    `started` when its sound began (local time with its offset), `warnings` what
    went wrong after it ended without stopping anything (the history not written).
    """

    position: int
    total: int
    finished: bool
    signal: int | None = None
    started: datetime | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Part:
    """One routine of a plan as it plays: its timeline, what renders it, and what to do when it ends."""

    timeline: Timeline
    render: Callable
    on_end: Callable[[Outcome], None] | None = None


@dataclass(frozen=True)
class PlanOutcome:
    """How a plan of routines ended: one Outcome per routine that played (the last may be unfinished).

    `position` and `total` are on the plan's clock: the planned lengths of the
    routines before the last one played, plus how far that one got.
    """

    outcomes: tuple[Outcome, ...]
    totals: tuple[int, ...]  # every routine's length in samples, played or not
    signal: int | None = None
    warnings: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        return (self.signal is None and len(self.outcomes) == len(self.totals)
                and all(o.finished for o in self.outcomes))

    @property
    def part(self) -> int:
        """The routine (0-based) the plan ended in."""
        return max(0, len(self.outcomes) - 1)

    @property
    def position(self) -> int:
        last = self.outcomes[-1].position if self.outcomes else 0
        return sum(self.totals[:self.part]) + last

    @property
    def total(self) -> int:
        return sum(self.totals)


@dataclass(frozen=True)
class Place:
    """Where a routine sits in a plan: routine `index` (0-based) of `count`, times in seconds."""

    index: int
    count: int
    before: float  # the plan's seconds before this routine
    total: float  # the whole plan's seconds
    next_title: str | None = None  # the routine after this one


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


def status(timeline: Timeline, sample: int, paused: bool = False, place: Place | None = None) -> str:
    """The one-screen summary: current step and side, time left, what is next, overall progress.

    In a plan of several routines (`place`) the first line says which routine
    this is, and the time is the plan's.
    """
    rate = timeline.sample_rate
    span = step_at(timeline, sample)
    several = place is not None and place.count > 1
    lines = [f"Routine {place.index + 1} of {place.count}: {timeline.title}" if several else timeline.title]
    if sample < timeline.lead_in_samples:
        # a countdown, so it never shows 0:00 while time is left
        lines.append(f"Get into position: {clock(math.ceil((timeline.lead_in_samples - sample) / rate))}")
    elif span is None:
        lines.append("Introduction")
    else:
        if sample < span.start_sample:
            left = f"starts in {clock((span.start_sample - sample) / rate)}"
        else:
            left = f"{clock(max(0, span.end_sample - sample) / rate)} left"
        lines.append(f"Step {span.index + 1} of {timeline.steps_in_routine}: {span.title}  ({left})")
    nxt = next_step(timeline, sample)
    after = place.next_title if place is not None else None
    lines.append(f"Next: {nxt.title}" if nxt else f"Next: {after}" if after else "Next: the end")
    done = min(sample, timeline.total_samples) / rate
    before, total = (place.before, place.total) if place is not None else (0.0, timeline.seconds)
    lines.append(f"{clock(before + done)} / {clock(total)}" + ("   PAUSED (space to resume)" if paused else ""))
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

        gone = False  # the terminal was closed: it reads as ready, then fails (EIO) or ends, forever

        def read() -> str | None:
            nonlocal gone
            if gone:
                return None
            try:
                ready, _, _ = select.select([fd], [], [], 0)
                data = os.read(fd, 1) if ready else None
            except OSError:
                data = b""
            if data == b"":
                gone = True  # no more keys; the hang-up signal that comes with it ends the session
                return None
            return data.decode(errors="ignore") if data else None

        yield read
    finally:
        with contextlib.suppress(termios.error, OSError):  # a closed terminal (SIGHUP) has no mode to restore
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
    `place` says where the session sits in a plan (for the panel), and
    `stopped()` gives the number of a signal that asked to stop, else None.
    `ears`, when given, is a `listen.Listener`: it taps the render (the echo
    canceller's reference), hears where we are, and gives spoken commands.
    """

    def __init__(self, timeline: Timeline, render, sink, reopen=None, remote=None, place: Place | None = None,
                 stopped: Callable[[], int | None] = lambda: None, ears=None):
        self.timeline = timeline
        self.render = render
        self.sink = sink
        self.reopen = reopen  # a sink plays one stream: skipping needs a fresh one
        self.remote = remote
        self.place = place
        self.stopped = stopped
        self.paused = False
        self.ears = ears
        if ears is not None:
            self.render = ears.follow(timeline, render)

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
        if self.ears is not None:
            commands.extend(self.ears.poll())
        return commands

    def run(self, from_sample: int = 0, keys: Callable[[], str | None] = lambda: None,
            show: Callable[[str], None] | None = None) -> Outcome:
        """Play to the end (or until quit or a stop signal); Ctrl-C stops the sound first, then raises Interrupted."""
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
        started = datetime.now().astimezone()
        last_shown = 0.0

        def stop(finished: bool = False, signum: int | None = None) -> Outcome:
            position = total if finished else self.sink.position()
            self.sink.stop()
            return Outcome(position, total, finished, signum, started)

        try:
            while True:
                if not self.paused and self.sink.wait(POLL):
                    return Outcome(total, total, True, None, started)
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
                    show(status(self.timeline, self.sink.position(), self.paused, self.place))
                    last_shown = time.monotonic()
        except KeyboardInterrupt:
            raise Interrupted(stop(signum=signal.SIGINT)) from None


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, SIGHUP or SIGTERM during play, after the sound was stopped.

    `outcome` says how far it got (an Outcome, or a PlanOutcome for a plan);
    its `signal` says which signal it was.
    """

    def __init__(self, outcome):
        super().__init__()
        self.outcome = outcome


class StopSignals:
    """While entered, SIGHUP and SIGTERM only note that they came; the play loop stops on its next look.

    A note, not an exception raised wherever the main thread happens to be, so the
    stop goes the way q goes: sound stopped, players resumed, the session recorded.
    Handlers can only be set from the main thread; elsewhere nothing changes.
    """

    def __init__(self):
        self.received: int | None = None
        self._saved: dict[int, object] = {}

    def _note(self, signum, _frame) -> None:
        if self.received is None:
            self.received = signum

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._saved[signum] = signal.signal(signum, self._note)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._saved.items():
            if handler is not None:  # None: set outside Python, cannot be put back
                signal.signal(signum, handler)
        self._saved.clear()


class SessionBusy(EnvironmentProblem):
    """Another live session of this user is playing (exit code 3)."""


def lock_path() -> Path:
    """The live-session lock file, beside the speech cache: one per user (and per test home)."""
    from .speech.cache import cache_dir

    return cache_dir().parent / LOCK_FILE


class SessionLock:
    """One live session at a time: an exclusive flock on `lock_path()`, held while a LivePlay is open.

    The kernel drops an flock when the process ends, however it ends (kill -9
    included), so a lock never outlives its session. The file says who holds it
    (pid and what plays), for the message the next session gives. Where the file
    cannot be made (a read-only cache folder) there is no lock and play goes on.
    """

    def __init__(self, path: Path | None = None):
        self.path = path or lock_path()
        self._fd: int | None = None

    def take(self, what: str = "getting ready") -> None:
        """Hold the lock, saying `what` this session does; SessionBusy when another process holds it."""
        try:
            import fcntl
        except ImportError:  # not a Unix: no lock
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(fd)
            os.close(fd)
            raise SessionBusy(f"another live session is playing ({holder}); stop it first, or wait for it to end")
        self._fd = fd
        self.note(what)

    def note(self, what: str) -> None:
        """Say in the lock file what this session plays now."""
        if self._fd is None:
            return
        text = json.dumps({"pid": os.getpid(), "playing": what}).encode()
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, text, 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def _holder(fd: int) -> str:
    """Who holds the lock, as the lock file says: 'Morning routine, pid 1234'."""
    try:
        found = json.loads(os.pread(fd, 4096, 0) or b"{}")
        pid, what = int(found["pid"]), str(found["playing"])
    except (OSError, ValueError, KeyError, TypeError):
        return "its process is not known"
    return f"{what}, pid {pid}"


class LivePlay:
    """The one live-play path: a sink opened early (so "no audio device" comes within
    milliseconds), sessions and plans of several sessions played on it with keys,
    MPRIS and a display, every end reported.

    With `mpris` each session is also a media player on the D-Bus session bus
    while it plays (mpris.py); without a bus it plays exactly the same, and
    `mpris_off` says why. `pause_others` pauses the other players that are
    playing when a session starts, and resumes them when it ends, however it ends.
    With `lock` (the default) only one LivePlay of this user is open at a time:
    another one raises SessionBusy (see SessionLock), whose message says what
    plays, or `purpose` between sessions (desk mode waiting for its next break).

    SIGHUP and SIGTERM while a session plays end it as Ctrl-C does: the sound
    stops, paused players resume, `on_end` runs, and Interrupted is raised with
    the signal in its outcome.

    `ears` (a `listen.Listener`, opened and closed by the caller) gives spoken commands.

    Use as a context manager; whatever happens, no stream is left playing.
    """

    def __init__(self, backend: str | None = None, device: str | None = None, mpris: bool = True,
                 pause_others: bool = False, lock: bool = True, purpose: str = "getting ready", ears=None):
        self.backend = backend
        self.device = device
        self.pause_others = pause_others
        self.purpose = purpose
        self.ears = ears
        self.mpris_off: str | None = None  # why the last session was not on the bus (None: it was, or not asked)
        self._lock = SessionLock() if lock else None
        if self._lock is not None:
            self._lock.take(purpose)
        try:
            self._mpris = self._load_mpris() if mpris else None
            self._sink = self._open()
        except BaseException:
            self._release()
            raise

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

        Ctrl-C, SIGHUP and SIGTERM stop the sound, call `on_end`, then raise
        `Interrupted`. A problem of `on_end` (EnvironmentProblem: the history
        could not be written) is in the outcome's `warnings`, not raised.
        """
        try:
            plan = self.play_plan([Part(timeline, render, on_end)], keys, show)
        except Interrupted as stop:
            raise Interrupted(_single(stop.outcome, timeline)) from None
        return _single(plan, timeline)

    def play_plan(self, parts: Sequence[Part], keys: Callable[[], str | None] = lambda: None,
                  show: Callable[[str], None] | None = None) -> PlanOutcome:
        """Play the routines of a plan one after another; a quit or a stop ends the whole plan.

        Each part's `on_end(outcome)` runs when it ends, however it ends; a part
        not reached is not played and not reported. On the bus the plan is one
        player whose tracks follow the routine playing, so other players paused
        for it stay paused until the plan ends. Ctrl-C, SIGHUP and SIGTERM raise
        `Interrupted` with the PlanOutcome, after the sound stopped and the
        `on_end` of the routine playing ran.
        """
        if not parts:
            raise ValueError("a plan needs at least one routine")
        seconds = [p.timeline.seconds for p in parts]
        outcomes: list[Outcome] = []
        warnings: list[str] = []
        signum: int | None = None
        self.ready()
        remote = self._mpris.Mpris(parts[0].timeline, self.pause_others) if self._mpris is not None else None
        sink = None
        with StopSignals() as signals:
            try:
                if remote is not None:
                    remote.start()
                for k, part in enumerate(parts):
                    if k and remote is not None:
                        remote.load(part.timeline)
                    self.ready()
                    if signals.received is not None:  # came while the stream opened: this routine never started
                        signum = signals.received
                        break
                    if self._lock is not None:
                        self._lock.note(part.timeline.title)
                    place = Place(k, len(parts), sum(seconds[:k]), sum(seconds),
                                  parts[k + 1].timeline.title if k + 1 < len(parts) else None)
                    player = Player(part.timeline, part.render, self._sink, self._open, remote, place,
                                    lambda: signals.received, self.ears)
                    self._sink = None  # the player owns it now, and any stream a key reopens
                    try:
                        outcome = player.run(keys=keys, show=show)
                    except Interrupted as stop:
                        outcome = stop.outcome
                    finally:
                        sink = player.sink
                        sink.stop()
                    outcomes.append(outcome)
                    _ended(part, outcome, warnings)
                    signum = outcome.signal or signals.received
                    if not outcome.finished or signum is not None:
                        break
            except KeyboardInterrupt:  # Ctrl-C between two routines
                signum = signal.SIGINT
            finally:
                if sink is not None:
                    sink.stop()
                if self._lock is not None:
                    self._lock.note(self.purpose)
                if remote is not None:  # after the sound stopped, so resumed music never overlaps it
                    remote.close()
                    self.mpris_off = remote.failure
        plan = PlanOutcome(tuple(outcomes), tuple(p.timeline.total_samples for p in parts), signum,
                           tuple(dict.fromkeys(warnings)))
        if signum is not None:
            raise Interrupted(plan)
        return plan

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()

    def close(self) -> None:
        """Release the stream opened ahead, if any, and the session lock."""
        if self._sink is not None:
            self._sink.stop()
            self._sink = None
        self._release()

    def __enter__(self) -> "LivePlay":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _ended(part: Part, outcome: Outcome, warnings: list[str]) -> None:
    """Run the part's `on_end`; what it could not do (write the history) becomes a warning, not a failure."""
    if part.on_end is None:
        return
    try:
        part.on_end(outcome)
    except EnvironmentProblem as exc:
        warnings.append(str(exc))


def _single(plan: PlanOutcome, timeline: Timeline) -> Outcome:
    """The outcome of a plan of one routine, as `LivePlay.play` gives it."""
    if not plan.outcomes:  # stopped before it began
        return Outcome(0, timeline.total_samples, False, plan.signal, None, plan.warnings)
    return replace(plan.outcomes[-1], signal=plan.signal, warnings=plan.warnings)
