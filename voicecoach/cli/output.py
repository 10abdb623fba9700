"""How the CLI talks: one line per error with the documented exit code, progress on a terminal only.

Imports nothing else of the CLI, so every command module (and app.py) can use it.
"""
from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import typer

from ..errors import NotReplaced, RoutineError, SettingError, VoicecoachError
from ..text import one_line

# The option that gives a setting, where it is not --NAME with dashes (settings.SPECS has the names).
FLAGS = {"start": "--from", "serve_host": "--host", "serve_port": "--port"}
# What the command line adds to a setting's error: a way to see the choices that only it has.
HINTS = {"backend": "`--backend list` says which suits this machine"}
settings = SimpleNamespace(debug=False, verbose=False, notes=set())  # --debug: tracebacks; --verbose: say more


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Turn the library's exceptions into one line on stderr and the documented exit code."""
    try:
        yield
    except VoicecoachError as exc:
        if settings.debug:
            raise
        for line in error_lines(exc):
            typer.echo(line, err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("voicecoach: interrupted", err=True)
        raise typer.Exit(130) from None


def noted(voice):
    """Return `voice`, having said its note (why this engine) on stderr, once per run."""
    if voice.note and voice.note not in settings.notes:
        settings.notes.add(voice.note)
        typer.echo(f"voicecoach: {voice.note}", err=True)
    return voice


def warn(message: str) -> None:
    """Say a problem that does not stop the work in one line on stderr, once per run."""
    if message not in settings.notes:
        settings.notes.add(message)
        typer.echo(f"voicecoach: {one_line(message)}", err=True)


class _WarningLine(logging.Handler):
    """The library's warnings (the "voicecoach" logger, e.g. an unwritable speech cache) as `warn` lines."""

    def emit(self, record: logging.LogRecord) -> None:
        warn(record.getMessage())


def show_library_warnings() -> None:
    """Route the library's warnings to stderr as one line each (idempotent)."""
    logger = logging.getLogger("voicecoach")
    if not any(isinstance(h, _WarningLine) for h in logger.handlers):
        logger.addHandler(_WarningLine(logging.WARNING))
    logger.propagate = False  # a root handler someone set up would say it a second time


def error_line(exc: VoicecoachError) -> str:
    """The error as the user sees it: one line, routine errors as FILE:LINE:COL: message."""
    if isinstance(exc, SettingError):  # the library names the setting; here it is the option that gave it
        return f"voicecoach: {_setting_line(exc)}"
    if isinstance(exc, NotReplaced):
        return f"voicecoach: {exc.path} exists already; choose another name or pass {flag(exc.setting)} to overwrite it"
    text = one_line(str(exc))
    return text if isinstance(exc, RoutineError) else f"voicecoach: {text}"


def _setting_line(exc: SettingError) -> str:
    given = flag(exc.setting) + ("" if exc.value is None else f" {exc.value!r}")
    line = f"{given}: {one_line(exc.problem)}"
    if exc.instead:
        line += f"; use {flag(exc.instead[0])} {exc.instead[1]} instead"
    return line + (f" ({HINTS[exc.setting]})" if exc.setting in HINTS else "")


def flag(name: str, value: object = None) -> str:
    """The option that gives the setting `name`: --rate, --from; --no-mpris, --no-background when `value` is False."""
    option = FLAGS.get(name, "--" + name.replace("_", "-"))
    return "--no-" + option[2:] if value is False else option


def error_lines(exc: VoicecoachError) -> list[str]:
    """Every problem the error holds, one line each (a routine file can have several)."""
    problems = getattr(exc, "problems", ())
    return [error_line(p) for p in problems] or [error_line(exc)]


def console_progress(label: str):
    """A rich progress callback on a terminal; None (silence) otherwise."""
    if not sys.stdout.isatty():
        return contextlib.nullcontext(None)
    return _RichProgress(label)


class _RichProgress:
    """The bar shows from the first count (a wait for speech reports 0 of N at once, so its clock
    still ticks from the first second); a warm session counts nothing and never imports rich
    (40-60 ms before the first sound)."""

    def __init__(self, label: str):
        self.label = label
        self.progress = None

    def __enter__(self):
        return self

    def __call__(self, done: int, total: int) -> None:
        if self.progress is None:
            from rich.progress import BarColumn, Progress, TextColumn

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                     TextColumn("{task.percentage:>3.0f}%"), _times(), transient=True)
            self.task = self.progress.add_task(self.label, total=None)
            self.progress.start()
        self.progress.update(self.task, completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()


def _times():
    """A column "0:04 elapsed, about 0:07 left" (the estimate once there is one).

    The elapsed time ticks every second, so a wait with nothing to count yet (a
    speech engine starting, the first phrase) is seen to be going on.
    """
    from rich.progress import ProgressColumn
    from rich.text import Text

    def clock(seconds: float) -> str:
        return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"

    class Times(ProgressColumn):
        def render(self, task) -> Text:
            text = f"{clock(task.elapsed or 0)} elapsed"
            if task.time_remaining is not None and not task.finished:
                text += f", about {clock(task.time_remaining)} left"
            return Text(text, style="progress.elapsed")

    return Times()
