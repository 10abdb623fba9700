"""Subtitle text for a timeline: one cue per spoken phrase, as WebVTT, SRT or LRC.

Pure: these functions return strings; `export.write_subtitles` puts them on disk.
Times come from the sample clock, rounded half up to the unit of each format
(milliseconds for VTT and SRT, hundredths for LRC), so the same timeline always
gives the same text.
"""
from __future__ import annotations

from collections.abc import Callable

from voicecoach.text import one_line
from voicecoach.timeline import Event, Timeline


def rounded(sample: int, rate: int, per_second: int) -> int:
    """Return `sample` in units of 1/per_second s, rounded half up (exact integer math)."""
    return (2 * sample * per_second + rate) // (2 * rate)


def clock(sample: int, rate: int, decimal: str = ".") -> str:
    """Return the time of `sample` as HH:MM:SS.mmm (hours grow past 99 if they must)."""
    ms = rounded(sample, rate, 1000)
    seconds, ms = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{decimal}{ms:03d}"


def _lrc_clock(sample: int, rate: int) -> str:
    cs = rounded(sample, rate, 100)
    seconds, cs = divmod(cs, 100)
    minutes, seconds = divmod(seconds, 60)
    return f"[{minutes:02d}:{seconds:02d}.{cs:02d}]"


def cues(timeline: Timeline) -> list[tuple[Event, str]]:
    """Return the speech events (text not None, not blank) in time order, with their one-line text.

    A blank phrase would be an empty cue, which SRT readers take for the end of the file.
    """
    out = []
    for event in sorted(timeline.events, key=lambda e: e.sample):
        if event.text is None:
            continue
        text = one_line(event.text)
        if text:
            out.append((event, text))
    return out


def _vtt_escape(text: str) -> str:
    # WebVTT cue text is markup: a bare & or < would start an entity or a tag.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(timeline: Timeline) -> str:
    """Return WebVTT text: a WEBVTT header, then one `start --> end` cue per phrase."""
    rate = timeline.sample_rate
    blocks = ["WEBVTT\n"]
    for event, text in cues(timeline):
        span = f"{clock(event.sample, rate)} --> {clock(event.end, rate)}"
        blocks.append(f"{span}\n{_vtt_escape(text)}\n")
    return "\n".join(blocks)


def to_srt(timeline: Timeline) -> str:
    """Return SRT text: numbered cues from 1, times as HH:MM:SS,mmm."""
    rate = timeline.sample_rate
    blocks = []
    for number, (event, text) in enumerate(cues(timeline), start=1):
        span = f"{clock(event.sample, rate, ',')} --> {clock(event.end, rate, ',')}"
        blocks.append(f"{number}\n{span}\n{text}\n")
    return "\n".join(blocks)


def to_lrc(timeline: Timeline) -> str:
    """Return LRC text: a [ti:title] header, then one [mm:ss.xx]text line per phrase.

    LRC lines carry only a start time; each line shows until the next one.
    """
    rate = timeline.sample_rate
    lines = [f"[ti:{one_line(timeline.title)}]"]
    lines += [f"{_lrc_clock(event.sample, rate)}{text}" for event, text in cues(timeline)]
    return "\n".join(lines) + "\n"


SUBTITLE_FORMATS: dict[str, Callable[[Timeline], str]] = {
    ".vtt": to_vtt,
    ".srt": to_srt,
    ".lrc": to_lrc,
}
