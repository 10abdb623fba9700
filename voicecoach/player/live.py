"""LivePlay: the one live-play path, sessions and plans of several routines on one sound device."""
from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from dataclasses import replace

from ..errors import EnvironmentProblem
from ..timeline import Timeline
from .lock import SessionLock
from .loop import Player
from .outcome import Interrupted, Outcome, PlanOutcome
from .panel import Place
from .signals import StopSignals
from .terminal import quiet_stderr


_NOT_LOADED = object()  # the mpris package before its first use


class Part:
    """One routine of a plan as it plays: its timeline, what renders it, and what to do when it ends.

    `growing`, when given, is a growing.GrowingSession: then `timeline` and
    `render` are its latest, and the summary after a play reads the timeline
    as it played.
    """

    def __init__(self, timeline: Timeline | None = None, render: Callable | None = None,
                 on_end: Callable[[Outcome], None] | None = None, growing=None):
        if growing is None and (timeline is None or render is None):
            raise ValueError("a part needs a timeline and what renders it, or a growing session")
        self._timeline, self._render, self.on_end, self.growing = timeline, render, on_end, growing

    @classmethod
    def of(cls, session, on_end: Callable[[Outcome], None] | None = None) -> "Part":
        """The part for a prepared Session or a GrowingSession (see growing.prepare_live)."""
        growing = session if hasattr(session, "advance") else None
        return cls(session.timeline, session.render, on_end, growing)

    @property
    def timeline(self) -> Timeline:
        return self.growing.timeline if self.growing is not None else self._timeline

    @property
    def render(self) -> Callable:
        return self.growing.render if self.growing is not None else self._render


class LivePlay:
    """The one live-play path: a sink opened early (so "no audio device" comes within
    milliseconds), sessions and plans of several sessions played on it with keys,
    MPRIS and a display, every end reported.

    With `mpris` each session is also a media player on the D-Bus session bus
    while it plays (mpris/); without a bus it plays exactly the same, and
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
        self.mpris = mpris
        self._mpris = _NOT_LOADED
        self._lock = SessionLock() if lock else None
        if self._lock is not None:
            self._lock.take(purpose)
        try:
            self._sink = self._open()
        except BaseException:
            self._release()
            raise

    def _remote(self, timeline: Timeline):
        """The session's MPRIS service, started; None when dbus_fast is missing (`mpris_off` says so).

        Its import (dbus_fast, asyncio: 50-100 ms) waits until the first stream
        has started (see play_plan), so it is not part of the first sound.
        """
        if self._mpris is _NOT_LOADED:
            try:
                from .. import mpris
            except ImportError as exc:  # dbus_fast missing (it is not installed off Linux)
                self.mpris_off, self._mpris = f"MPRIS off: {exc}", None
            else:
                self._mpris = mpris
        if self._mpris is None:
            return None
        remote = self._mpris.Mpris(timeline, self.pause_others)
        remote.start()
        return remote

    def _open(self):
        from ..sinks import open_sink

        with quiet_stderr():
            return open_sink(self.backend, self.device)

    @property
    def grows(self) -> bool:
        """Whether the stream opened ahead plays a session that grows as its speech comes (growing.py)."""
        self.ready()
        return bool(getattr(self._sink, "grows", False))

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
        remote = None

        def later(timeline: Timeline):
            nonlocal remote
            remote = self._remote(timeline)
            return remote

        # On the bus once the first stream has started, behind the seconds it has queued; before it on a
        # backend with a short queue (the import could starve it) and with --pause-others (the music
        # other players play stops as the session starts, as before).
        early = self.mpris and (self.pause_others or not getattr(self._sink, "deep_queue", False))
        sink = None
        with StopSignals() as signals:
            try:
                if early:
                    later(parts[0].timeline)
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
                                    lambda: signals.received, part.growing, self.ears,
                                    later if self.mpris and remote is None and self._mpris is not None else None)
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
                for part in parts:  # speech not spoken yet is not needed any more
                    if part.growing is not None:
                        part.growing.close()
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
