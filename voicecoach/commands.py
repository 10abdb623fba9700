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
    parts = f"{len(tl.steps)} chapters" if FORMATS[output.suffix.lower()].chapters else f"{len(tl.steps)} steps"
    return f"wrote {output} ({clock(tl.seconds)}, {parts})"


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


def pick_step(routine, text: str) -> int:
    """--from STEP: a 1-based step number, or the start of a step's title (case ignored)."""
    from .errors import InputError
    from .routine import expand

    titles = [e.title for e in expand(routine)]
    if text.isdigit():
        if 1 <= int(text) <= len(titles):
            return int(text) - 1
        raise InputError(f"--from {text}: this routine has steps 1 to {len(titles)}")
    for i, title in enumerate(titles):
        if title.lower().startswith(text.lower()):
            return i
    raise InputError(f"--from {text!r}: no step starts with that; steps: " + "; ".join(titles))


@app.command()
def play(
    routine: str = typer.Argument("morning", help="A built-in id, a routine in your folder, or a path."),
    voice: Optional[str] = VoiceOpt,
    rate: Optional[int] = RateOpt,
    volume: Optional[float] = VolumeOpt,
    tts_command: Optional[str] = TtsOpt,
    scale: float = ScaleOpt,
    from_: Optional[str] = typer.Option(None, "--from", help="Start at step N (1-based) or the step whose "
                                                             "title starts with this text."),
    no_safety: bool = NoSafetyOpt,
    backend: Optional[str] = typer.Option(None, "--backend", help="simpleaudio or miniaudio."),
    device: Optional[str] = typer.Option(None, "--device", help="Output device name (see your sound settings)."),
    lead_in: Optional[float] = typer.Option(None, "--lead-in", min=0.0, max=120.0,
                                            help="Seconds to get into position before anything starts "
                                                 "(default 5)."),
    level: Optional[int] = typer.Option(None, "--level", min=1, help="Progression level to play at "
                                                                     "(default: from your history)."),
    sample_rate: int = RateHzOpt,
) -> None:
    """Speak and play a routine live, hands-free: space pauses, n skips, b restarts the step, q quits."""
    import sys

    from .config import load_config
    from .duration import clock
    from . import history
    from .player import Interrupted, Player, keyboard, quiet_stderr, step_at
    from .practice import at_current_level, confirm_safety
    from .progression import at_level
    from .routine import load
    from .sinks import open_sink

    with handled():
        entries, _ = history.read()
        r = load(routine)
        r = at_level(r, level) if level else at_current_level(r, entries)
        cfg = load_config()
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        if interactive and not confirm_safety(typer.confirm):
            typer.echo("Not playing. Please have a professional check first; `voicecoach safety` lists "
                       "the warning signs.")
            return
        start_step = pick_step(r, from_) if from_ else 0
        lead = lead_in if lead_in is not None else (cfg.lead_in if cfg.lead_in is not None else 5.0)
        # open the device before the slow part, so "no audio device" comes within seconds
        with quiet_stderr():
            sink = open_sink(backend or cfg.backend, device or cfg.device)
        player = None
        try:
            options = timeline_options(sample_rate, scale, no_safety, lead_in=lead, start_step=start_step)
            session = make_session(r, options, build_voice(r, voice, rate, volume, tts_command))
            tl = session.timeline

            def reopen():
                with quiet_stderr():
                    return open_sink(backend or cfg.backend, device or cfg.device)

            player = Player(tl, session.render, sink, reopen)
            started = history.local_now()

            def remember(position: int, finished: bool) -> None:
                record_session(r, tl, started, position, scale, finished)

            try:
                with keyboard(interactive) as keys, _live(interactive) as show:
                    outcome = player.run(keys=keys, show=show)
            except Interrupted as stop:
                remember(stop.outcome.position, False)
                span = step_at(tl, stop.outcome.position)
                where = f", in step {span.index + 1} of {len(tl.steps)} ({span.title})" if span else ""
                typer.echo(f"Stopped after {clock(stop.outcome.position / tl.sample_rate)} of "
                           f"{clock(tl.seconds)}{where}.", err=True)
                raise typer.Exit(130) from None
            remember(outcome.position, outcome.finished)
            if outcome.finished:
                typer.echo(f"Finished {tl.title} ({clock(tl.seconds)}).")
            else:
                typer.echo(f"Quit after {clock(outcome.position / tl.sample_rate)} of {clock(tl.seconds)}.")
        finally:
            sink.stop()
            if player is not None and player.sink is not sink:  # a key opened a fresh stream
                player.sink.stop()


def record_session(routine, timeline, started, position: int, scale: float, finished: bool) -> None:
    """Append one played session (finished or not) to the history, with the timed work done."""
    from . import history
    from .player import timed_done
    from .routine import timed_seconds

    history.record(history.Entry(routine.id, timeline.title, started, timed_done(timeline, position),
                                 timed_seconds(routine) * scale, finished))


def _live(enabled: bool):
    """A rich Live panel on a terminal; a no-op callback otherwise (stdout stays quiet)."""
    import contextlib

    if not enabled:
        return contextlib.nullcontext(None)
    from rich.live import Live

    @contextlib.contextmanager
    def panel():
        with Live("", refresh_per_second=4, transient=True) as live:
            yield lambda text: live.update(text)

    return panel()
