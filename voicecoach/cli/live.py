"""Playing routines live from a terminal: `play`, `today --play` and `voicecoach` alone share this.

It asks the safety question once, opens the sound device before anything slow,
shows the live panel and reads keys on a terminal, records each session, and
says how it ended. The playing itself is the library's `LivePlay`.
"""
from __future__ import annotations

import contextlib
import os
import shlex
import sys
from dataclasses import dataclass

import typer

from .output import handled, noted, settings


@dataclass(frozen=True)
class PlayChoices:
    """What the play options asked for; None means the config file's value, then the default."""

    voice: str | None = None
    wpm: int | None = None
    volume: float | None = None
    tts_command: str | None = None
    scale: float = 1.0
    from_step: str | None = None
    no_safety: bool = False
    backend: str | None = None
    device: str | None = None
    lead_in: float | None = None
    level: int | None = None
    sample_rate: int = 22050
    background: str | None = None
    no_background: bool = False
    duck: float | None = None
    background_level: float | None = None
    mpris: bool | None = None
    pause_others: bool | None = None
    engine: str | None = None
    voice_model: str | None = None
    listen: bool = False  # spoken commands (voicecoach.listen)
    listen_device: str | None = None
    listen_log: bool = False


def play_routines(refs: list[str], choices: PlayChoices) -> None:
    """Play the routines as one plan (one routine for `play`): q, Stop or a signal ends all of it.

    Every routine is prepared before the first plays, so the panel and the
    summary know the plan's length; each one that played is recorded.
    """
    from ..config import load_config
    from ..player import Interrupted, LivePlay, Part, keyboard
    from ..practice import history
    from ..practice.plan import at_current_level
    from ..practice.safety import confirm_safety
    from ..routines import load, pick_step
    from ..routines.progression import at_level
    from ..session import bed_choice, options, prepare_session, voice_for
    from .output import console_progress

    with handled():
        entries, _ = history.read()
        routines = [load(ref) for ref in refs]
        routines = [at_level(r, choices.level) if choices.level else at_current_level(r, entries) for r in routines]
        cfg = load_config()
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        if interactive and not confirm_safety(typer.confirm):
            typer.echo("Not playing. Please have a professional check first; `voicecoach safety` lists "
                       "the warning signs.")
            return
        starts = [pick_step(r, choices.from_step) if choices.from_step else 0 for r in routines]
        lead = choices.lead_in if choices.lead_in is not None else (cfg.lead_in if cfg.lead_in is not None else 5.0)
        # open the device before the slow part, so "no audio device" comes within seconds
        ears = _ears(choices, cfg)
        with contextlib.ExitStack() as stack, LivePlay(choices.backend or cfg.backend, choices.device or cfg.device,
                                                       ears=ears, **hands_free(choices.mpris, choices.pause_others,
                                                                                cfg)) as live:
            if ears is not None:
                stack.callback(_ears_closed, ears)
            parts = []
            for r, start in zip(routines, starts):
                opts = options(choices.sample_rate, choices.scale, not choices.no_safety,
                               lead_in=lead, start_step=start,
                               background=bed_choice(choices.background, choices.no_background, choices.duck,
                                                     choices.background_level, cfg))
                voice = noted(voice_for(r, choices.voice, choices.wpm, choices.volume, choices.tts_command, cfg,
                                        choices.engine, choices.voice_model))
                with console_progress("Preparing speech") as progress:
                    session = prepare_session(r, opts, voice, progress, cfg.cache_limit)
                parts.append(Part(session.timeline, session.render, history.recorder(r, session.timeline)))
            try:
                with keyboard(interactive) as keys, _panel(interactive) as show:
                    outcome = live.play_plan(parts, keys=keys, show=show)
            except Interrupted as stop:
                _say(summary(stop.outcome, parts, refs, "Stopped"), err=True)
                _say(stop.outcome.warnings, err=True)
                raise typer.Exit(128 + stop.outcome.signal) from None
            finally:
                say_mpris_off(live)
    typer.echo(summary(outcome, parts, refs, "Quit"))
    _say(outcome.warnings, err=True)


