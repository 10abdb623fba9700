"""The Typer app, the options the commands share, and the one error handler.

Every command module imports this and the library, nothing else of the CLI.
Heavy modules (numpy, soundfile, the speech engine) are imported inside the
commands, so `voicecoach --help` starts fast.
"""
from __future__ import annotations

import typer

from .. import __version__
from .output import console_progress, error_line, error_lines, handled, noted, settings, show_library_warnings

__all__ = ["app", "complete_routine", "console_progress", "handled", "noted", "error_line", "error_lines"]

app = typer.Typer(add_completion=True, no_args_is_help=False, invoke_without_command=True,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Voice-guided routines for tight hip flexors and a nagging lower back: "
                       "hands-free, eyes closed, timed to the sample.")

def complete_routine(incomplete: str) -> list[tuple[str, str]]:
    """Shell completion of a ROUTINE argument: the routine ids (yours replace built-ins), or routine files."""
    from ..routines import builtin_ids, routine_ids, user_routines

    if "/" in incomplete or incomplete.startswith((".", "~")):
        from pathlib import Path

        base = Path(incomplete).expanduser()
        folder, stem = (base, "") if incomplete.endswith("/") else (base.parent, base.name)
        head = incomplete[: len(incomplete) - len(stem)]
        try:
            found = sorted(folder.iterdir())
        except OSError:
            return []
        return [(head + p.name + ("/" if p.is_dir() else ""), "folder" if p.is_dir() else "routine file")
                for p in found if p.name.startswith(stem) and (p.is_dir() or p.suffix in (".yaml", ".yml"))]
    mine, builtins = user_routines(), set(builtin_ids())
    return [(rid, ("yours" if rid in mine else "built-in") + (", in place of the built-in"
                                                               if rid in mine and rid in builtins else ""))
            for rid in routine_ids() if rid.startswith(incomplete)]


ROUTINE_HELP = "A built-in id, a routine in your folder, or a path."

VoiceOpt = typer.Option(None, "--voice", help="Engine voice id or name, e.g. en-us or joe.")
EngineOpt = typer.Option(None, "--engine", help="Speech engine: pyttsx3, piper or command "
                                                "(default: piper when a neural voice is installed).")
VoiceModelOpt = typer.Option(None, "--voice-model", help="A Piper voice file (.onnx, with its .onnx.json "
                                                         "beside it); implies --engine piper.")
WpmOpt = typer.Option(None, "--rate", min=40, max=500, help="Speaking rate in words per minute.")
VolumeOpt = typer.Option(None, "--volume", min=0.0, max=1.0, help="Speech volume from 0 to 1.")
TtsOpt = typer.Option(None, "--tts-command", help="Any text-to-speech program, e.g. "
                                                  "'espeak-ng -w {out} {text}' ({text} may be left out: stdin).")
ScaleOpt = typer.Option(1.0, "--scale", min=0.01, max=100.0, help="Multiply every timed duration by F.")
NoSafetyOpt = typer.Option(False, "--no-safety", help="Leave out the spoken safety reminder.")
SampleRateOpt = typer.Option(22050, "--sample-rate", help="Sample rate of the session in Hz.")


def _backend(value: str | None) -> str | None:
    """`--backend list`: every audio backend, the default, and why the others were not chosen."""
    if value != "list":
        return value
    from ..player import quiet_stderr
    from ..sinks import choices

    with quiet_stderr():  # ALSA's C library complains in its own words while devices are tried
        found = choices()
    for choice in found:
        typer.echo(f"{choice.name:<12} {choice.reason}")
    raise typer.Exit()


BackendOpt = typer.Option(None, "--backend", callback=_backend,
                          help="pulse, miniaudio or simpleaudio; `--backend list` shows the default and why.")
DeviceOpt = typer.Option(None, "--device", help="Output device name (see your sound settings).")
BackgroundOpt = typer.Option(None, "--background", metavar="NAME|FILE",
                             help="A bed under the voice: rain, ocean, pad (see `voicecoach backgrounds`) "
                                  "or any audio file, looped; ducked under speech.")
NoBackgroundOpt = typer.Option(False, "--no-background", help="No bed, whatever the routine or config says.")
DuckOpt = typer.Option(None, "--duck", min=0.0, max=40.0, metavar="DB",
                       help="How far the bed dips under speech, in dB (default 12).")
BackgroundLevelOpt = typer.Option(None, "--background-level", min=-40.0, max=-6.0, metavar="DB",
                                  help="The bed's loud passages this far below the speech, in dB (default -20).")
MprisOpt = typer.Option(None, "--mpris/--no-mpris", help="Be a media player on the session bus while playing, "
                                                        "for headset buttons, media keys and phones (default on).")
PauseOthersOpt = typer.Option(None, "--pause-others/--no-pause-others",
                              help="Pause other media players while a session plays, resume them after "
                                   "(default off).")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"voicecoach {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks for errors."),
    verbose: bool = typer.Option(False, "--verbose", help="Say what was left out, e.g. why voicecoach is not "
                                                          "on the session bus."),
) -> None:
    """Play today's plan when no command is given."""
    settings.debug = debug
    settings.verbose = verbose
    settings.notes.clear()  # each run says its notes once (the test runner reuses this process)
    show_library_warnings()
    if ctx.invoked_subcommand is None:
        from datetime import date

        from ..practice.plan import todays_plan
        from .live import PlayChoices, play_routines

        with handled():
            ids = todays_plan(date.today())
        play_routines(ids, PlayChoices())

# spoken commands (voicecoach.listen): play
ListenOpt = typer.Option(False, "--listen", help='Listen for spoken commands: "pause", "continue", "next", '
                                                  '"repeat", "stop" (offline; nothing is recorded).')
ListenDeviceOpt = typer.Option(None, "--listen-device", help="The microphone to listen on (a source name; "
                                                             "default: the default microphone).")
ListenLogOpt = typer.Option(False, "--listen-log", help="Print each word heard: score, acted or ignored and why.")
