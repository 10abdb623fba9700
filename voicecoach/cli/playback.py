"""The commands that make sound: play (live, hands-free) and export (to a file)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import (BED, PLAY, RENDER, ROUTINE_HELP, VOICE, VOLUME, app, complete_routine, console_progress, handled,
                  noted, resolved, with_options)


@app.command()
@with_options(VOICE, VOLUME, RENDER, BED)
def export(
    routine: Optional[str] = typer.Argument(None, help=ROUTINE_HELP, autocompletion=complete_routine),
    output: Path = typer.Option(..., "-o", "--output", help="The audio file (.wav .flac .ogg .mp3), "
                                                             "or a folder with --all."),
    timeline: Optional[Path] = typer.Option(None, "--timeline", help="Also write the timeline as JSON."),
    subtitles: Optional[Path] = typer.Option(None, "--subtitles", help="Also write the spoken text "
                                                                       "(.vtt, .srt or .lrc)."),
    all_: bool = typer.Option(False, "--all", help="Every built-in routine as mp3 with subtitles, "
                                                   "plus an .m3u playlist, into the folder -o (replacing "
                                                   "those of an earlier --all)."),
    force: bool = typer.Option(False, "--force", help="Overwrite files that exist already."),
    given: dict = None,
) -> None:
    """Write a session as one audio file, with chapters where the format has them."""
    with handled():
        settings = resolved(given)
        lines = _export(settings, routine, output, timeline, subtitles, all_, force)
        for line in lines:
            typer.echo(line)


def _export(settings, routine, output, timeline, subtitles, all_: bool, force: bool):
    """The lines export says: one library call, --all's or one routine's."""
    import voicecoach as vc
    from ..errors import InputError

    opts = vc.options_for(settings)
    pick = lambda r: noted(settings.voice_of(r))  # noqa: E731  (the engine's note, said once)
    if all_:
        if routine is not None:
            raise InputError("--all exports every built-in routine; leave out the ROUTINE argument")
        return vc.export_all(output, pick, opts, progress=console_progress, limit=settings.cache_limit)
    if routine is None:
        raise InputError("name a ROUTINE to export (or use --all)")
    return [vc.export_routine(routine, output, pick, opts, timeline, subtitles, progress=console_progress,
                              force=force, limit=settings.cache_limit)]


@app.command()
@with_options(PLAY)
def play(
    routine: str = typer.Argument("morning", help=ROUTINE_HELP, autocompletion=complete_routine),
    given: dict = None,
) -> None:
    """Speak and play a routine live, hands-free: space pauses, n skips, b restarts the step, q quits."""
    from .live import play_routines

    with handled():
        settings = resolved(given)
    play_routines([routine], settings)


@app.command("listen-test")
def listen_test(device: Optional[str] = typer.Option(None, "--listen-device", help="The microphone to test "
                                                                                   "(default: the default one).")) -> None:
    """Print each spoken command heard on the microphone, with its score, until Ctrl-C; nothing is recorded."""
    from ..listen.probe import describe, listen_test as run

    typer.echo('Listening for "pause", "continue", "resume", "next", "repeat", "back", "stop"; Ctrl-C ends.')
    with handled():
        run(lambda heard: typer.echo(describe(heard)), device)
