"""The Typer app, the options the commands share, and the one error handler.

Every command module imports this and the library, nothing else of the CLI.
Heavy modules (numpy, soundfile, the speech engine) are imported inside the
commands, so `voicecoach --help` starts fast.
"""
from __future__ import annotations

import typer

from .. import __version__
from .output import console_progress, handled, noted, one_line, settings

__all__ = ["app", "console_progress", "handled", "noted", "one_line"]

app = typer.Typer(add_completion=False, no_args_is_help=False, invoke_without_command=True,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Voice-guided routines for tight hip flexors and a nagging lower back: "
                       "hands-free, eyes closed, timed to the sample.")

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
BackendOpt = typer.Option(None, "--backend", help="simpleaudio or miniaudio.")
DeviceOpt = typer.Option(None, "--device", help="Output device name (see your sound settings).")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"voicecoach {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks for errors."),
) -> None:
    """Play today's plan when no command is given."""
    settings.debug = debug
    settings.notes.clear()  # each run says its notes once (the test runner reuses this process)
    if ctx.invoked_subcommand is None:
        from datetime import date

        from ..practice.plan import todays_plan
        from .live import PlayChoices, play_routines

        with handled():
            ids = todays_plan(date.today())
        play_routines(ids, PlayChoices())
