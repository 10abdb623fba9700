"""The daily practice commands: week, today, history, safety, and desk mode (remind)."""
from __future__ import annotations

import json
import re
import signal
import sys
from datetime import date, time
from pathlib import Path
from typing import Optional

import typer

from ..practice.plan import FALLBACK, at_current_level, calendar_plans, level_for, todays_plan
from .app import (BackendOpt, BackgroundLevelOpt, BackgroundOpt, DeviceOpt, DuckOpt, EngineOpt, MprisOpt,
                  NoBackgroundOpt, PauseOthersOpt, TtsOpt, VoiceModelOpt, VoiceOpt, WpmOpt, app, handled, noted)

_GRID_NONE, _GRID_SOME, _GRID_DONE = "·", "▫", "▪"


# ------------------------------------------------------------------ option values

def parse_day(text: str | None, option: str) -> date:
    """A YYYY-MM-DD option value (today when None); InputError names the option otherwise."""
    from ..errors import InputError

    if text is None:
        return date.today()
    problem = InputError(f"{option} {text!r}: expected a date like 2024-03-04 (YYYY-MM-DD)")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        raise problem
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise problem from None


def parse_at(text: str) -> time:
    """An HH:MM option value as a time; InputError otherwise."""
    from ..errors import InputError

    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise InputError(f"--at {text!r}: expected a time like 07:30 (HH:MM, 24-hour clock)")
    return time(int(match.group(1)), int(match.group(2)))


def _history():
    """The history entries, with each damaged line reported on stderr."""
    from ..practice.history import read

    entries, warnings = read()
    for warning in warnings:
        typer.echo(f"voicecoach: warning: {warning}", err=True)
    return entries


# ------------------------------------------------------------------------- commands

DateOpt = typer.Option(None, "--date", help="The day to look at, YYYY-MM-DD (default: today).")


@app.command()
def week(
    ics: Optional[Path] = typer.Option(None, "--ics", help="Also write the week as an iCalendar file "
                                                          "(weekly events with a reminder)."),
    at: str = typer.Option("07:30", "--at", help="Start time of the calendar events, HH:MM local time."),
    day: Optional[str] = DateOpt,
) -> None:
    """Show the weekly schedule with each day's timed total; --ics writes it to a calendar file."""
    from ..duration import clock
    from ..routines import load, timed_seconds
    from ..practice.schedule import load_schedule

    with handled():
        today = parse_day(day, "--date")
        start = parse_at(at)
        schedule = load_schedule()
        entries = _history()
        rows = []
        for i, (name, ids) in enumerate(schedule.week()):
            seconds = sum(timed_seconds(at_current_level(load(rid), entries)) for rid in ids)
            rows.append((name.capitalize(), " + ".join(_short(r) for r in ids) or "rest",
                         clock(seconds) if ids else "-", i == today.weekday()))
        _print_week(rows)
        if ics is not None:
            from ..practice.calendar import build, write

            plans = calendar_plans(schedule, entries)
            write(build(plans, today, start), ics)
            typer.echo(f"wrote {ics} ({len(plans)} weekly event{'' if len(plans) == 1 else 's'} at "
                       f"{start:%H:%M}, reminder 10 minutes before)")


def _short(rid: str) -> str:
    """A schedule entry as shown: ids as they are, routine files by their name."""
    return Path(rid).stem if "/" in rid or rid.endswith((".yaml", ".yml")) else rid


def _print_week(rows: list[tuple[str, str, str, bool]]) -> None:
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.table import Table

        table = Table(box=None, header_style="bold")
        for column, justify in (("Day", "left"), ("Routines", "left"), ("Timed", "right"), ("", "left")):
            table.add_column(column, justify=justify)
        for name, ids, total, is_today in rows:
            table.add_row(name, ids, total, "← today" if is_today else "", style="bold" if is_today else None)
        Console().print(table)
        return
    width = max(len(r[1]) for r in rows)
    for name, ids, total, is_today in rows:
        typer.echo(f"{name:<10} {ids:<{width}} {total:>6}" + ("  <- today" if is_today else ""))


@app.command()
def today(
    day: Optional[str] = DateOpt,
    play_: bool = typer.Option(False, "--play", help="Play the routines one after another."),
    background: Optional[str] = BackgroundOpt,
    no_background: bool = NoBackgroundOpt,
    duck: Optional[float] = DuckOpt,
    background_level: Optional[float] = BackgroundLevelOpt,
) -> None:
    """Show what the schedule has for today (with progression levels); --play plays it."""
    from ..duration import clock
    from ..routines import load, timed_seconds
    from ..practice.schedule import load_schedule

    with handled():
        when = parse_day(day, "--date")
        schedule = load_schedule()
        ids = todays_plan(when, schedule)
        entries = _history()
        routines = [(rid, load(rid)) for rid in ids]
        shown = [(rid, r, at_current_level(r, entries)) for rid, r in routines]
        total = sum(timed_seconds(now) for _, _, now in shown)
        rest = "" if schedule.for_date(when) else f" (nothing scheduled, so the {FALLBACK} routine)"
        typer.echo(f"{when:%A} {when.isoformat()}{rest}: {clock(total)} timed")
        width = max(len(_short(rid)) for rid in ids)
        for rid, r, now in shown:
            typer.echo(f"  {_short(rid):<{width}}  {clock(timed_seconds(now)):>6}  {r.title}")
            if r.progression is not None:
                level = level_for(r, entries)
                typer.echo(f"  {'':<{width}}  {'':>6}  level {level} of {r.progression.levels}: "
                           f"{r.progression.seconds(level):g} s per technique")
    if play_:
        from .live import PlayChoices, play_routines

        play_routines(ids, PlayChoices(background=background, no_background=no_background, duck=duck,
                                       background_level=background_level))


