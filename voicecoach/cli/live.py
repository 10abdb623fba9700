"""Playing routines live from a terminal: `play`, `today --play` and `voicecoach` alone share this.

It asks the safety question once, opens the sound device before anything slow,
shows the live panel and reads keys on a terminal, records each session, and
says how it ended. The playing itself is the library's `LivePlay`.
"""
from __future__ import annotations

import contextlib
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


def play_routines(refs: list[str], choices: PlayChoices) -> None:
    """Play each routine in turn; a failed or interrupted one stops the rest (exit code as documented)."""
    for ref in refs:
        play_routine(ref, choices)


def play_routine(ref: str, choices: PlayChoices) -> None:
    """Play one routine live, as the `play` command does."""
    from ..config import load_config
    from ..duration import clock
    from ..player import Interrupted, LivePlay, keyboard, step_at
    from ..practice import history
    from ..practice.plan import at_current_level
    from ..practice.safety import confirm_safety
    from ..routines import load, pick_step
    from ..routines.progression import at_level
    from ..session import bed_choice, options, prepare_session, voice_for
    from .output import console_progress

    with handled():
        entries, _ = history.read()
        r = load(ref)
        r = at_level(r, choices.level) if choices.level else at_current_level(r, entries)
        cfg = load_config()
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        if interactive and not confirm_safety(typer.confirm):
            typer.echo("Not playing. Please have a professional check first; `voicecoach safety` lists "
                       "the warning signs.")
            return
        start_step = pick_step(r, choices.from_step) if choices.from_step else 0
        lead = choices.lead_in if choices.lead_in is not None else (cfg.lead_in if cfg.lead_in is not None else 5.0)
        # open the device before the slow part, so "no audio device" comes within seconds
        with LivePlay(choices.backend or cfg.backend, choices.device or cfg.device,
                      **hands_free(choices.mpris, choices.pause_others, cfg)) as live:
            opts = options(choices.sample_rate, choices.scale, not choices.no_safety, lead_in=lead,
                           start_step=start_step,
                           background=bed_choice(choices.background, choices.no_background, choices.duck,
                                                 choices.background_level, cfg))
            voice = noted(voice_for(r, choices.voice, choices.wpm, choices.volume, choices.tts_command, cfg,
                                    choices.engine, choices.voice_model))
            with console_progress("Preparing speech") as progress:
                session = prepare_session(r, opts, voice, progress)
            tl = session.timeline
            try:
                with keyboard(interactive) as keys, _panel(interactive) as show:
                    outcome = live.play(tl, session.render, keys=keys, show=show,
                                        on_end=history.recorder(r, tl, choices.scale))
            except Interrupted as stop:
                span = step_at(tl, stop.outcome.position)
                where = f", in step {span.index + 1} of {len(tl.steps)} ({span.title})" if span else ""
                typer.echo(f"Stopped after {clock(stop.outcome.position / tl.sample_rate)} of "
                           f"{clock(tl.seconds)}{where}.", err=True)
                raise typer.Exit(130) from None
            finally:
                say_mpris_off(live)
        if outcome.finished:
            typer.echo(f"Finished {tl.title} ({clock(tl.seconds)}).")
        else:
            typer.echo(f"Quit after {clock(outcome.position / tl.sample_rate)} of {clock(tl.seconds)}.")


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
        with Live("", refresh_per_second=4, transient=True) as live:
            yield lambda text: live.update(text)

    return panel()
