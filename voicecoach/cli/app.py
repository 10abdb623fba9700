"""The Typer app, the options the commands share, and the one error handler.

Every command module imports this and the library, nothing else of the CLI.
Heavy modules (numpy, soundfile, the speech engine) are imported inside the
commands, so `voicecoach --help` starts fast.
"""
from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Optional, get_type_hints

import typer

from .. import __version__
from .output import console_progress, error_line, error_lines, flag, handled, noted, settings, show_library_warnings

__all__ = ["app", "complete_routine", "console_progress", "handled", "noted", "error_line", "error_lines",
           "with_options", "resolved"]

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
# Options default to None, "not given", so a setting shows where it came from (`voicecoach settings`).
ScaleOpt = typer.Option(None, "--scale", min=0.01, max=100.0, help="Multiply every timed duration by F (default 1).")
NoSafetyOpt = typer.Option(False, "--no-safety", help="Leave out the spoken safety reminder.")
SampleRateOpt = typer.Option(None, "--sample-rate", help="Sample rate of the session in Hz (default 22050).")


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


FromOpt = typer.Option(None, "--from", help="Start at step N (1-based) or the step whose title starts with this text.")
LeadInOpt = typer.Option(None, "--lead-in", min=0.0, max=120.0,
                         help="Seconds to get into position before anything starts (default 5).")
LevelOpt = typer.Option(None, "--level", min=1, help="Progression level to play at (default: from your history).")
ListenOpt = typer.Option(None, "--listen/--no-listen", help='Listen for spoken commands: "pause", "continue", '
                                                           '"next", "repeat", "stop" (offline; nothing is recorded).')
ListenDeviceOpt = typer.Option(None, "--listen-device", help="The microphone to listen on (a source name; "
                                                             "default: the default microphone).")
ListenLogOpt = typer.Option(None, "--listen-log/--no-listen-log",
                            help="Print each word heard: score, acted or ignored and why.")

# The option groups the commands share: (parameter, type, option). A parameter is named after the
# setting it gives (settings.SPECS); `no_safety` and `no_background` give safety and background off.
VOICE = (("voice", Optional[str], VoiceOpt), ("rate", Optional[int], WpmOpt), ("tts_command", Optional[str], TtsOpt),
         ("engine", Optional[str], EngineOpt), ("voice_model", Optional[Path], VoiceModelOpt))
VOLUME = (("volume", Optional[float], VolumeOpt),)
RENDER = (("scale", Optional[float], ScaleOpt), ("no_safety", bool, NoSafetyOpt),
          ("sample_rate", Optional[int], SampleRateOpt))
BED = (("background", Optional[str], BackgroundOpt), ("no_background", bool, NoBackgroundOpt),
       ("duck", Optional[float], DuckOpt), ("background_level", Optional[float], BackgroundLevelOpt))
DEVICE = (("backend", Optional[str], BackendOpt), ("device", Optional[str], DeviceOpt),
          ("mpris", Optional[bool], MprisOpt), ("pause_others", Optional[bool], PauseOthersOpt))
LIVE = (("start", Optional[str], FromOpt), ("lead_in", Optional[float], LeadInOpt), ("level", Optional[int], LevelOpt))
LISTEN = (("listen", Optional[bool], ListenOpt), ("listen_device", Optional[str], ListenDeviceOpt),
          ("listen_log", Optional[bool], ListenLogOpt))
PLAY = VOICE + VOLUME + RENDER + LIVE + DEVICE + BED + LISTEN  # play; `settings` takes the same


def with_options(*groups):
    """Add the options of `groups` to a command: they reach it as one dict, `given` (parameter: value)."""
    entries = [entry for group in groups for entry in group]

    def wrap(fn):
        own = inspect.signature(fn)
        hints = get_type_hints(fn)
        params = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in own.parameters.values()
                  if p.name != "given"]
        params += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=opt, annotation=kind)
                   for name, kind, opt in entries]

        @functools.wraps(fn)
        def command(**kwargs):
            return fn(**{k: v for k, v in kwargs.items() if k in own.parameters},
                      given={name: kwargs[name] for name, _, _ in entries})

        command.__signature__ = own.replace(parameters=params, return_annotation=None)
        command.__annotations__ = {p.name: p.annotation for p in params}
        del command.__wrapped__  # Typer reads the signature above, not the function's own
        return command

    return wrap


def resolved(given: dict, routine=None, config=None):
    """The Settings of a command: its options over `routine` over the config file (read here, once) over defaults."""
    from ..config import load_config
    from ..errors import InputError
    from ..settings import resolve

    values = dict(given)
    if values.pop("no_safety", False):
        values["safety"] = False
    if values.pop("no_background", False):
        if values.get("background") is not None:
            raise InputError("--background and --no-background contradict each other; give one of them")
        values["background"] = False
    labels = {name: flag(name, value) for name, value in values.items()}
    return resolve(config if config is not None else load_config(), values, routine, labels=labels)


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

        import voicecoach as vc
        from .live import play_routines

        with handled():
            ids, chosen = vc.todays_plan(date.today()), resolved({})
        play_routines(ids, chosen)