@app.command()
def history(
    as_json: bool = typer.Option(False, "--json", help="Print the numbers as JSON, for scripts."),
    day: Optional[str] = typer.Option(None, "--today", help="Count as if today were YYYY-MM-DD."),
) -> None:
    """Days practiced, minutes, the current and longest streak, and the last 30 days."""
    from ..practice.history import GRID_DAYS, stats

    with handled():
        when = parse_day(day, "--today")
        s = stats(_history(), when)
    if as_json:
        typer.echo(json.dumps(s.to_dict(), indent=2, ensure_ascii=False))
        return
    typer.echo(f"days practiced: {s.days_practiced}")
    typer.echo(f"sessions:       {s.sessions} ({s.finished} finished)")
    typer.echo(f"minutes:        {s.total_minutes:.1f}")
    typer.echo(f"current streak: {_days(s.current_streak)}")
    typer.echo(f"longest streak: {_days(s.longest_streak)}")
    typer.echo("")
    cells = "".join(_GRID_DONE if d in s.practiced else _GRID_SOME if m > 0 else _GRID_NONE
                    for d, m in s.grid.items())
    first, last = next(iter(s.grid)), when
    typer.echo(f"{first.isoformat()} {cells} {last.isoformat()}")
    typer.echo(f"last {GRID_DAYS} days: {_GRID_DONE} practiced  {_GRID_SOME} under a minute  {_GRID_NONE} none")


def _days(n: int) -> str:
    return f"{n} day" + ("" if n == 1 else "s")


@app.command()
def safety() -> None:
    """Print the red flags, contraindications and when to see a professional."""
    from ..routines.safety import full_text

    typer.echo(full_text(), nl=False)


# ------------------------------------------------------------------------- desk mode

DESK_BREAK = "desk-break"


@app.command()
def remind(
    every: str = typer.Option("60m", "--every", help="Time between prompts, e.g. 60m, 45m, 90s, 1:30; a bare number is minutes."),
    hours: str = typer.Option("9-17", "--hours", help="When to prompt, local time, both ends included: "
                                                     "9-17 or 08:30-17:30 (22-6 runs over midnight)."),
    count: Optional[int] = typer.Option(None, "--count", min=1, help="Stop after N prompts "
                                                                     "(default: run until Ctrl-C)."),
    backend: Optional[str] = BackendOpt,
    device: Optional[str] = DeviceOpt,
    voice: Optional[str] = VoiceOpt,
    wpm: Optional[int] = WpmOpt,
    tts_command: Optional[str] = TtsOpt,
    engine: Optional[str] = EngineOpt,
    voice_model: Optional[Path] = VoiceModelOpt,
    minute_seconds: float = typer.Option(60.0, "--minute-seconds", min=0.01, max=60.0,
                                         help="Testing aid: real seconds that count as one minute (default 60). "
                                              "Below 60 the day runs faster and each break's timed parts are "
                                              "shortened by the same factor; speech keeps its pace."),
    mpris: Optional[bool] = MprisOpt,
    pause_others: Optional[bool] = PauseOthersOpt,
) -> None:
    """Desk mode: a chime and a spoken prompt every hour, then a timed walk and a seated glute squeeze."""
    from ..config import load_config
    from ..duration import spoken
    from ..player import LivePlay
    from ..practice import desk, history
    from ..session import voice_for
    from .live import hands_free, say_mpris_off

    with handled():
        period = desk.parse_every(every)
        start, end = desk.parse_hours(hours)
        cfg = load_config()
        scale = minute_seconds / 60
        # the device is opened before the slow part, so "no audio device" comes within seconds
        with LivePlay(backend or cfg.backend, device or cfg.device, **hands_free(mpris, pause_others, cfg),
                      purpose="desk mode, voicecoach remind") as live:
            routine, tl, render = desk.prepare_break(
                scale, lambda r: noted(voice_for(r, voice, wpm, None, tts_command, cfg, engine,
                                                 str(voice_model) if voice_model else None)), period, every)
            done = 0

            def prompt(deadline) -> None:
                nonlocal done
                n, total = (done + 1, count) if count else desk.slot_in_day(deadline, period, start, end)
                typer.echo(f"{deadline:%H:%M} desk break ({n} of {total}{'' if count else ' today'})")
                try:
                    outcome = live.play(tl, render, on_end=history.recorder(routine, tl))
                    for warning in outcome.warnings:
                        typer.echo(f"voicecoach: warning: {warning}", err=True)
                finally:
                    if not done:
                        say_mpris_off(live)  # once: the reason is the same at every break
                done += 1
                if count is None or done < count:
                    live.ready()  # before the next deadline, so opening the device never delays a prompt

            def skipped(n: int) -> None:
                typer.echo(f"skipped {n} missed reminder{'' if n == 1 else 's'} while away")

            wall = desk.WallClock(speed=1 / scale)
            first = desk.next_deadline(wall.now(), period, start, end)
            typer.echo(f"Desk breaks every {spoken(period.total_seconds())} from {start:%H:%M} to {end:%H:%M}; "
                       f"the first at {first:%H:%M}. Ctrl-C stops.")
            try:
                desk.run(wall, prompt, period, start, end, count, on_skip=skipped)
            except KeyboardInterrupt as stop:  # Ctrl-C, or SIGHUP/SIGTERM during a break (player.Interrupted)
                typer.echo(f"Stopped; {_breaks(done)} done.", err=True)
                outcome = getattr(stop, "outcome", None)
                raise typer.Exit(128 + (outcome.signal if outcome is not None else signal.SIGINT)) from None
            typer.echo(f"Done: {_breaks(done)}.")


def _breaks(n: int) -> str:
    return f"{n} desk break" + ("" if n == 1 else "s")
