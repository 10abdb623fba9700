"""A session played live does not drift: a few minutes in the suite, the whole ten in bench/.

`voicecoach play --scale S` runs tests/data/play/long.yaml (10:00 of timed work,
11:48 in all at S = 1) through the private sound server with the default backend (pulse,
which keeps 2 s queued, so a stall of the test machine is not heard); the
recording of the sink's monitor is searched for every chime and tick. After
aligning the first chime with the plan, every one of them (the last, almost
twelve minutes later, included) must sit on the very sample where the timeline
put it, and every timed interval must last its duration to the sample, as the
README promises (pulse plays bit for bit: test_sinks.py). A player timed by
sleeping would be tens of milliseconds off by the end.

The suite plays it at a quarter of its timed lengths (S = 0.25: two and a
half minutes of timed work, four minutes in all, every kind of step still
there); `bench/drift.py` plays the whole twelve minutes (VOICECOACH_DRIFT_SCALE=1).
It plays once: a gap would be a fault of the default backend, and the failure
names its size and place.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.audiofind import find
from voicecoach import sinks, sounds
from voicecoach.routines import load_file

ROUTINE = Path(__file__).parent / "data" / "play" / "long.yaml"
RATE = 22050
SOUNDS = ("bell", "bell-double", "halfway", "tick", "complete")
TOLERANCE = 0  # samples: "to the sample"
SCALE = float(os.environ.get("VOICECOACH_DRIFT_SCALE", "0.25"))


def plan(env: dict):
    """The timeline `play --lead-in 0` will play (same speech cache, so the same clips)."""
    from voicecoach.session import options, prepare_session, voice_for

    with pytest.MonkeyPatch.context() as mp:
        for key in ("VOICECOACH_CACHE_DIR", "VOICECOACH_CONFIG"):
            mp.setenv(key, env[key])
        routine = load_file(ROUTINE)
        voice = voice_for(routine)
        return prepare_session(routine, options(lead_in=0.0, scale=SCALE), voice).timeline


@pytest.mark.slow
@pytest.mark.audio
def test_minutes_of_play_do_not_drift(pulse_server, tmp_path, record_property):
    if "pulse" not in sinks.available_backends():
        pytest.fail("libpulse must load: the default backend plays through it")
    home = tmp_path / "user"
    env = {**os.environ, **pulse_server.env,
           "VOICECOACH_CACHE_DIR": str(home / "cache"), "VOICECOACH_DATA": str(home / "data"),
           "VOICECOACH_CONFIG": str(home / "config.yaml"), "VOICECOACH_ROUTINES": str(home / "routines")}
    timeline = plan(env)  # also fills the speech cache, so play starts at once
    assert timeline.seconds > 600 * SCALE
    expected = sorted((e.sample, e.sound) for e in timeline.events if e.sound in SOUNDS)
    rec = pulse_server.record(tmp_path / "long.wav")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "voicecoach", "play", str(ROUTINE), "--lead-in", "0", "--scale", str(SCALE)],
            env=env, capture_output=True, text=True, timeout=timeline.seconds + 180, stdin=subprocess.DEVNULL)
    finally:
        recording = rec.stop()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Finished Long play check")

    found = sorted((i, name) for name in SOUNDS for i in find(recording, sounds.load(name, RATE), threshold=0.6))
    assert [n for _, n in found] == [n for _, n in expected]  # every sound heard once, in order
    shift = found[0][0] - expected[0][0]
    errors = [(f - shift) - e for (f, _), (e, _) in zip(found, expected)]
    at = {e: f for (f, _), (e, _) in zip(found, expected)}
    intervals = [(at[s.end_sample] - at[s.start_sample]) - (s.end_sample - s.start_sample) for s in timeline.steps]
    worst = max(abs(x) for x in errors)
    record_property("session_seconds", round(timeline.seconds, 1))
    record_property("sounds_checked", len(errors))
    record_property("last_sound_error_ms", 1000 * errors[-1] / RATE)
    record_property("worst_onset_error_ms", 1000 * worst / RATE)
    record_property("worst_interval_error_ms", 1000 * max(abs(x) for x in intervals) / RATE)
    # A step in the errors is a gap in the sound (the device starved and played silence), not a slow clock.
    jumps = [(e, b - a) for (e, _), a, b in zip(expected[1:], errors, errors[1:]) if abs(b - a) > TOLERANCE]
    where = "; ".join(f"{d} samples ({1000 * d / RATE:.0f} ms) of delay before the sound planned at "
                      f"{e / RATE:.1f} s" for e, d in jumps)
    assert abs(errors[-1]) <= TOLERANCE, f"the last sound is {errors[-1]} samples off after " \
                                         f"{timeline.seconds:.0f} s: {where}"
    assert worst <= TOLERANCE, f"errors in samples: {errors}"
    assert max(abs(x) for x in intervals) <= TOLERANCE, f"interval errors in samples: {intervals}"
