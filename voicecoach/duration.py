"""Durations and offsets as routine authors write them, and as listeners hear them."""
from __future__ import annotations

import math
import re

from .text import describe, quote

# `90s`, `2m`, `1m30s`, `1.5m`, `1h`: one or more number+unit parts, largest unit first.
_PARTS = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")
_CLOCK = re.compile(r"^(\d+):([0-5]\d(?:\.\d+)?)$")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")

# A day: no step is longer, and it keeps a typo like '1000000m' from compiling for hours.
MAX_SECONDS = 24 * 3600
DURATION_HELP = "a duration like 30, 2.5, '90s', '2m', '1m30s', '1.5m' or '1:30'"
OFFSET_HELP = "an offset like '20s' (from the start), '-15s' (from the end) or '50%'"


def parse_duration(value: object) -> float:
    """Return seconds (> 0) for a number or a duration string; ValueError says what was expected."""
    seconds = _seconds(value)
    if seconds is None:
        raise ValueError(f"expected {DURATION_HELP}, found {_short(value)}")
    if seconds <= 0:
        raise ValueError(f"expected a duration above zero, found {_short(value)}")
    if seconds > MAX_SECONDS:
        raise ValueError(f"expected a duration of at most 24 hours, found {_short(value)}")
    return seconds


def parse_offset(value: object) -> tuple[str, float]:
    """Return ("start", s), ("end", s) or ("share", fraction) for a cue's `at`."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            number = text[:-1].strip()
            if _NUMBER.match(number) and 0 <= float(number) <= 100:
                return "share", float(number) / 100
            raise ValueError(f"expected a share from 0% to 100%, found {_short(value)}")
        if text.startswith("-"):
            seconds = _seconds(text[1:].strip())
            if seconds is not None and 0 < seconds <= MAX_SECONDS:
                return "end", seconds
            raise ValueError(f"expected {OFFSET_HELP}, found {_short(value)}")
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        seconds = _seconds(-value)
        if seconds is None or seconds > MAX_SECONDS:
            raise ValueError(f"expected {OFFSET_HELP}, found {_short(value)}")
        return "end", seconds
    seconds = _seconds(value)
    if seconds is None or seconds > MAX_SECONDS:
        raise ValueError(f"expected {OFFSET_HELP}, found {_short(value)}")
    return "start", seconds


def _seconds(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:  # an integer with hundreds of digits
            return None
        return seconds if math.isfinite(seconds) else None
    if not isinstance(value, str):
        return None
    text = value.strip().lower().replace(" ", "")
    if text.startswith("-") and _seconds(text[1:]) is not None:
        return -_seconds(text[1:])
    if _NUMBER.match(text):
        return _finite(float(text))
    clock = _CLOCK.match(text)
    if clock:
        return _finite(int(clock.group(1)) * 60 + float(clock.group(2)))
    parts = _PARTS.match(text)
    if parts and any(parts.groups()):
        hours, minutes, seconds = (float(p) if p else 0.0 for p in parts.groups())
        return _finite(hours * 3600 + minutes * 60 + seconds)
    return None


def _finite(seconds: float) -> float | None:
    return seconds if math.isfinite(seconds) else None


def _short(value: object) -> str:
    """The value as quoted in a message, in words and cut short: a 400-digit number is not worth repeating."""
    if isinstance(value, str):
        return quote(value, 40)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return describe(value).removeprefix("the number ")
    return describe(value)


def samples(seconds: float, rate: int) -> int:
    """The contract's one conversion: round(seconds * rate)."""
    return round(seconds * rate)


def spoken(seconds: float) -> str:
    """'60 seconds', '1 minute 30 seconds', '2 minutes', '2.5 seconds': how a duration is said."""
    whole = round(seconds)
    if abs(seconds - whole) > 1e-6 and seconds < 60:
        return f"{seconds:g} seconds"
    minutes, secs = divmod(whole, 60)
    if minutes == 0:
        return f"{secs} second" + ("" if secs == 1 else "s")
    words = f"{minutes} minute" + ("" if minutes == 1 else "s")
    if secs:
        words += f" {secs} second" + ("" if secs == 1 else "s")
    return words


def clock(seconds: float) -> str:
    """'3:00', '1:05:00': a duration as printed."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
