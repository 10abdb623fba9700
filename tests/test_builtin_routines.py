"""The built-in routines and the weekly schedule: they load, they time out as the guide says, cues fit."""
from __future__ import annotations

import io
import subprocess
from functools import lru_cache

import pytest
import soundfile
import yaml

from voicecoach import timeline
from voicecoach import routines as routine
from voicecoach.routines import safety
from voicecoach.sounds import builtin_dir

# The timed work of every built-in routine (holds and rests, sides and repeats
# unrolled), in seconds. The guide fixes most of these; the rest are chosen and
# explained in each file's header comment.
TIMED = {
    "morning": 180,
    "psoas-release": 300,
    "quad-sweep": 120,
    "kd4": 70,
    "leg-pull": 65,
    "muscle-shortening": 180,
    "kneeling-lunge": 60,
    "couch-stretch": 60,
    "thomas-test": 60,
    "daily": 190,
    "sunday": 610,
    "desk-break": 170,
    "athlete-recovery": 360,
    "gentle-start": 210,
}
PRESSURE = {"morning", "psoas-release", "quad-sweep", "kd4", "leg-pull", "daily", "sunday",
            "athlete-recovery", "gentle-start"}
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
RATE = 22050


def test_every_builtin_is_listed_here():
    assert sorted(routine.builtin_ids()) == sorted(TIMED)


@pytest.mark.parametrize("rid", sorted(TIMED))
def test_timed_total(rid):
    assert routine.timed_seconds(routine.load(rid)) == TIMED[rid]


@pytest.mark.parametrize("rid", sorted(TIMED))
def test_spoken_frame(rid):
    r = routine.load(rid)
    assert r.description and r.intro and r.outro
    assert r.safety == (rid in PRESSURE)


@pytest.mark.parametrize("rid", sorted(TIMED))
def test_file_starts_with_a_comment_naming_it(rid):
    first = (routine.library_dir() / f"{rid}.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# ") and f"`{rid}`" in first


def test_morning_follows_the_guide():
    steps = routine.expand(routine.load("morning"))
    assert [(s.name, s.side, s.duration) for s in steps] == [
        ("Standing hip circles", None, 30),
        ("Tennis ball psoas release", "right", 60),
        ("Tennis ball psoas release", "left", 60),
        ("Deep belly breathing", None, 30),
    ]


def test_schedule_names_builtins_for_every_day():
    data = yaml.safe_load((routine.library_dir() / "schedule.yaml").read_text(encoding="utf-8"))
    assert tuple(data["days"]) == DAYS
    for day, ids in data["days"].items():
        assert ids and set(ids) <= set(TIMED), day
    plan = data["days"]
    assert "psoas-release" in plan["monday"] and "psoas-release" in plan["thursday"]
    assert plan["sunday"] == ["sunday"]
    assert all("daily" in plan[d] for d in DAYS if d != "sunday")


# -- every cue fits with real speech --------------------------------------------

@lru_cache(maxsize=None)
def _speech_samples(text: str, wpm: int) -> int:
    wav = subprocess.run(["espeak-ng", "-v", "en-us", "-s", str(wpm), "--stdout", text],
                         capture_output=True, check=True).stdout
    info = soundfile.info(io.BytesIO(wav))
    return round(info.frames * RATE / info.samplerate)


@pytest.mark.parametrize("wpm", [140, 175])
@pytest.mark.parametrize("rid", sorted(TIMED))
def test_compiles_with_real_speech(rid, wpm):
    """A slow and a brisk voice: every cue fits before the countdown and no cues overlap."""
    r = routine.load(rid)
    options = timeline.Options(sample_rate=RATE, safety_text=safety.SHORT_REMINDER)
    speech = {t: _speech_samples(t, wpm) for t in timeline.phrases(r, options)}
    sounds = {p.stem: soundfile.info(str(p)).frames for p in builtin_dir().glob("*.wav")}
    tl = timeline.compile(r, speech, sounds, options)
    assert tl.timed_samples == TIMED[rid] * RATE
