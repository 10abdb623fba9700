"""The practice history: one JSON line per played session, appended and never rewritten.

`history.jsonl` in the data folder ($VOICECOACH_DATA overrides) holds lines like

    {"routine": "daily", "title": "Daily Hip Care", "started": "2024-03-04T07:31:02+01:00",
     "seconds": 190.0, "total": 190.0, "finished": true}

`seconds` is the timed work done, `total` the planned timed work. Lines are only
ever appended, each with a single write followed by fsync, so a crash can at
worst leave a torn last line; reading skips such a line with a warning instead
of failing, and the next append starts on a fresh line.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from ..files import reason

FILE_NAME = "history.jsonl"
GRID_DAYS = 30
# A day counts as practiced if any session that day finished, or ran at least
# this long: a minute on the ball is practice, starting and quitting is not.
COUNTS_AFTER = 60.0


@dataclass(frozen=True)
class Entry:
    """One played session, finished or interrupted."""

    routine: str
    title: str
    started: datetime  # local time with its UTC offset
    seconds: float  # timed work done
    total: float  # timed work planned
    finished: bool

    @property
    def day(self) -> date:
        """The calendar day the session started on, as the person lived it (in its own offset)."""
        return self.started.date()

    @property
    def counts(self) -> bool:
        """True if this session makes its day a practice day (finished, or at least a minute)."""
        return self.finished or self.seconds >= COUNTS_AFTER

    def to_dict(self) -> dict:
        return {"routine": self.routine, "title": self.title, "started": self.started.isoformat(timespec="seconds"),
                "seconds": round(float(self.seconds), 3), "total": round(float(self.total), 3),
                "finished": bool(self.finished)}


def local_now() -> datetime:
    """Now, as local time with its UTC offset (what `Entry.started` holds)."""
    return datetime.now().astimezone()


def history_path() -> Path:
    from ..paths import data_dir

    return data_dir() / FILE_NAME


def record(entry: Entry, path: Path | None = None) -> None:
    """Append `entry` as one line (one write, then fsync); the folder is created if needed.

    Raises EnvironmentProblem when the file cannot be written.
    """
    from ..errors import EnvironmentProblem

    path = path or history_path()
    line = (json.dumps(entry.to_dict(), ensure_ascii=False) + "\n").encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab", buffering=0) as f:
            # a torn last line from a crash must not swallow this entry too
            if f.tell() > 0 and not _ends_with_newline(path):
                line = b"\n" + line
            written = f.write(line)
            while written < len(line):  # a raw write may be short; finish the same line
                written += f.write(line[written:])
            os.fsync(f.fileno())
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write the history {path}: {reason(exc)}") from None


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def read(path: Path | None = None) -> tuple[list[Entry], list[str]]:
    """All entries in file order, and one warning per damaged line (which is skipped).

    A missing file is an empty history. Raises EnvironmentProblem if the file
    exists but cannot be read at all.
    """
    from ..errors import EnvironmentProblem

    path = path or history_path()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        raise EnvironmentProblem(f"cannot read the history {path}: {reason(exc)}") from None
    entries: list[Entry] = []
    warnings: list[str] = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        entry = _parse(raw)
        if entry is None:
            warnings.append(f"{path.name} line {number} is damaged and was skipped")
        else:
            entries.append(entry)
    return entries, warnings


def _parse(raw: bytes) -> Entry | None:
    """The entry on one line, or None if the line is not a whole, well-formed entry."""
    try:
        obj = json.loads(raw.decode("utf-8"))
        started = datetime.fromisoformat(obj["started"])
    except (UnicodeDecodeError, ValueError, TypeError, KeyError):
        return None
    if not isinstance(obj, dict):
        return None
    routine, title, seconds, total, finished = (obj.get(k) for k in ("routine", "title", "seconds", "total",
                                                                     "finished"))
    numbers_ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
                     for v in (seconds, total))
    if not (isinstance(routine, str) and routine and isinstance(title, str) and numbers_ok
            and isinstance(finished, bool)):
        return None
    if started.tzinfo is None:  # written by hand without an offset: take it as local time
        started = started.astimezone()
    return Entry(routine, title, started, float(seconds), float(total), finished)


@dataclass(frozen=True)
class Stats:
    """What the history adds up to, seen from `today`."""

    today: date
    sessions: int
    finished: int
    days_practiced: int
    total_minutes: float
    current_streak: int  # practice days in a row ending today, or yesterday if nothing counts yet today
    longest_streak: int
    grid: dict[date, float] = field(default_factory=dict)  # the last 30 days, oldest first: minutes per day
    practiced: frozenset[date] = frozenset()  # every practice day (see COUNTS_AFTER)

    def to_dict(self) -> dict:
        """Plain JSON-ready values; dates as YYYY-MM-DD."""
        return {
            "today": self.today.isoformat(),
            "sessions": self.sessions,
            "finished": self.finished,
            "days_practiced": self.days_practiced,
            "total_minutes": round(self.total_minutes, 1),
            "current_streak": self.current_streak,
            "longest_streak": self.longest_streak,
            "grid": [{"date": d.isoformat(), "minutes": round(m, 1), "practiced": d in self.practiced}
                     for d, m in self.grid.items()],
        }


def stats(entries: list[Entry], today: date) -> Stats:
    """Sum up `entries` as of `today`.

    Every session's minutes count, finished or not. A day is a practice day if
    at least one session that day finished or ran for COUNTS_AFTER seconds
    (one minute) or more; days practiced and streaks count practice days only.
    The current streak ends today, or yesterday when today has no practice yet
    (so the morning before practising does not show a broken streak); sessions
    dated after `today` are left out of the streaks.
    """
    practiced = frozenset(e.day for e in entries if e.counts)
    minutes: dict[date, float] = {}
    for e in entries:
        minutes[e.day] = minutes.get(e.day, 0.0) + e.seconds / 60
    end = today if today in practiced else today - timedelta(days=1)
    current = 0
    while end - timedelta(days=current) in practiced:
        current += 1
    first = today - timedelta(days=GRID_DAYS - 1)
    grid = {first + timedelta(days=i): minutes.get(first + timedelta(days=i), 0.0) for i in range(GRID_DAYS)}
    return Stats(
        today=today,
        sessions=len(entries),
        finished=sum(e.finished for e in entries),
        days_practiced=len(practiced),
        total_minutes=sum(e.seconds for e in entries) / 60,
        current_streak=current,
        longest_streak=_longest(sorted(d for d in practiced if d <= today)),
        grid=grid,
        practiced=practiced,
    )


def _longest(days: list[date]) -> int:
    """The longest run of consecutive dates in a sorted list of distinct dates."""
    best = run = 0
    previous: date | None = None
    for d in days:
        run = run + 1 if previous is not None and d - previous == timedelta(days=1) else 1
        best = max(best, run)
        previous = d
    return best


def finished_count(entries: list[Entry], routine_id: str) -> int:
    """How many sessions of `routine_id` were played to the end (what progression levels count)."""
    return sum(1 for e in entries if e.routine == routine_id and e.finished)


def recorder(routine, timeline, path: Path | None = None):
    """An `on_end(outcome)` for LivePlay.play that appends the session (finished or not) to the history.

    The work done and the work planned both come from `timeline`, so a scaled
    session (--scale) or one started at a later step records what it really
    asked of the body. The start time is when the sound began (the outcome's),
    else when this recorder was made.
    """
    from ..player import timed_done

    made = local_now()

    def on_end(outcome) -> None:
        started = getattr(outcome, "started", None) or made
        played = getattr(outcome, "timeline", None) or timeline  # a session that grew while it played: as it played
        record(Entry(routine.id, played.title, started, timed_done(played, outcome.position),
                     played.timed_samples / played.sample_rate, outcome.finished), path)

    return on_end
