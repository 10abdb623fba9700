"""Playing routines live from a terminal: `play`, `today --play` and `voicecoach` alone share this.

It asks the safety question once, opens the sound device before anything slow,
shows the live panel and reads keys on a terminal, and says how it ended. The
session itself (levels, preparing, playing, the history) is practice.live's.
"""
from __future__ import annotations

import contextlib
import os
import shlex
import sys

import typer

from .output import console_progress, handled, noted, settings


def play_routines(refs: list[str], chosen) -> None:
    """Play the routines as one plan (one routine for `play`) with the settings `chosen`, and say how it ended."""
    import voicecoach as vc

    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    with handled():
        played = vc.play(refs, chosen, ask=typer.confirm if interactive else None, keys=interactive,
                         panel=_panel(interactive), progress=console_progress, on_voice=noted, heard=heard,
                         deaf=lambda why: say_not_listening(why, chosen))
    if played is None:
        typer.echo("Not playing. Please have a professional check first; `voicecoach safety` lists the warning signs.")
        return
    say_mpris_off(played.mpris_off)
    if played.interrupted:
        _say(summary(played.outcome, played.parts, refs, "Stopped"), err=True)
        _say(played.outcome.warnings, err=True)
        raise typer.Exit(128 + played.outcome.signal)
    typer.echo(summary(played.outcome, played.parts, refs, "Quit"))
    _say(played.outcome.warnings, err=True)


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


def say_mpris_off(why: str | None) -> None:
    """With --verbose, one line on stderr when the session could not be on the session bus (`why`)."""
    if settings.verbose and why:
        typer.echo(why, err=True)


def heard(line: str) -> None:
    """One word the listener heard (--listen-log), on stderr."""
    _say(f"listen: {line}", err=True)


def say_not_listening(why: str, chosen) -> None:
    """Why spoken commands are off: always for --listen, with --verbose only when the config file asked."""
    if chosen.origin("listen").startswith("--") or settings.verbose:
        _say(f"voicecoach: {why}", err=True)


def _panel(enabled: bool):
    """A rich Live panel on a terminal; a no-op callback otherwise (stdout stays quiet)."""
    if not enabled:
        return contextlib.nullcontext(None)

    @contextlib.contextmanager
    def panel():
        live = None

        def show(text: str) -> None:
            nonlocal live
            if live is None:  # rich (30-40 ms to import) once the first sound plays, not before it
                from rich.live import Live

                live = Live("", refresh_per_second=4, transient=True)
                live.start()
            live.update(text)

        try:
            yield show
        finally:
            if live is not None:
                with contextlib.suppress(OSError):  # the terminal was closed (SIGHUP): nothing to clear
                    live.stop()

    return panel()