def summary(outcome, parts, refs: list[str], verb: str) -> str:
    """How a plan ended, for the terminal: what was played of how much, and how to go on if it stopped early."""
    from ..duration import clock
    from ..player import step_at

    rate = parts[0].timeline.sample_rate
    titles = [p.timeline.title for p in parts]
    total = clock(outcome.total / rate)
    done = [o for o in outcome.outcomes if o.finished]
    if outcome.finished or len(done) == len(parts):  # a signal after the last routine ended stops nothing
        return (f"Finished {titles[0]} ({total})." if len(parts) == 1 else
                f"Finished {len(parts)} routines: {' + '.join(titles)} ({total}).")
    if outcome.outcomes and outcome.outcomes[-1].finished:  # stopped between two routines: go on with the next
        k = len(outcome.outcomes)
        rest = [f"voicecoach play {shlex.quote(ref)}" for ref in refs[k:]]
        return (f"{verb} after {clock(outcome.position / rate)} of {total}, before routine {k + 1} of "
                f"{len(parts)} ({titles[k]}).\nContinue with: " + ", then ".join(rest))
    k = outcome.part
    timeline = parts[k].timeline
    here = outcome.outcomes[k].position if outcome.outcomes else 0
    span = step_at(timeline, here)
    where = [f"routine {k + 1} of {len(parts)} ({timeline.title})"] if len(parts) > 1 else []
    if span is not None:
        where.append(f"step {span.index + 1} of {timeline.steps_in_routine} ({span.title})")
    line = f"{verb} after {clock(outcome.position / rate)} of {total}" + (", in " + ", ".join(where) if where else "")
    # go on from the step that was cut short (or the one the session started at)
    first = span.index if span is not None else (timeline.steps[0].index if timeline.steps else 0)
    rest = [f"voicecoach play {shlex.quote(refs[k])}" + (f" --from {first + 1}" if first else "")]
    rest += [f"voicecoach play {shlex.quote(ref)}" for ref in refs[k + 1:]]
    return f"{line}.\nContinue with: " + ", then ".join(rest)


def _say(text, err: bool = False) -> None:
    """Print `text` (a line, or warnings one line each); a terminal that was closed (SIGHUP) takes nothing.

    Once a write fails, stdout and stderr go to /dev/null, so Python's flush at
    exit cannot fail too and turn the exit code into 120.
    """
    lines = [text] if isinstance(text, str) else [f"voicecoach: warning: {w}" for w in text]
    try:
        for line in lines:
            typer.echo(line, err=err)
    except OSError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)


def hands_free(mpris: bool | None, pause_others: bool | None, cfg) -> dict[str, bool]:
    """LivePlay's `mpris` and `pause_others`: the option if given, else the config file's, else on and off."""
    return {"mpris": mpris if mpris is not None else cfg.mpris is not False,
            "pause_others": pause_others if pause_others is not None else bool(cfg.pause_others)}


def say_mpris_off(live) -> None:
    """With --verbose, one line on stderr when the session could not be on the session bus."""
    if settings.verbose and live.mpris_off:
        typer.echo(live.mpris_off, err=True)


def _panel(enabled: bool):
    """A rich Live panel on a terminal; a no-op callback otherwise (stdout stays quiet)."""
    if not enabled:
        return contextlib.nullcontext(None)
    from rich.live import Live

    @contextlib.contextmanager
    def panel():
        live = Live("", refresh_per_second=4, transient=True)
        live.start()
        try:
            yield lambda text: live.update(text)
        finally:
            with contextlib.suppress(OSError):  # the terminal was closed (SIGHUP): nothing to clear
                live.stop()

    return panel()


def _ears(choices: PlayChoices, cfg):
    """The listener `--listen` asks for, or None; one line on stderr when there is no microphone."""
    if not choices.listen:
        return None
    from ..listen import open_listener

    log = (lambda line: _say(f"listen: {line}", err=True)) if choices.listen_log else None
    ears, why = open_listener(choices.sample_rate, choices.listen_device, choices.backend or cfg.backend,
                              choices.device or cfg.device, log)
    if why:
        _say(f"voicecoach: {why}; playing without it", err=True)
    return ears


def _ears_closed(ears) -> None:
    ears.close()
    if ears.failure:
        _say(f"voicecoach: {ears.failure}", err=True)
