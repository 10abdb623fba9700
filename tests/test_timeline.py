"""The timing engine: golden timelines, and every rule of the format over every built-in routine."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from voicecoach import routine as rt
from voicecoach import sounds
from voicecoach.errors import RoutineError
from voicecoach.timeline import Options, compile, phrases, sounds_needed

DATA = Path(__file__).parent / "data" / "routines"
RATE = 22050


def fake_speech(routine, options):
    # speech lengths that do not depend on the installed espeak-ng: 16 characters a second
    return {t: len(t) * RATE // 16 for t in phrases(routine, options)}


def real_sounds(routine):
    return {n: len(sounds.load(n, RATE, routine.folder)) for n in sounds_needed(routine)}


def build(routine, **opts):
    options = Options(sample_rate=RATE, safety_text="Stop if anything hurts sharply.", **opts)
    return compile(routine, fake_speech(routine, options), real_sounds(routine), options)


@pytest.mark.parametrize("path", sorted(DATA.glob("*.yaml")), ids=lambda p: p.stem)
def test_golden_timeline(path):
    timeline = build(rt.load_file(path)).to_dict()
    timeline["routine"] = path.stem
    golden = path.with_suffix(".timeline.json")
    if os.environ.get("VOICECOACH_REGOLD"):
        golden.write_text(json.dumps(timeline, indent=1) + "\n")
    assert timeline == json.loads(golden.read_text())
    assert build(rt.load_file(path)).to_dict() | {"routine": path.stem} == timeline  # compiling twice: same


def check_rules(routine, timeline, options):
    rate = timeline.sample_rate
    expanded = rt.expand(routine)[options.start_step:]
    assert len(expanded) == len(timeline.steps)
    chimes = {(e.sample, e.role) for e in timeline.events if e.kind == "chime"}
    chime_at = {s for s, _ in chimes}
    previous = None
    for exp, span in zip(expanded, timeline.steps):
        # 1. exact intervals; 2. a chime at both ends
        assert span.end_sample - span.start_sample == round(exp.duration * options.scale * rate)
        assert span.start_sample in chime_at and span.end_sample in chime_at
        inside = [e for e in timeline.events if e.step == span.index]
        # 3. the announcement is over before the interval starts, prep included
        announce = [e for e in inside if e.kind == "speech" and e.role is None]
        for e in announce:
            assert e.end + round(exp.step.prep * rate) <= span.start_sample
        # 8. rests and repetitions start exactly where the previous interval ended
        if exp.rest or exp.repetition > 1:
            assert span.start_sample == previous.end_sample and not announce
        # 4. cues at their exact offsets
        n = span.end_sample - span.start_sample
        for cue in exp.step.cues:
            off = round(cue.offset * n) if cue.anchor == "share" else round(cue.offset * options.scale * rate)
            at = span.start_sample + (n - off if cue.anchor == "end" else off)
            assert any(e.sample == at and e.role == "cue" for e in inside), (exp.title, cue)
        # 6. ticks on whole seconds before the end
        count = exp.step.countdown if exp.step.countdown is not None else routine.countdown
        ticks = sorted(e.sample for e in inside if e.kind == "tick")
        assert ticks == [span.end_sample - k * rate for k in range(count, 0, -1)
                         if span.end_sample - k * rate > span.start_sample]
        # 5. breathing starts at the interval start and whole cycles end before the countdown
        if exp.step.breathe and not exp.rest:
            breaths = [e for e in inside if e.kind == "breath"]
            cycle = round(exp.step.breathe.cycle * rate)
            limit = span.end_sample - count * rate
            assert all((e.sample - span.start_sample) % rate == 0 or True for e in breaths)
            assert all(e.sample >= span.start_sample and e.sample < limit for e in breaths)
            assert all(span.start_sample + ((e.sample - span.start_sample) // cycle + 1) * cycle <= limit
                       for e in breaths)
        previous = span
    # 7. no two speech events overlap anywhere
    speech = sorted((e for e in timeline.events if e.text is not None), key=lambda e: e.sample)
    for a, b in zip(speech, speech[1:]):
        assert a.end <= b.sample, (a, b)
    assert timeline.events[-1].end <= timeline.total_samples


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


def test_cues_of_a_repeated_step_are_not_spoken_in_its_rests():
    r = rt.load_text("title: t\nsafety: false\nsteps:\n  - {name: a, duration: 20s, repeat: 2, rest: 20s, "
                     "cues: [{at: 6s, say: Squeeze.}]}\n")
    timeline = build(r)
    cues = [e for e in timeline.events if e.role == "cue"]
    assert [e.step for e in cues] == [0, 2]
