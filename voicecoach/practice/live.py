"""A live practice session: routines at their level, prepared, then played as one plan on the sound device.

The library side of `play`, `today --play` and `voicecoach` alone, callable from
Python with the same results: every routine is prepared before the first plays
(on the pulse backend a routine whose speech is not all cached starts as soon as
its first words exist and grows while it plays: growing.py), each one that
played is recorded in the history, and q, Stop or a signal ends the whole plan. The playing itself is
player.LivePlay; what the terminal shows is the caller's.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Played:
    """How a live plan ended: its outcome, its parts (timelines), and why it was not on the session bus."""

    outcome: object  # player.PlanOutcome
    parts: tuple  # player.Part, one per routine, in order
    interrupted: bool = False  # Ctrl-C or a signal stopped it: outcome.signal says which
    mpris_off: str | None = None


def _quiet(label: str):
    return contextlib.nullcontext(None)


def play(refs: Sequence[str], settings, ask: Callable[[str], bool] | None = None, keys: bool = False,
         panel=None, progress: Callable = _quiet, on_voice: Callable | None = None,
         heard: Callable[[str], None] | None = None, deaf: Callable[[str], None] = lambda why: None) -> Played | None:
    """Play the routines `refs` as one plan with `settings` (settings.resolve); None when the safety
    question was answered no.

    `ask(question)` asks the one-time safety question (None: not asked, as off a
    terminal); `keys` reads the terminal's keys while playing; `panel` is a context
    manager giving the live display's callback (or None); `progress(label)` a context
    manager giving a progress callback for the speech; `on_voice(voice)` is told each
    routine's voice (its note says why this engine) and returns it; `heard(line)`
    gets each word the listener heard (with `settings.listen_log`), `deaf(why)` why
    there is no listening when `settings.listen` asked for it (at once, or when it stopped).
    """
    from ..growing import speak_ahead
    from ..player import Interrupted, LivePlay, keyboard
    from ..practice.safety import confirm_safety
    from . import history

    speak_ahead(settings.engine)  # a neural voice's process starts while the rest prepares
    entries, _ = history.read()
    routines = [_at_level(ref, settings.level, entries) for ref in refs]
    if ask is not None and not confirm_safety(ask):
        return None
    starts = [_start(r, settings.start) for r in routines]
    ears, why = _ears(settings, heard)
    if why:
        deaf(why)
    interrupted = False
    # open the device before the slow part, so "no audio device" comes within seconds
    with contextlib.ExitStack() as stack:
        if ears is not None:
            stack.callback(ears.close)  # after the LivePlay below: the last command was acted on
        live = stack.enter_context(LivePlay(settings.backend, settings.device, mpris=settings.mpris,
                                            pause_others=settings.pause_others, ears=ears))
        parts = tuple(_part(r, settings.for_routine(r), start, progress, on_voice, live.grows)
                      for r, start in zip(routines, starts))
        try:
            with keyboard(keys) as read, (panel or contextlib.nullcontext(None)) as show:
                outcome = live.play_plan(parts, keys=read, show=show)
        except Interrupted as stop:
            outcome, interrupted = stop.outcome, True
    if ears is not None and ears.failure:
        deaf(ears.failure)
    return Played(outcome, parts, interrupted, live.mpris_off)


def _ears(settings, heard):
    """The listener `settings.listen` asks for, and why there is none; the listen package (pocketsphinx's
    loader, the echo canceller) is imported only when asked for, not on every play's way to its first sound."""
    if not settings.listen:
        return None, None
    from ..listen import for_settings

    return for_settings(settings, heard)


def _at_level(ref: str, level: int | None, entries):
    """The routine `ref` at `level`, or at the level its history has reached."""
    from ..routines import load
    from ..routines.progression import at_level
    from .plan import at_current_level

    routine = load(ref)
    return at_level(routine, level) if level else at_current_level(routine, entries)


def _start(routine, start: str | None) -> int:
    from ..routines import pick_step

    return pick_step(routine, start) if start else 0


def _part(routine, settings, start: int, progress: Callable, on_voice: Callable | None, grows: bool):
    """The routine prepared as one part of the plan, recorded when it ends: with its speech all made, or
    (`grows`: the sink plays a session while it grows) as soon as its first words exist (growing.py)."""
    from ..growing import prepare_live
    from ..player import Part
    from ..session import options_for
    from . import history

    opts = options_for(settings, lead_in=settings.lead_in, start_step=start)
    voice = settings.to_voice()
    voice = on_voice(voice) if on_voice is not None else voice
    with progress("Preparing speech") as report:
        session = prepare_live(routine, opts, voice, report, settings.cache_limit, grows)
    return Part.of(session, history.recorder(routine, session.timeline))
