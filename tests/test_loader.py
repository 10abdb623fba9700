"""The routine loader: every class of bad input gives one located line; good input loads as written."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voicecoach import routines as rt
from voicecoach.cli import app
from voicecoach.errors import RoutineError, SettingError

BAD_DIR = Path(__file__).parent / "data" / "bad"
BAD = [
    ('baddur.yaml', "baddur.yaml:4:15: 'duration': expected a duration like 30, 2.5, '90s', '2m', '1m30s', '1.5m' or '1:30', found '30 sec'"),
    ('bomb.yaml', 'bomb.yaml:1:4: holds more than 20000 values (an alias bomb?); expected a routine'),
    ('cycle-a.yaml', 'cycle-b.yaml:3:14: include cycle: cycle-a.yaml -> cycle-b.yaml -> cycle-a.yaml'),
    ('dup.yaml', "dup.yaml:2:1: duplicate key 'title'; each key may appear once"),
    ('empty.yaml', "empty.yaml:1:1: the file is empty; expected a routine with 'title' and 'steps'"),
    ('escape.yaml', "escape.yaml:6:26: sound file '../../etc/passwd' is outside the routine's folder:"),
    ('inc404.yaml', "inc404.yaml:3:14: no built-in routine 'nosuch' to include; expected a path ending in .yaml or one of: athlete-recovery, couch-stretch, daily, desk-break, gentle-start, kd4, kneeling-lunge, leg-pull, morning, muscle-shortening, psoas-release, quad-sweep, sunday, thomas-test"),
    ('latin1.yaml', 'latin1.yaml:1:11: is not UTF-8 text (byte 0xe9); save the file as UTF-8'),
    ('list.yaml', "list.yaml:1:1: expected a routine (a mapping with 'title' and 'steps'), found a list"),
    ('neg.yaml', "neg.yaml:4:15: 'duration': expected a duration above zero, found -5"),
    ('nofit.yaml', "nofit.yaml:6:9: the cue 'This is a very long sentence that will not fit in the time that is left.' takes 5.5 s to say from 5.0 s and would run past the countdown at 7.0 s of this 10 s interval; say it earlier or shorten it"),
    ('nosteps.yaml', 'nosteps.yaml:2:8: expected a list of at least one step, found an empty list'),
    ('notitle.yaml', "notitle.yaml:1:1: missing 'title': expected the routine's title, e.g. 'title: Morning routine'"),
    ('outside.yaml', 'outside.yaml:6:9: this cue at 40 s falls outside the 30 s interval; expected an offset inside it'),
    ('overlap.yaml', "overlap.yaml:7:9: the cue 'Overlap.' at 11 s overlaps the cue 'A rather long sentence to say here.', which lasts until 12.7 s; cues may not overlap, so move one of them"),
    ('pytag.yaml', 'pytag.yaml:1:8: the tag !!python/object/apply:os.system is not allowed; a routine holds only plain YAML: text, numbers, true/false, lists and mappings'),
    ('rest.yaml', "rest.yaml:5:5: 'rest' needs 'repeat' of 2 or more: it is the pause between repetitions"),
    ('sides.yaml', "sides.yaml:5:12: expected a list of side names, e.g. 'sides: [right, left]'"),
    ('syntax.yaml', "syntax.yaml:5:4: invalid YAML: expected <block end>, but found '<block mapping start>' (check the indentation)"),
    ('typo.yaml', "typo.yaml:4:5: unknown key 'durration' in a step; did you mean 'duration'? expected one of: name, duration, say, prep, cues, halfway, breathe, countdown, sides, repeat, rest"),
    ('zero.yaml', "zero.yaml:4:15: 'duration': expected a duration above zero, found '0s'"),
]


@pytest.mark.parametrize("name,expected", BAD)
def test_bad_routine_gives_one_located_line(name, expected, monkeypatch):
    monkeypatch.chdir(BAD_DIR)
    result = CliRunner().invoke(app, ["validate", name])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(expected) if name == "escape.yaml" else lines[0] == expected
    assert "Traceback" not in result.output + result.stderr


def test_every_bad_file_is_covered():
    covered = {name for name, _ in BAD} | {"cycle-b.yaml"}
    assert covered == {p.name for p in BAD_DIR.glob("*.yaml")}


def test_python_tag_constructs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evil.yaml").write_text(
        'title: !!python/object/apply:os.system ["touch pwned"]\nsteps: [{name: a, duration: 5}]\n')
    with pytest.raises(RoutineError):
        rt.load_file(tmp_path / "evil.yaml")
    assert not (tmp_path / "pwned").exists()


def test_alias_bomb_is_refused_within_a_second():
    began = time.perf_counter()
    with pytest.raises(RoutineError, match="alias bomb"):
        rt.load_file(BAD_DIR / "bomb.yaml")
    assert time.perf_counter() - began < 1.0


def test_missing_file_is_one_line():
    result = CliRunner().invoke(app, ["validate", "no/such/routine.yaml"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "no/such/routine.yaml:1:1: no such file"


def test_unknown_routine_name_suggests_close_builtin():
    result = CliRunner().invoke(app, ["show", "mornin"])
    assert result.exit_code == 1
    assert result.stderr.startswith("voicecoach: no routine 'mornin' (did you mean 'morning'?)")


@pytest.mark.parametrize("start, problem", [
    ("9", "this routine has steps 1 to 4"),
    ("lunge", "no step starts with that; steps: KD 4 point (right); Kick back (right); KD 4 point (left); "
              "Kick back (left)"),
])
def test_a_start_step_not_in_the_routine_is_said_in_the_librarys_words_and_the_cli_names_its_option(start, problem):
    with pytest.raises(SettingError) as caught:
        rt.pick_step(rt.load("kd4"), start)
    assert str(caught.value) == f"start {start!r}: {problem}"  # what a Python caller reads: no option in it
    result = CliRunner().invoke(app, ["play", "kd4", "--from", start])  # refused before a device is opened
    assert (result.exit_code, result.stderr) == (1, f"voicecoach: --from {start!r}: {problem}\n")


def test_validate_reports_each_file_and_fails_if_any_is_bad(monkeypatch):
    monkeypatch.chdir(BAD_DIR)
    good = rt.library_dir() / "morning.yaml"
    result = CliRunner().invoke(app, ["validate", str(good), "typo.yaml", "zero.yaml"])
    assert result.exit_code == 1
    assert f"{good}: ok" in result.stdout
    assert len(result.stderr.strip().splitlines()) == 2


def test_every_field_loads_as_written(tmp_path):
    (tmp_path / "part.yaml").write_text("title: Part\nsteps:\n  - {name: Extra, duration: '1:30'}\n")
    text = """\
