"""The commands that make sound: export and play (registered on the app from cli.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .cli import (NoSafetyOpt, RateHzOpt, RateOpt, ScaleOpt, TtsOpt, VoiceOpt, VolumeOpt, app, build_voice,
                  console_progress, handled, make_session, timeline_options)


@app.command()
def export(
    routine: Optional[str] = typer.Argument(None, help="A built-in id, a routine in your folder, or a path."),
    output: Path = typer.Option(..., "-o", "--output", help="The audio file (.wav .flac .ogg .mp3), "
                                                             "or a folder with --all."),
    timeline: Optional[Path] = typer.Option(None, "--timeline", help="Also write the timeline as JSON."),
    subtitles: Optional[Path] = typer.Option(None, "--subtitles", help="Also write the spoken text "
                                                                       "(.vtt, .srt or .lrc)."),
    all_: bool = typer.Option(False, "--all", help="Every built-in routine as mp3 with subtitles, "
                                                   "plus an .m3u playlist, into the folder -o."),
    voice: Optional[str] = VoiceOpt,
    rate: Optional[int] = RateOpt,
    volume: Optional[float] = VolumeOpt,
    tts_command: Optional[str] = TtsOpt,
    scale: float = ScaleOpt,
    no_safety: bool = NoSafetyOpt,
    sample_rate: int = RateHzOpt,
) -> None:
    """Write a session as one audio file, with chapters where the format has them."""
    from .errors import InputError
    from .routine import load

    with handled():
        if all_:
            if routine is not None:
                raise InputError("--all exports every built-in routine; leave out the ROUTINE argument")
            _export_all(output, voice, rate, volume, tts_command, scale, no_safety, sample_rate)
            return
        if routine is None:
            raise InputError("name a ROUTINE to export (or use --all)")
        r = load(routine)
        written = export_one(r, output, build_voice(r, voice, rate, volume, tts_command),
                             timeline_options(sample_rate, scale, no_safety), timeline, subtitles)
        typer.echo(written)


def export_one(routine, output: Path, voice, options, timeline_json: Path | None = None,
               subtitles: Path | None = None) -> str:
    """Export one routine (and its side files); returns a one-line summary of what was written."""
    from .duration import clock
    from .export import FORMATS, export_audio, write_subtitles, write_timeline_json
    from .subtitles import SUBTITLE_FORMATS
    from .errors import InputError

    # check every suffix before the slow part, so a typo costs nothing
    for path, table, what in ((output, FORMATS, "audio"), (subtitles, SUBTITLE_FORMATS, "subtitle")):
        if path is not None and path.suffix.lower() not in table:
            raise InputError(f"'{path.suffix or path.name}' is not an {what} format voicecoach writes; choose "
                             + ", ".join(table))
    session = make_session(routine, options, voice)
    tl = session.timeline
    with console_progress(f"Writing {output.name}") as progress:
        export_audio(tl, session.render, output, progress=progress)
    if timeline_json:
        write_timeline_json(tl, timeline_json)
    if subtitles:
        write_subtitles(tl, subtitles)
    return f"wrote {output} ({clock(tl.seconds)}, {len(tl.steps)} chapters)"


def _export_all(folder: Path, voice, rate, volume, tts_command, scale, no_safety, sample_rate) -> None:
    from .export import write_playlist
    from .routine import builtin_ids, load
    import soundfile

    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for rid in builtin_ids():
        r = load(rid)
        target = folder / f"{rid}.mp3"
        typer.echo(export_one(r, target, build_voice(r, voice, rate, volume, tts_command),
                              timeline_options(sample_rate, scale, no_safety),
                              subtitles=folder / f"{rid}.vtt"))
        entries.append((target, soundfile.info(str(target)).duration, r.title))
    playlist = folder / "voicecoach.m3u"
    write_playlist(entries, playlist)
    typer.echo(f"wrote {playlist} ({len(entries)} routines)")


def play_today() -> None:
    """What `voicecoach` with no arguments does."""
    from .cli import _state  # noqa: F401  (debug flag already set by the callback)

    ctx = typer.get_current_context()
    ctx.invoke(play, routine="morning")


@app.command()
def play(
    routine: str = typer.Argument("morning", help="A built-in id, a routine in your folder, or a path."),
) -> None:
    """Speak and play a routine live, hands-free."""
    raise NotImplementedError
