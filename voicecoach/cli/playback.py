"""The commands that make sound: play (live, hands-free) and export (to a file)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import (ListenDeviceOpt, ListenLogOpt, ListenOpt,  # noqa: I001
                  BackendOpt, BackgroundLevelOpt, BackgroundOpt, DeviceOpt, DuckOpt, EngineOpt, MprisOpt,
                  NoBackgroundOpt, NoSafetyOpt, PauseOthersOpt, SampleRateOpt, ScaleOpt, TtsOpt, VoiceModelOpt,
                  ROUTINE_HELP, VoiceOpt, VolumeOpt, WpmOpt, app, complete_routine, console_progress, handled,
                  noted)


@app.command()
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
    voice: Optional[str] = VoiceOpt,
    wpm: Optional[int] = WpmOpt,
    volume: Optional[float] = VolumeOpt,
    tts_command: Optional[str] = TtsOpt,
    engine: Optional[str] = EngineOpt,
    voice_model: Optional[Path] = VoiceModelOpt,
    scale: float = ScaleOpt,
    no_safety: bool = NoSafetyOpt,
    sample_rate: int = SampleRateOpt,
    background: Optional[str] = BackgroundOpt,
    no_background: bool = NoBackgroundOpt,
    duck: Optional[float] = DuckOpt,
    background_level: Optional[float] = BackgroundLevelOpt,
) -> None:
    """Write a session as one audio file, with chapters where the format has them."""
    from ..config import load_config
    from ..errors import InputError
    from ..export import export_all, export_routine
    from ..session import options
    from .choice import sound_choice

    with handled():
        choose, bed = sound_choice(load_config(), voice, wpm, volume, tts_command, engine, voice_model, background,
                                   no_background, duck, background_level)
        opts = options(sample_rate, scale, not no_safety, background=bed)

        def pick(r):
            return noted(choose(r))

        if all_:
            if routine is not None:
                raise InputError("--all exports every built-in routine; leave out the ROUTINE argument")
            for line in export_all(output, pick, opts, progress=console_progress):
                typer.echo(line)
            return
        if routine is None:
            raise InputError("name a ROUTINE to export (or use --all)")
        typer.echo(export_routine(routine, output, pick, opts, timeline, subtitles, progress=console_progress,
                                  force=force))


@app.command()
def play(
    routine: str = typer.Argument("morning", help=ROUTINE_HELP, autocompletion=complete_routine),
    voice: Optional[str] = VoiceOpt,
    wpm: Optional[int] = WpmOpt,
    volume: Optional[float] = VolumeOpt,
    tts_command: Optional[str] = TtsOpt,
    engine: Optional[str] = EngineOpt,
    voice_model: Optional[Path] = VoiceModelOpt,
    scale: float = ScaleOpt,
    from_: Optional[str] = typer.Option(None, "--from", help="Start at step N (1-based) or the step whose "
                                                             "title starts with this text."),
    no_safety: bool = NoSafetyOpt,
    backend: Optional[str] = BackendOpt,
    device: Optional[str] = DeviceOpt,
    lead_in: Optional[float] = typer.Option(None, "--lead-in", min=0.0, max=120.0,
                                            help="Seconds to get into position before anything starts "
                                                 "(default 5)."),
    level: Optional[int] = typer.Option(None, "--level", min=1, help="Progression level to play at "
                                                                     "(default: from your history)."),
    sample_rate: int = SampleRateOpt,
    background: Optional[str] = BackgroundOpt,
    no_background: bool = NoBackgroundOpt,
    duck: Optional[float] = DuckOpt,
    background_level: Optional[float] = BackgroundLevelOpt,
    mpris: Optional[bool] = MprisOpt,
    pause_others: Optional[bool] = PauseOthersOpt,
    listen: bool = ListenOpt,
    listen_device: Optional[str] = ListenDeviceOpt,
    listen_log: bool = ListenLogOpt,
) -> None:
    """Speak and play a routine live, hands-free: space pauses, n skips, b restarts the step, q quits."""
    from .live import PlayChoices, play_routines

    play_routines([routine], PlayChoices(voice, wpm, volume, tts_command, scale, from_, no_safety, backend, device,
                                         lead_in, level, sample_rate, background, no_background, duck,
                                         background_level, mpris, pause_others, engine=engine,
                                         voice_model=str(voice_model) if voice_model else None, listen=listen,
                                         listen_device=listen_device, listen_log=listen_log))
