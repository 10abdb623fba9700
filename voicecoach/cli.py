"""The command line: parse, build the library objects, make one call, turn errors into one line.

Heavy modules (numpy, soundfile, the speech engine) are imported inside the
commands, so `voicecoach --help` starts fast.
"""
from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__
from .errors import VoicecoachError

app = typer.Typer(add_completion=False, no_args_is_help=False, invoke_without_command=True,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Voice-guided routines for tight hip flexors and a nagging lower back: "
                       "hands-free, eyes closed, timed to the sample.")
_state = {"debug": False}
DEFAULT_RATE = 160  # words per minute: calm enough to follow with eyes closed

VoiceOpt = typer.Option(None, "--voice", help="Engine voice id or name, e.g. en-us.")
RateOpt = typer.Option(None, "--rate", min=40, max=500, help="Speaking rate in words per minute.")
VolumeOpt = typer.Option(None, "--volume", min=0.0, max=1.0, help="Speech volume from 0 to 1.")
TtsOpt = typer.Option(None, "--tts-command", help="Any text-to-speech program, e.g. "
                                                  "'espeak-ng -w {out} {text}' ({text} may be left out: stdin).")
ScaleOpt = typer.Option(1.0, "--scale", min=0.01, max=100.0, help="Multiply every timed duration by F.")
NoSafetyOpt = typer.Option(False, "--no-safety", help="Leave out the spoken safety reminder.")
RateHzOpt = typer.Option(22050, "--sample-rate", help="Sample rate of the session in Hz.")


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Turn the library's exceptions into one line on stderr and the documented exit code."""
    try:
        yield
    except VoicecoachError as exc:
        if _state["debug"]:
            raise
        typer.echo(_one_line(exc), err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("voicecoach: interrupted", err=True)
        raise typer.Exit(130) from None


def _one_line(exc: VoicecoachError) -> str:
    from .errors import RoutineError

    text = " ".join(str(exc).split())
    return text if isinstance(exc, RoutineError) else f"voicecoach: {text}"


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
    _state["debug"] = debug
    if ctx.invoked_subcommand is None:
        from datetime import date

        from .practice import play_routines, todays_plan

        with handled():
            ids = todays_plan(date.today())
        play_routines(ctx, ids)


def console_progress(label: str):
    """A rich progress callback on a terminal; None (silence) otherwise."""
    if not sys.stdout.isatty():
        return contextlib.nullcontext(None)
    return _RichProgress(label)


class _RichProgress:
    def __init__(self, label: str):
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                                 TimeRemainingColumn(), transient=True)
        self.task = self.progress.add_task(label, total=None)

    def __enter__(self):
        self.progress.start()
        return self

    def __call__(self, done: int, total: int) -> None:
        self.progress.update(self.task, completed=done, total=total)

    def __exit__(self, *exc) -> None:
        self.progress.stop()


def build_voice(routine, voice: str | None, rate: int | None, volume: float | None, tts_command: str | None):
    """Command line first, then the config file, then the routine, then calm defaults."""
    from .config import load_config
    from .speech import Voice, parse_command

    cfg = load_config()
    command = parse_command(tts_command) if tts_command else cfg.tts_command
    engine = "command" if command else (cfg.engine or "pyttsx3")
    rv = routine.voice if routine is not None else None
    return Voice(
        engine=engine,
        voice=voice or cfg.voice or (rv.voice if rv else None),
        rate=rate or cfg.rate or (rv.rate if rv else None) or DEFAULT_RATE,
        volume=volume if volume is not None else (cfg.volume if cfg.volume is not None else (rv.volume if rv else None)),
        command=command,
    )


def make_session(routine, options, voice, label: str = "Preparing speech"):
    """Synthesize (with progress on a terminal) and compile."""
    from .session import prepare
    from .speech import Speaker

    with Speaker(voice, options.sample_rate) as speaker, console_progress(label) as progress:
        return prepare(routine, options, speaker, progress)


def timeline_options(sample_rate: int = 22050, scale: float = 1.0, no_safety: bool = False, **extra):
    from .safety import SHORT_REMINDER
    from .timeline import Options

    return Options(sample_rate=sample_rate, scale=scale, safety=not no_safety, safety_text=SHORT_REMINDER, **extra)


# ------------------------------------------------------------------------- routines

@app.command("list")
def list_cmd() -> None:
    """List every routine: the built-ins and those in your routine folder, with timed totals."""
    from .duration import clock
    from .routine import builtin_ids, library_dir, load_file, timed_seconds, user_dir

    with handled():
        rows = [(rid, library_dir() / f"{rid}.yaml", "built-in") for rid in builtin_ids()]
        folder = user_dir()
        if folder.is_dir():
            rows += [(p.stem, p, "yours") for p in sorted(folder.glob("*.y*ml"))]
        for rid, path, origin in rows:
            try:
                routine = load_file(path)
                typer.echo(f"{rid:<20} {clock(timed_seconds(routine)):>6}  {routine.title}"
                           + ("" if origin == "built-in" else f"  [{origin}]"))
            except VoicecoachError as exc:
                typer.echo(f"{rid:<20} {'?':>6}  (invalid: {_one_line(exc)})")


