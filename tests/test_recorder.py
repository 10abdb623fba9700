"""vc.recorder: what a played session leaves in the history, from the timeline that played."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import voicecoach as vc
from voicecoach.session import estimated_timeline, options


def test_a_scaled_session_records_its_real_total_and_work(tmp_path):
    kd4 = vc.load("kd4")
    assert vc.timed_seconds(kd4) == 70.0
    timeline = estimated_timeline(kd4, options(scale=0.05))  # as `play kd4 --scale 0.05` plays it
    path = tmp_path / "history.jsonl"
    vc.recorder(kd4, timeline, path=path)(vc.Outcome(timeline.total_samples, timeline.total_samples, True))
    entry = json.loads(path.read_text())
    assert (entry["total"], entry["seconds"], entry["finished"]) == (3.5, 3.5, True)


def test_the_start_time_is_when_the_sound_began(tmp_path):
    kd4 = vc.load("kd4")
    timeline = estimated_timeline(kd4)
    path = tmp_path / "history.jsonl"
    began = datetime(2026, 3, 2, 7, 30, 5, tzinfo=timezone(timedelta(hours=1)))
    # quit one second into the first hold: a second of work of the 70 planned
    quit_at = timeline.steps[0].start_sample + timeline.sample_rate
    vc.recorder(kd4, timeline, path=path)(vc.Outcome(quit_at, timeline.total_samples, False, started=began))
    entry = json.loads(path.read_text())
    assert entry == {"routine": "kd4", "title": timeline.title, "started": "2026-03-02T07:30:05+01:00",
                     "seconds": 1.0, "total": 70.0, "finished": False}