title: Full
description: Every field.
intro: Hello.
outro: Bye.
safety: false
voice: {rate: 150, voice: en-us, volume: 0.8}
countdown: 5
chimes: {start: bell, end: bell-double}
steps:
  - name: Circles
    duration: 1m30s
    say: Circle on the {side} side.
    prep: 0
    halfway: Change direction.
    countdown: 2
    sides: [right, left]
    repeat: 2
    rest: 10s
    breathe: {in: 4s, hold: 1, out: 6s, hold_out: 2, spoken: 1}
    cues:
      - {at: 20s, say: Small circles.}
      - {at: -15s, sound: tick}
      - {at: 50%, say: Keep going.}
  - include: part.yaml
  - include: kd4
"""
    r = rt.load_text(text, "full.yaml", tmp_path)
    assert (r.title, r.description, r.intro, r.outro, r.safety, r.countdown) == (
        "Full", "Every field.", "Hello.", "Bye.", False, 5)
    assert r.voice == rt.VoiceSettings(voice="en-us", rate=150, volume=0.8)
    step = r.steps[0]
    assert (step.duration, step.prep, step.countdown, step.sides, step.repeat, step.rest) == (
        90.0, 0.0, 2, ("right", "left"), 2, 10.0)
    assert step.breathe.cycle == 13.0 and step.breathe.spoken == 1
    assert [(c.anchor, c.offset) for c in step.cues] == [("start", 20.0), ("end", 15.0), ("share", 0.5)]
    assert r.steps[1].name == "Extra" and r.steps[1].duration == 90.0
    assert len(r.steps) == 2 + len(rt.load("kd4").steps)
    titles = [e.title for e in rt.expand(r)][:4]
    assert titles == ["Circles (right) 1/2", "Rest (right)", "Circles (right) 2/2", "Circles (left) 1/2"]
    assert rt.timed_seconds(r) == 2 * (90 + 10 + 90) + 90 + rt.timed_seconds(rt.load("kd4"))


def test_user_folder_routine_is_found_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICECOACH_ROUTINES", str(tmp_path))
    (tmp_path / "mine.yaml").write_text("title: Mine\nsteps: [{name: a, duration: 5}]\n")
    assert rt.load("mine").title == "Mine"
    assert rt.load("morning").id == "morning"  # a built-in id still wins
