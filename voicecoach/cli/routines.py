"""The commands about routines themselves: list, show, validate, schema, new, and the voices to speak them."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..errors import VoicecoachError
from .app import (RENDER, ROUTINE_HELP, VOICE, TtsOpt, app, complete_routine, console_progress, error_line, error_lines,
                  handled, noted, resolved, with_options)


@app.command("list")
def list_cmd() -> None:
    """List every routine: the built-ins and those in your routine folder, with timed totals."""
    from ..duration import clock
    from ..routines import builtin_ids, load_file, routine_ids, timed_seconds, user_routines

    with handled():
        builtins, mine = set(builtin_ids()), user_routines()
        for rid, path in routine_ids().items():  # one row per id: the routine play, show and export take
            mark = ""
            if rid in mine:
                mark = "  [yours, in place of the built-in]" if rid in builtins else "  [yours]"
            try:
                routine = load_file(path)
                typer.echo(f"{rid:<20} {clock(timed_seconds(routine)):>6}  {routine.title}{mark}")
            except VoicecoachError as exc:
                typer.echo(f"{rid:<20} {'?':>6}  (invalid: {error_line(exc)}){mark}")


@app.command()
@with_options(RENDER[:2], VOICE)
def show(
    routine: str = typer.Argument(..., help=ROUTINE_HELP, autocompletion=complete_routine),
    timeline: bool = typer.Option(False, "--timeline", help="List every event with its time."),
    given: dict = None,
) -> None:
    """Show a routine's steps with their times, the timed total and the total with announcements."""
    import voicecoach as vc
    from ..errors import EnvironmentProblem

    with handled():
        settings = resolved(given)
        r = vc.load(routine)
        _print_steps(r, settings.scale)
        try:
            with console_progress("Preparing speech") as progress:
                session = vc.prepare(r, vc.options(scale=settings.scale, safety=settings.safety),
                                     noted(settings.voice_of(r)), progress, settings.cache_limit)
        except EnvironmentProblem as exc:
            typer.echo(f"total with announcements: unknown ({error_line(exc)})")
            return
    _print_timeline(session.timeline, timeline)


def _print_steps(r, scale: float) -> None:
    from ..duration import clock
    from ..routines import expand, timed_seconds

    typer.echo(r.title)
    if r.description:
        typer.echo(r.description)
    typer.echo("")
    for i, exp in enumerate(expand(r), 1):
        typer.echo(f"{i:>3}. {exp.title:<48} {clock(exp.duration * scale):>6}")
    typer.echo("")
    typer.echo(f"timed total: {clock(timed_seconds(r) * scale)}")


def _print_timeline(tl, events: bool) -> None:
    """The total with announcements and, with `events`, every event with its time."""
    from ..duration import clock

    typer.echo(f"total with announcements: {clock(tl.seconds)}")
    if events:
        typer.echo("")
        for ev in tl.events:
            what = ev.text if ev.text is not None else ev.sound
            tag = ev.role or ev.phase or ""
            step = "-" if ev.step is None else str(ev.step + 1)
            typer.echo(f"{ev.sample / tl.sample_rate:9.3f}s  {ev.kind:<6} {tag:<9} step {step:<3} {what}")


@app.command()
def validate(files: List[Path] = typer.Argument(..., help="Routine files to check.")) -> None:
    """Check routine files; exit 0 when all are valid, 1 (one line per problem, all of them) otherwise."""
    from ..duration import clock
    from ..errors import RoutineProblems
    from ..routines import expand, load_file, timed_seconds
    from ..session import estimated_timeline

    bad = 0
    for path in files:
        try:
            routine = load_file(path)
            problems: list = []
            estimated_timeline(routine, problems=problems)  # a cue that plainly cannot fit, without an engine
            if problems:
                raise RoutineProblems(problems)
            n = len(expand(routine))
            typer.echo(f"{path}: ok ({n} step{'' if n == 1 else 's'}, {clock(timed_seconds(routine))} timed)")
        except VoicecoachError as exc:
            for line in error_lines(exc):
                typer.echo(line, err=True)
            bad += 1
    raise typer.Exit(1 if bad else 0)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the routine format (for editor completion)."""
    import json

    from ..routines.schema import schema as make

    typer.echo(json.dumps(make(), indent=2))


@app.command()
def new(
    name: str = typer.Argument(..., help="Routine name: letters, digits and dashes."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing routine of that name."),
) -> None:
    """Write a commented starter routine into your routine folder."""
    from ..routines.starter import write_starter

    with handled():
        typer.echo(f"wrote {write_starter(name, force)}")


@app.command()
def voices(
    tts_command: Optional[str] = TtsOpt,
) -> None:
    """List the voices every speech engine offers (neural ones with their source and licence line)."""
    from ..speech import all_voices

    with handled():
        for engine, found in all_voices(tts_command):
            typer.echo(f"{engine}:")
            if isinstance(found, str):
                typer.echo(f"  (not available: {found})")
            elif not found:
                typer.echo("  (this engine does not list its voices; see its own documentation)")
            for v in found if not isinstance(found, str) else ():
                langs = ", ".join(v.languages) if v.languages else ""
                typer.echo(f"  {v.id:<26} {v.name:<30} {langs}")
                if v.source or v.licence:
                    typer.echo(f"  {'':<26} from {v.source or 'unknown'}; model card: {v.licence or 'no licence line'}")


@app.command()
def backgrounds() -> None:
    """List the built-in background beds (any audio file works too)."""
    from ..background import beds

    with handled():
        for name, seconds, text in beds():
            typer.echo(f"{name:<8} {seconds:>4.0f} s loop  {text}")
        typer.echo("or any audio file: --background ~/music/calm.flac (looped with a crossfade when short)")