@app.command()
def show(
    routine: str = typer.Argument(..., help="A built-in id, a routine in your folder, or a path."),
    timeline: bool = typer.Option(False, "--timeline", help="List every event with its time."),
    scale: float = ScaleOpt,
    no_safety: bool = NoSafetyOpt,
    voice: Optional[str] = VoiceOpt,
    rate: Optional[int] = RateOpt,
    tts_command: Optional[str] = TtsOpt,
) -> None:
    """Show a routine's steps with their times, the timed total and the total with announcements."""
    from .duration import clock
    from .errors import EnvironmentProblem
    from .routine import expand, load, timed_seconds

    with handled():
        r = load(routine)
        typer.echo(r.title)
        if r.description:
            typer.echo(r.description)
        typer.echo("")
        for i, exp in enumerate(expand(r), 1):
            typer.echo(f"{i:>3}. {exp.title:<48} {clock(exp.duration * scale):>6}")
        typer.echo("")
        typer.echo(f"timed total: {clock(timed_seconds(r) * scale)}")
        try:
            session = make_session(r, timeline_options(scale=scale, no_safety=no_safety),
                                   build_voice(r, voice, rate, None, tts_command))
        except EnvironmentProblem as exc:
            typer.echo(f"total with announcements: unknown ({_one_line(exc)})")
            return
        tl = session.timeline
        typer.echo(f"total with announcements: {clock(tl.seconds)}")
        if timeline:
            typer.echo("")
            for ev in tl.events:
                what = ev.text if ev.text is not None else ev.sound
                tag = ev.role or ev.phase or ""
                step = "-" if ev.step is None else str(ev.step + 1)
                typer.echo(f"{ev.sample / tl.sample_rate:9.3f}s  {ev.kind:<6} {tag:<9} step {step:<3} {what}")


@app.command()
def validate(files: List[Path] = typer.Argument(..., help="Routine files to check.")) -> None:
    """Check routine files; exit 0 when all are valid, 1 (one line per problem) otherwise."""
    from .duration import clock
    from .routine import expand, load_file, timed_seconds

    bad = 0
    for path in files:
        try:
            routine = load_file(path)
            _check_fits(routine)
            n = len(expand(routine))
            typer.echo(f"{path}: ok ({n} step{'' if n == 1 else 's'}, {clock(timed_seconds(routine))} timed)")
        except VoicecoachError as exc:
            typer.echo(_one_line(exc), err=True)
            bad += 1
    raise typer.Exit(1 if bad else 0)


def _check_fits(routine) -> None:
    """Compile with estimated speech lengths, so a cue that plainly cannot fit is caught without an engine."""
    from .sounds import load as load_sound
    from .timeline import compile, phrases, sounds_needed

    opts = timeline_options()
    rate = opts.sample_rate
    # espeak-ng at 160 words per minute says about 15 characters a second
    speech = {t: int(len(t) / 15 * rate) + 1 for t in phrases(routine, opts)}
    sound = {n: len(load_sound(n, rate, routine.folder)) for n in sounds_needed(routine)}
    compile(routine, speech, sound, opts)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the routine format (for editor completion)."""
    import json

    from .schema import schema as make

    typer.echo(json.dumps(make(), indent=2))


STARTER = """\
# yaml-language-server: $schema={schema}
# A voicecoach routine. Check it with:  voicecoach validate {path}
# Play it with:  voicecoach play {name}     Format: voicecoach's docs/routine-format.md
title: {title}
description: What this routine is for.      # shown, not spoken
intro: Find a quiet spot and lie down.      # spoken first
outro: Well done. Get up slowly.            # spoken last
safety: true          # speak the short safety reminder after the intro
countdown: 3          # ticks in the last 3 seconds of every hold
steps:
  - name: Deep belly breathing
    duration: 1m                # the timed hold: 30, 90s, 1m30s, 1:30 ...
    say: Hands on your lower belly. Breathe slowly.
    prep: 3s                    # silence to get into position before the start chime
    breathe: {{in: 4s, out: 6s}}
  - name: Tennis ball release
    sides: [right, left]        # one step per side; {{side}} is filled in
    duration: 60s
    prep: 8s
    say: Place the ball just inside your {{side}} hip bone.
    halfway: Halfway. Keep breathing.
    cues:
      - {{at: 20s, say: Small slow circles.}}
      - {{at: -10s, say: Ease off if it turns sharp.}}
  # - include: kd4              # splice in another routine by id or relative path
"""


@app.command()
def new(
    name: str = typer.Argument(..., help="Routine name: letters, digits and dashes."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing routine of that name."),
) -> None:
    """Write a commented starter routine into your routine folder."""
    from .errors import InputError
    from .routine import user_dir

    with handled():
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
            raise InputError(f"'{name}' is not a routine name; expected letters, digits, '-' or '_'")
        folder = user_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.yaml"
        if path.exists() and not force:
            raise InputError(f"{path} exists already; choose another name or pass --force")
        schema_path = folder / "voicecoach.schema.json"
        import json

        from .schema import schema as make

        schema_path.write_text(json.dumps(make(), indent=2), encoding="utf-8")
        title = name.replace("-", " ").replace("_", " ").capitalize()
        path.write_text(STARTER.format(schema=schema_path.name, path=path, name=name, title=title),
                        encoding="utf-8")
        typer.echo(f"wrote {path}")


@app.command()
def voices(
    tts_command: Optional[str] = TtsOpt,
) -> None:
    """List the voices the speech engine offers."""
    from .speech import Speaker

    with handled():
        with Speaker(build_voice(None, None, None, None, tts_command)) as speaker:
            found = speaker.voices()
        if not found:
            typer.echo("this engine does not list its voices; see its own documentation")
        for v in found:
            langs = ", ".join(v.languages) if v.languages else ""
            typer.echo(f"{v.id:<28} {v.name:<32} {langs}")


def main() -> None:
    """Console entry point."""
    app()


# play and export live in commands.py, the daily practice in practice.py; both register on `app`
from . import commands as _commands  # noqa: E402,F401
from . import practice as _practice  # noqa: E402,F401
