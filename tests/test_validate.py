"""`voicecoach validate` and the loader behind it: every problem of a file in one pass, YAML types named in
words, intervals too short for their own chimes, includes kept to the folders they may come from."""
from __future__ import annotations

from pathlib import Path

import pytest
import soundfile
from typer.testing import CliRunner

from voicecoach import routines as rt
from voicecoach import sounds
from voicecoach.cli import app
from voicecoach.errors import RoutineError
from voicecoach.session import estimated_timeline, options

runner = CliRunner()
DURATION_HELP = "expected a duration like 30, 2.5, '90s', '2m', '1m30s', '1.5m' or '1:30'"


def chime(name: str) -> float:
    """A built-in sound's length in seconds, read from its file (not from voicecoach's loader)."""
    info = soundfile.info(str(sounds.builtin_dir() / f"{name}.wav"))
    return info.frames / info.samplerate


def validate(folder: Path, name: str, text: str) -> tuple[int, list[str], str]:
    (folder / name).write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["validate", str((folder / name).relative_to(Path.cwd()))])
    return result.exit_code, result.stderr.splitlines(), result.stdout


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOICECOACH_ROUTINES", str(tmp_path / "mine"))
    return tmp_path


def test_every_problem_of_a_file_is_one_line_and_yaml_types_are_named_in_words(here):
    code, lines, _ = validate(here, "evening.yaml", """\
title: Evening
countdown: three
steps:
  - name: a
    duration: [1, 2]
  - name: b
    duration: true
  - name: c
    duration: null
  - name: d
    duration: 30s
    countdown: {ticks: 3}
  - name: e
    duraton: 30s
    prep: yes
""")
    assert code == 1
    assert lines == [
        "evening.yaml:2:12: expected a whole number from 0 to 60 for countdown (ticks in the last seconds), "
        "found the text 'three'",
        f"evening.yaml:5:15: 'duration': {DURATION_HELP}, found a list",
        f"evening.yaml:7:15: 'duration': {DURATION_HELP}, found true (a boolean)",
        f"evening.yaml:9:15: 'duration': {DURATION_HELP}, found null (empty)",
        "evening.yaml:12:16: expected a whole number from 0 to 60 for countdown (ticks in the last seconds), "
        "found a mapping",
        "evening.yaml:14:5: unknown key 'duraton' in a step; did you mean 'duration'? expected one of: name, "
        "duration, say, prep, cues, halfway, breathe, countdown, sides, repeat, rest",
        f"evening.yaml:15:11: 'prep': {DURATION_HELP}, found true (a boolean)",
    ]


def test_cues_that_cannot_fit_are_all_reported_not_only_the_first(here):
    long = "This sentence is far too long to say in the few seconds that are left before the countdown."
    code, lines, _ = validate(here, "cues.yaml", f"""\
title: Cues
steps:
  - name: a
    duration: 10s
    cues:
      - {{at: 5s, say: {long}}}
  - name: b
    duration: 10s
    cues:
      - {{at: 40s, say: Late.}}
""")
    assert code == 1
    assert [line.split(": ")[0] for line in lines] == ["cues.yaml:6:9", "cues.yaml:10:9"]
    assert "would run past the countdown" in lines[0] and "falls outside the 10 s interval" in lines[1]


def test_an_interval_shorter_than_the_chime_that_opens_it_is_refused_with_the_minimum(here):
    bell, double, complete = chime("bell"), chime("bell-double"), chime("complete")
    code, lines, _ = validate(here, "short.yaml", """\
title: Short
steps:
  - {name: a, duration: 0.001s}
  - {name: b, duration: 2, repeat: 2, rest: 0.5s}
""")
    assert code == 1
    assert lines == [
        f"short.yaml:3:25: 'duration': 0.001 s is too short to hold the {bell:g} s start chime before the next "
        f"chime rings; expected at least {bell:g} s (see 'Minimum length' in the routine format)",
        f"short.yaml:4:45: 'rest': 0.5 s is too short to hold the {double:g} s end chime that opens a rest before "
        f"the next chime rings; expected at least {double:g} s (see 'Minimum length' in the routine format)",
    ]
    # the minimum follows the routine's own chime, and the exact minimum is allowed
    code, lines, _ = validate(here, "long-chime.yaml", f"title: L\nchimes: {{start: complete}}\nsteps:\n"
                                                       f"  - {{name: a, duration: {complete - 0.1:g}}}\n")
    assert code == 1 and f"the {complete:g} s start chime" in lines[0]
    code, lines, out = validate(here, "exact.yaml", f"title: E\nsteps:\n  - {{name: a, duration: {bell:g}}}\n")
    assert (code, lines) == (0, []) and out.startswith("exact.yaml: ok")


