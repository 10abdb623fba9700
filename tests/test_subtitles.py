"""Subtitles: one cue per spoken phrase, golden text for VTT, SRT and LRC."""
from __future__ import annotations

import pytest

from voicecoach.errors import ExportError, InputError
from voicecoach.export import write_subtitles
from voicecoach.subtitles import clock, to_lrc, to_srt, to_vtt
from voicecoach.timeline import Event, StepSpan, Timeline

RATE = 8000  # 8 samples per millisecond: every rounding case below is exact


def tiny() -> Timeline:
    hour_mark = (3600 + 2 * 60) * RATE + 3456 * RATE // 1000  # 1:02:03.456
    events = (
        # 4 samples = 0.5 ms: rounds half up to 1 ms (and to 0.00 in LRC's hundredths)
        Event("speech", 4, 2 * RATE, 0, text="Lie on your back,\n  knees bent.", role="announce"),
        Event("chime", 2 * RATE + 4, RATE // 2, 0, sound="chime", role="start"),
        Event("speech", 10 * RATE, RATE, 0, text="   ", role="cue"),  # blank: no cue
        Event("breath", 12 * RATE, 3 * RATE, 0, text="Breathe in <slowly> & deep", phase="in", spoken=True),
        Event("speech", hour_mark, 1234 * 8, 1, text="Rest.", role="announce"),
    )
    steps = (
        StepSpan(0, "Tennis ball psoas release", "right", 0, 2 * RATE, 62 * RATE, 60.0),
        StepSpan(1, "Rest", None, hour_mark, hour_mark, hour_mark + 30 * RATE, 30.0, rest=True),
    )
    return Timeline("psoas", "Psoas [evening]", RATE, hour_mark + 30 * RATE, steps, events)


VTT = """\
WEBVTT

00:00:00.001 --> 00:00:02.001
Lie on your back, knees bent.

00:00:12.000 --> 00:00:15.000
Breathe in &lt;slowly&gt; &amp; deep

01:02:03.456 --> 01:02:04.690
Rest.
"""

SRT = """\
1
00:00:00,001 --> 00:00:02,001
Lie on your back, knees bent.

2
00:00:12,000 --> 00:00:15,000
Breathe in <slowly> & deep

3
01:02:03,456 --> 01:02:04,690
Rest.
"""

LRC = """\
[ti:Psoas [evening]]
[00:00.00]Lie on your back, knees bent.
[00:12.00]Breathe in <slowly> & deep
[62:03.46]Rest.
"""


def test_golden_text():
    timeline = tiny()
    assert to_vtt(timeline) == VTT
    assert to_srt(timeline) == SRT
    assert to_lrc(timeline) == LRC


@pytest.mark.parametrize("suffix, expected", [(".vtt", VTT), (".srt", SRT), (".lrc", LRC), (".SRT", SRT)])
def test_written_files_hold_exactly_the_text(tmp_path, suffix, expected):
    target = tmp_path / f"session{suffix}"
    assert write_subtitles(tiny(), target) == target
    assert target.read_bytes() == expected.encode("utf-8")
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_no_speech_gives_header_only():
    silent = Timeline("quiet", "Quiet", RATE, RATE, (), (Event("chime", 0, 10, None, sound="chime"),))
    assert to_vtt(silent) == "WEBVTT\n"
    assert to_srt(silent) == ""
    assert to_lrc(silent) == "[ti:Quiet]\n"


@pytest.mark.parametrize(
    "sample, text",
    [(0, "00:00:00.000"), (3, "00:00:00.000"), (4, "00:00:00.001"), (7999, "00:00:01.000"),
     (RATE * 86400, "24:00:00.000"), (RATE * 360000, "100:00:00.000")],
)
def test_clock_rounds_half_up(sample, text):
    assert clock(sample, RATE) == text


def test_unknown_suffix_lists_the_choices(tmp_path):
    with pytest.raises(InputError) as caught:
        write_subtitles(tiny(), tmp_path / "session.txt")
    assert str(caught.value) == (
        "'.txt' is not a subtitle format voicecoach writes; choose .vtt, .srt or .lrc"
    )
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_is_an_export_error(tmp_path):
    target = tmp_path / "gone" / "session.vtt"
    with pytest.raises(ExportError, match="session.vtt: the folder .* does not exist"):
        write_subtitles(tiny(), target)
    assert list(tmp_path.iterdir()) == []
