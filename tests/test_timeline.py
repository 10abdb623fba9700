"""The timing engine: golden timelines, and every rule of the format over every built-in routine."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from voicecoach import routines as rt
from voicecoach.errors import RoutineError
from voicecoach.timeline import Options, compile, phrases

from support import golden
from support.rules import check_rules, fake_speech, real_sounds, build, RATE, SAFETY_TEXT

DATA = Path(__file__).parent / "data" / "routines"


@pytest.mark.parametrize("case", golden.cases())
def test_golden_timeline(case):
    """Every sample of every built-in and test routine is where it was (regold: scripts/regold)."""
    path = golden.golden_path(case)
    assert path.exists(), f"no golden timeline for {case}: run `bash scripts/regold`, review, commit"
    timeline = golden.timeline_of(case)
    assert timeline == json.loads(path.read_text())
    assert golden.timeline_of(case) == timeline  # compiling twice: the same


@pytest.mark.parametrize("rid", rt.builtin_ids())
def test_rules_hold_for_every_builtin(rid):
    routine = rt.load(rid)
    options = Options(sample_rate=RATE, safety_text="Stop if anything hurts sharply.")
    check_rules(routine, build(routine), options)


@pytest.mark.parametrize("opts", [{"scale": 0.5}, {"lead_in": 5.0}, {"start_step": 2}, {"safety": False}])
def test_rules_hold_with_options(opts):
    routine = rt.load("morning")
    options = Options(sample_rate=RATE, safety_text="Stop if anything hurts sharply.", **opts)
    timeline = compile(routine, fake_speech(routine, options), real_sounds(routine), options)
    check_rules(routine, timeline, options)


def test_long_say_makes_the_announcement_longer_never_the_interval_shorter():
    short = rt.load_text("title: t\nsteps: [{name: a, duration: 10s, say: Go.}]\n")
    long = rt.load_text("title: t\nsteps: [{name: a, duration: 10s, say: " + "Go on and on. " * 20 + "}]\n")
    a, b = build(short).steps[0], build(long).steps[0]
    assert a.end_sample - a.start_sample == b.end_sample - b.start_sample == 10 * RATE
    assert b.start_sample > a.start_sample


def test_cue_that_cannot_fit_names_its_line():
    text = "title: t\nsteps:\n  - name: a\n    duration: 8s\n    cues:\n      - {at: 4s, say: " + "words " * 10 + "}\n"
    with pytest.raises(RoutineError) as err:
        build(rt.load_text(text, "fit.yaml"))
    assert str(err.value).startswith("fit.yaml:6:9: the cue")


def test_breath_cue_colliding_with_a_spoken_cue_is_dropped_not_moved():
    base = "title: t\nsafety: false\nsteps:\n  - name: a\n    duration: 40s\n    breathe: {in: 4s, out: 4s, spoken: 0}\n"
    plain = build(rt.load_text(base))
    cued = build(rt.load_text(base + "    cues: [{at: 8s, say: Relax your shoulders now.}]\n"))
    starts = {e.sample for e in plain.events if e.kind == "breath"}
    kept = {e.sample for e in cued.events if e.kind == "breath"}
    assert kept < starts  # some dropped ...
    assert kept <= starts  # ... and none moved


def test_placeholders_are_filled():
    r = rt.load_text("title: t\nsteps:\n  - {name: Ball, duration: 60s, sides: [right, left], "
                     "say: '{side} hip for {duration}, then {next}.'}\n")
    texts = phrases(r, Options())
    assert "right hip for 1 minute, then Ball, left side." in texts
    assert "left hip for 1 minute, then the end of the session." in texts


def test_words_that_fill_to_nothing_are_still_words_not_sounds():
    """A cue or halfway of only '{side}' on a step without sides fills to "": placed as (empty) speech."""
    r = rt.load_text("title: t\nsafety: false\nsteps:\n  - {name: a, duration: 20s, halfway: '{side}', "
                     "cues: [{at: 3s, say: '{side}'}]}\n")
    assert "" in phrases(r, Options())
    timeline = build(r)
    check_rules(r, timeline, Options(sample_rate=RATE, safety_text=SAFETY_TEXT))
    assert [(e.role, e.text, e.sound) for e in timeline.events if e.role in ("cue", "halfway")] == [
        ("cue", "", None), ("halfway", "", None)]


def test_cues_of_a_repeated_step_are_not_spoken_in_its_rests():
    r = rt.load_text("title: t\nsafety: false\nsteps:\n  - {name: a, duration: 20s, repeat: 2, rest: 20s, "
                     "cues: [{at: 6s, say: Squeeze.}]}\n")
    timeline = build(r)
    cues = [e for e in timeline.events if e.role == "cue"]
    assert [e.step for e in cues] == [0, 2]


def test_a_scaled_session_drops_cues_that_no_longer_fit_instead_of_failing():
    r = rt.load("athlete-recovery")
    full = build(r)
    quick = build(r, scale=0.05)
    assert [s.end_sample - s.start_sample for s in quick.steps] == [
        round(e.duration * 0.05 * RATE) for e in rt.expand(r)]
    assert sum(e.role == "cue" for e in quick.events) < sum(e.role == "cue" for e in full.events)
    speech = sorted((e for e in quick.events if e.text is not None), key=lambda e: e.sample)
    assert all(a.end <= b.sample for a, b in zip(speech, speech[1:]))


@pytest.mark.parametrize("level", [1, 4, 7])
def test_the_gentle_start_progression_grows_every_technique_and_keeps_the_rules(level):
    from voicecoach.routines.progression import at_level

    routine = at_level(rt.load("gentle-start"), level)
    assert {s.duration for s in routine.steps} == {min(120.0, 30.0 + 15.0 * (level - 1))}
    options = Options(sample_rate=RATE, safety_text=SAFETY_TEXT)
    check_rules(routine, compile(routine, fake_speech(routine, options), real_sounds(routine), options), options)