@pytest.mark.parametrize("rid", rt.builtin_ids())
def test_built_ins_pass_and_still_compile_scaled_far_below_the_minimum(rid):
    routine = rt.load(rid)  # the check is on the routine as written
    timeline = estimated_timeline(routine, options(scale=0.05))  # --scale 0.05 plays as before: no error
    assert len(timeline.steps) == len(rt.expand(routine))


def test_include_outside_the_allowed_folders_is_one_line_naming_them(here):
    (here / "other.yaml").write_text("title: O\nsteps: [{name: x, duration: 5}]\n")
    (here / "sub").mkdir()
    code, lines, _ = validate(here / "sub", "inc.yaml", "title: I\nsteps:\n  - include: ../other.yaml\n"
                                                         "  - include: /etc/passwd\n")
    assert code == 1
    allowed = f"expected a built-in id, or a file inside this routine's folder ({here / 'sub'}) or your " \
              f"routine folder ({here / 'mine'})"
    assert lines == [f"sub/inc.yaml:3:14: cannot include '../other.yaml': {allowed}",
                     f"sub/inc.yaml:4:14: cannot include '/etc/passwd': {allowed}"]


def test_include_inside_the_folder_tree_or_the_user_folder_is_followed(here):
    (here / "mine").mkdir()
    (here / "mine" / "theirs.yaml").write_text("title: T\nsteps: [{name: t, duration: 5}]\n")
    (here / "parts").mkdir()
    (here / "parts" / "p.yaml").write_text("title: P\nsteps: [{name: p, duration: 5}]\n")
    (here / "r.yaml").write_text(f"title: R\nsteps:\n  - include: parts/p.yaml\n"
                                 f"  - include: {here / 'mine' / 'theirs.yaml'}\n  - include: kd4\n")
    names = [s.name for s in rt.load_file(here / "r.yaml").steps]
    assert names[:2] == ["p", "t"] and len(names) == 2 + len(rt.load("kd4").steps)


def test_an_included_file_that_is_no_routine_is_quoted_in_one_short_line(here):
    (here / "notes.yaml").write_text("root:x:0:0:root:/root:/bin/bash\n" * 40 + "a line\n" * 100)
    (here / "text.yaml").write_text("just some words\n" + "more words on another line\n" * 50)
    for name in ("notes.yaml", "text.yaml"):
        (here / "r.yaml").write_text(f"title: R\nsteps:\n  - include: {name}\n")
        with pytest.raises(RoutineError) as caught:
            rt.load_file(here / "r.yaml")
        message = str(caught.value)
        assert message.startswith(f"{here / name}:1:1: expected a routine (a mapping with 'title' and 'steps'), "
                                  "found the text '"), message
        assert len(message.split("found the text ")[1]) <= 62  # the excerpt: 60 characters and its quotes


README = Path(__file__).resolve().parent.parent / "README.md"
# The evening.yaml behind the README's two `validate` runs: first with four mistakes, then with a cue too long.
EVENING = ("""\
title: Evening
steps:
  - name: Knee hug
    duraton: 30s
  - name: Belly breathing
    duration: [1, 2]
    countdown: three
  - name: Ball release
    duration: 0.5s
""", """\
title: Evening
steps:
  - name: Knee hug
    duration: 30s
  - name: Ball release
    duration: 20s
    cues:
      - {at: 15s, say: Keep your lower back on the floor and breathe slowly.}
""")


def test_the_readme_validate_example_is_real_output(here):
    section = README.read_text(encoding="utf-8").split("## Writing your own routines", 1)[1]
    block = section.split("```console\n", 1)[1].split("```", 1)[0]
    runs = [run.strip("\n").splitlines() for run in block.split("$ voicecoach validate evening.yaml")[1:]]
    assert len(runs) == len(EVENING)
    for text, shown in zip(EVENING, runs):
        code, lines, _ = validate(here, "evening.yaml", text)
        assert (code, lines) == (1, shown)


def test_long_words_an_author_wrote_are_cut_to_one_short_line_in_every_message(here):
    words = "Keep breathing slowly and evenly " * 12  # about 400 characters, far too long to fit
    code, lines, _ = validate(here, "long.yaml", f"title: L\nsteps:\n  - name: a\n    duration: 20s\n    cues:\n"
                                                 f"      - {{at: 2s, say: {words.strip()}}}\n"
                                                 f"  - {{name: b, duration: '{words}'}}\n")
    assert code == 1 and len(lines) == 1  # the duration first; the cue is checked once the file loads
    assert lines[0] == (f"long.yaml:7:25: 'duration': {DURATION_HELP}, "
                        f"found '{words[:37]}...'")
    code, lines, _ = validate(here, "long.yaml", f"title: L\nsteps:\n  - name: a\n    duration: 20s\n    cues:\n"
                                                 f"      - {{at: 2s, say: {words.strip()}}}\n")
    assert code == 1 and len(lines) == 1
    assert lines[0].startswith(f"long.yaml:6:9: the cue '{words[:77]}...' takes ")
