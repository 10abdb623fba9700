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
from .app import BED, DEVICE, LISTEN, VOICE, app, handled, noted, resolved, with_options
from .live import heard, say_mpris_off, say_not_listening

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
    from ..practice.schedule import load_schedule

    with handled():
        today, start = parse_day(day, "--date"), parse_at(at)
        schedule, entries = load_schedule(), _history()
        _print_week(_week_rows(schedule, entries, today))
        if ics is not None:
            from ..practice.calendar import build, write

            plans = calendar_plans(schedule, entries)
            write(build(plans, today, start), ics)
            typer.echo(f"wrote {ics} ({len(plans)} weekly event{'' if len(plans) == 1 else 's'} at "
                       f"{start:%H:%M}, reminder 10 minutes before)")


def _week_rows(schedule, entries, today: date) -> list[tuple[str, str, str, bool]]:
    """(day, routines, timed total, is today) for each day of the week."""
    from ..duration import clock
    from ..routines import load, timed_seconds

    rows = []
    for i, (name, ids) in enumerate(schedule.week()):
        seconds = sum(timed_seconds(at_current_level(load(rid), entries)) for rid in ids)
        rows.append((name.capitalize(), " + ".join(_short(r) for r in ids) or "rest",
                     clock(seconds) if ids else "-", i == today.weekday()))
    return rows


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
@with_options(BED, LISTEN)
def today(
    day: Optional[str] = DateOpt,
    play_: bool = typer.Option(False, "--play", help="Play the routines one after another."),
    given: dict = None,
) -> None:
    """Show what the schedule has for today (with progression levels); --play plays it."""
    from ..practice.schedule import load_schedule

    with handled():
        when = parse_day(day, "--date")
        schedule = load_schedule()
        ids = todays_plan(when, schedule)
        _print_day(when, ids, bool(schedule.for_date(when)))
    if play_:
        from .live import play_routines

        with handled():
            settings = resolved(given)
        play_routines(ids, settings)


def _print_day(when: date, ids: list[str], scheduled: bool) -> None:
    """The day's routines with their timed lengths at the level the history has reached."""
    from ..duration import clock
    from ..routines import load, timed_seconds

    entries = _history()
    shown = [(rid, r, at_current_level(r, entries)) for rid, r in ((rid, load(rid)) for rid in ids)]
    total = sum(timed_seconds(now) for _, _, now in shown)
    rest = "" if scheduled else f" (nothing scheduled, so the {FALLBACK} routine)"
    typer.echo(f"{when:%A} {when.isoformat()}{rest}: {clock(total)} timed")
    width = max(len(_short(rid)) for rid in ids)
    for rid, r, now in shown:
        typer.echo(f"  {_short(rid):<{width}}  {clock(timed_seconds(now)):>6}  {r.title}")
        if r.progression is not None:
            level = level_for(r, entries)
            typer.echo(f"  {'':<{width}}  {'':>6}  level {level} of {r.progression.levels}: "
                       f"{r.progression.seconds(level):g} s per technique")


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

EveryOpt = typer.Option("60m", "--every", help="Time between prompts, e.g. 60m, 45m, 90s, 1:30; "
                                              "a bare number is minutes.")
HoursOpt = typer.Option("9-17", "--hours", help="When to prompt, local time, both ends included: "
                                                "9-17 or 08:30-17:30 (22-6 runs over midnight).")
CountOpt = typer.Option(None, "--count", min=1, help="Stop after N prompts (default: run until Ctrl-C).")
MinuteSecondsOpt = typer.Option(60.0, "--minute-seconds", min=0.01, max=60.0,
                                help="Testing aid: real seconds that count as one minute (default 60). "
                                     "Below 60 the day runs faster and each break's timed parts are "
                                     "shortened by the same factor; speech keeps its pace.")


@app.command()
@with_options(DEVICE[:2], VOICE, DEVICE[2:], LISTEN)
def remind(every: str = EveryOpt, hours: str = HoursOpt, count: Optional[int] = CountOpt,
           minute_seconds: float = MinuteSecondsOpt, given: dict = None) -> None:
    """Desk mode: a chime and a spoken prompt every hour, then a timed walk and a seated glute squeeze."""
    import voicecoach as vc

    with handled(), vc.DeskMode(chosen := resolved(given), every, hours, count, minute_seconds / 60, on_voice=noted,
                             purpose="desk mode, voicecoach remind", heard=heard) as desk:
        if desk.not_listening:
            say_not_listening(desk.not_listening, chosen)
        typer.echo(f"Desk breaks every {_spoken(desk.period)} from {desk.start:%H:%M} to {desk.end:%H:%M}; "
                   f"the first at {desk.first:%H:%M}. Ctrl-C stops.")
        try:
            desk.run(_prompted(count), _break_ended, _skipped, lambda why: say_not_listening(why, chosen))
        except KeyboardInterrupt as stop:  # Ctrl-C, or SIGHUP/SIGTERM during a break (player.Interrupted)
            typer.echo(f"Stopped; {_breaks(desk.done)} done.", err=True)
            outcome = getattr(stop, "outcome", None)
            raise typer.Exit(128 + (outcome.signal if outcome is not None else signal.SIGINT)) from None
        typer.echo(f"Done: {_breaks(desk.done)}.")


def _spoken(period) -> str:
    from ..duration import spoken

    return spoken(period.total_seconds())


def _prompted(count: int | None):
    """What desk mode says before each break: its time and which one it is."""
    def say(deadline, n: int, total: int) -> None:
        typer.echo(f"{deadline:%H:%M} desk break ({n} of {total}{'' if count else ' today'})")

    return say


def _break_ended(outcome, mpris_off: str | None) -> None:
    if outcome is not None:
        for warning in outcome.warnings:
            typer.echo(f"voicecoach: warning: {warning}", err=True)
    say_mpris_off(mpris_off)


def _skipped(n: int) -> None:
    typer.echo(f"skipped {n} missed reminder{'' if n == 1 else 's'} while away")


def _breaks(n: int) -> str:
    return f"{n} desk break" + ("" if n == 1 else "s")
