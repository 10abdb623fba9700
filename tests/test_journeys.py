"""User journeys: the README's commands and the paths of issue 24, run end to end as a person runs them.

Every journey starts from a fresh home folder and runs the installed `voicecoach`
command (see tests/support/journey.py): on a pseudo-terminal where a person
watches the panel and presses keys, through the private sound server and
session bus where it plays, with folders that cannot be written, and with the
signals a closed terminal or `kill` sends. What is checked is what the person
notices: exit codes as their shell shows them, the lines that appear (loose
patterns where the wording is not the point), never a traceback, what the
history holds and whether their music came back.

Each journey of issue 24's paths failed against the code before its fix
(they were written first, as strict xfails, and the marks went with the fixes).
"""
from __future__ import annotations

from datetime import date

import pytest

from support.journey import (ClipPool, Expect, Journey, Key, Meanwhile, OnBus, OtherIs, Playerctl, Probe, Signal,
                             Sleep, Step, run)

# Two short routines of the user's own, and a schedule giving every day both (so `voicecoach`
# alone has a two-routine plan whatever the date); lead_in 0 so a session starts at once.
WALL_LEAN = """\
title: Wall Lean
safety: false
countdown: 2
steps:
  - name: Lean
    duration: 8s
    prep: 0.5s
  - name: Stand
    duration: 2s
    prep: 0.5s
"""
FLOOR_REACH = """\
title: Floor Reach
safety: false
countdown: 2
steps:
  - name: Reach
    duration: 4s
    prep: 0.5s
"""
EVERY_DAY_TWO = "days:\n" + "".join(f"  {day}: [wall-lean, floor-reach]\n" for day in
                                    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
TWO_ROUTINE_HOME = {"config/routines/wall-lean.yaml": WALL_LEAN, "config/routines/floor-reach.yaml": FLOOR_REACH,
                    "config/schedule.yaml": EVERY_DAY_TWO, "config/config.yaml": "lead_in: 0\n"}
# The README's mistake, as a person makes it: `duraton` for `duration`.
EVENING_TYPO = """\
title: Evening
steps:
  - name: Knee hug
    duraton: 30s
"""

ANSWER_SAFETY = (Expect(r"Do you confirm"), Key("y\n"))  # a fresh home asks once, on a terminal
QUICK = ("--lead-in", "0", "--no-safety")
QUICKER = (*QUICK, "--scale", "0.05", "--rate", "500")  # a built-in routine in under a minute
TODAY = date.today().strftime("%A")


def vc(*args: str, **expected) -> Step:
    return Step(tuple(args), **expected)


def journey(name: str, *steps: Step, slow: bool = False, **setup) -> pytest.param:
    """A row of the table; a journey through the sound server is `audio` and `slow`."""
    marks = [pytest.mark.audio, pytest.mark.slow] if setup.get("sound") else [pytest.mark.slow] if slow else []
    return pytest.param(Journey(tuple(steps), **setup), id=name, marks=marks)


JOURNEYS = [
    # ---------------------------------------------------------------- the README, as a new user runs it
    journey("readme-list",
            vc("list", out=(r"^kd4\s+1:10  KD 4 Acupressure Point$",
                            r"^morning\s+3:00  3-Minute Morning Pain Prevention Routine$",
                            r"^sunday\s+10:10  Sunday Full Routine$"),
               rows=((r"^\S+\s+\d+:\d\d  ", 14),), err_lines=0)),
    journey("readme-show-morning",
            vc("show", "morning", out=(r"^3-Minute Morning Pain Prevention Routine$",
                                       r"^  1\. Standing hip circles\s+0:30$",
                                       r"^  2\. Tennis ball psoas release \(right\)\s+1:00$",
                                       r"^  3\. Tennis ball psoas release \(left\)\s+1:00$",
                                       r"^  4\. Deep belly breathing\s+0:30$",
                                       r"^timed total: 3:00$", r"^total with announcements: \d+:\d\d$")),
            slow=True),  # the first to speak morning: about 10 s of espeak-ng
    journey("readme-first-session",
            vc("history", out=(r"^days practiced: 0$", r"^sessions:\s+0 \(0 finished\)$")),
            # without a session bus, --verbose says why in one line
            vc("--verbose", "play", "morning", "--scale", "0.05", "--lead-in", "0", "--rate", "500", tty=True,
               heard=True, actions=(*ANSWER_SAFETY, Expect(r"Step 1 of 4: Standing hip circles"),
                                    Expect(r"keys: space pause · n next · b restart step · q quit")),
               out=(r"^Finished 3-Minute Morning Pain Prevention Routine \(\d+:\d\d\)\.$",),
               err=(r"^\s*MPRIS off: no session bus",), err_lines=1),
            vc("history", out=(r"^days practiced: 1$", r"^sessions:\s+1 \(1 finished\)$")),
            # the question was answered once; a routine of one's own plays by its name
            vc("play", "wall-lean", tty=True, actions=(Expect(r"Step 1 of 2: Lean"),), absent=(r"Do you confirm",),
               out=(r"^Finished Wall Lean \(\d+:\d\d\)\.$",)),
            files=TWO_ROUTINE_HOME, sound=True,
            history=({"routine": "morning", "finished": True}, {"routine": "wall-lean", "finished": True})),
    journey("readme-export-mp3",
            vc("export", "morning", "-o", "morning.mp3", "--subtitles", "morning.vtt", "--timeline", "morning.json",
               "--scale", "0.05", out=(r"^wrote morning\.mp3 \(\d+:\d\d, 4 chapters\)$",), err_lines=0),
            probes=(Probe("work/morning.mp3", chapters=4, true_peak_below=-1.0), Probe("work/morning.vtt", 0, starts_with=b"WEBVTT\n"),
                    Probe("work/morning.json", 0, starts_with=b"{"))),
    journey("readme-today-date",
            vc("today", "--date", "2026-11-30", out=(r"\AMonday 2026-11-30: 8:10 timed\n"
                                                     r"  daily            3:10  Daily Hip Care\n"
                                                     r"  psoas-release    5:00  Deep Psoas Release\n\Z",))),
    journey("readme-week",
            vc("week", out=(r"^Monday     daily \+ psoas-release   8:10", r"^Sunday     sunday\s+10:10",
                            rf"^{TODAY}\s.*  <- today$"),
               rows=((r"^(Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\s", 7), (r"<- today$", 1)))),
    journey("readme-validate-a-mistake",
            vc("validate", "evening.yaml", code=1, err_lines=1,
               err=(r"^evening\.yaml:\d+:\d+: unknown key 'duraton' in a step; did you mean 'duration'\?",)),
            files={"work/evening.yaml": EVENING_TYPO}),
    journey("readme-new-then-list",
            vc("new", "evening", out=(r"evening\.yaml",)),
            vc("list", rows=((r"^evening\s", 1), (r"^\S+\s+\d+:\d\d  ", 15))),
            vc("validate", "{config}/routines/evening.yaml", out=(r": ok \(",))),
    journey("readme-safety",
            vc("safety", out=(r"(?i)numbness", r"(?i)professional"), err_lines=0)),
    journey("readme-backgrounds",
            vc("backgrounds", out=(r"^rain\s+\d+ s loop", r"^ocean\s+\d+ s loop", r"^pad\s+\d+ s loop",
                                   r"--background"))),
    journey("readme-no-sound-device",
            vc("play", "morning", "--no-safety", code=3, err_lines=1,
               err=(r"^voicecoach: no audio device or sound server could be opened .*`voicecoach export`",))),
    journey("readme-pause-others",
            vc("play", "wall-lean", "--pause-others", heard=True,
               actions=(OnBus(), OtherIs("Paused")), out=(r"^Finished Wall Lean \(\d+:\d\d\)\.$",)),
            files=TWO_ROUTINE_HOME, sound=True, other_player=True, other_after="Playing",
            history=({"routine": "wall-lean", "finished": True},)),

    # ---------------------------------------------------------------- issue 24, item 1: stop means stop
    journey("q-ends-todays-plan",
            vc(tty=True, actions=(*ANSWER_SAFETY, Expect(r"Step 1 of 2: Lean"), Sleep(1.0), Key("q")), within=15,
               out=(r"(?i)routine 1 of 2|1 of 2 routines",), absent_after=(r"Floor Reach",)),
            files=TWO_ROUTINE_HOME, sound=True, history=({"routine": "wall-lean", "finished": False},)),
    journey("q-ends-today-play",
            vc("today", "--play", "--date", "2026-11-30", tty=True, within=15,
               actions=(*ANSWER_SAFETY, Expect(r"Step 1 of 2: Lean"), Sleep(1.0), Key("q")),
               absent_after=(r"Floor Reach",)),
            files=TWO_ROUTINE_HOME, sound=True, history=({"routine": "wall-lean", "finished": False},)),
    journey("mpris-stop-ends-today-play",
            vc("today", "--play", "--date", "2026-11-30", within=15,
               actions=(OnBus(), Sleep(2.0), Playerctl(("stop",))), absent_after=(r"Floor Reach",)),
            files=TWO_ROUTINE_HOME, sound=True, bus=True, history=({"routine": "wall-lean", "finished": False},)),

    # ---------------------------------------------------------------- item 2: --from counts the real steps
    journey("from-3-counts-the-routines-steps",
            vc("play", "morning", "--from", "3", *QUICKER, tty=True,
               actions=(*ANSWER_SAFETY, Expect(r"Step 3 of 4", timeout=40), Key("n"), Expect(r"Step 4 of 4"),
                        Key("q")),
               absent=(r"Step \d of [^4]",)),
            vc("play", "morning", "--from", "2", *QUICKER, tty=True, actions=(Expect(r"Step 2 of 4", timeout=40),
                                                                            Key("q")),
               absent=(r"Step \d of [^4]",)),
            sound=True),

    # ---------------------------------------------------------------- item 3: a read-only home never crashes
    journey("read-only-cache-plays-with-one-warning",
            vc("play", "wall-lean", "--no-safety", heard=True, err_lines=1, err=(r"(?i)cache",),
               out=(r"^Finished Wall Lean",)),
            files=TWO_ROUTINE_HOME, readonly=("cache",), sound=True),
    journey("read-only-cache-exports-with-one-warning",
            vc("export", "thomas-test", "-o", "thomas.wav", "--scale", "0.05", err_lines=1, err=(r"(?i)cache",),
               out=(r"^wrote thomas\.wav",)),
            readonly=("cache",), slow=True),
    journey("read-only-config-new-is-one-line",
            vc("new", "foo", code=1, err_lines=1, err=(r"^voicecoach: ",)),
            readonly=("config",)),
    journey("unwritable-history-finishes-then-warns",
            vc("play", "wall-lean", "--no-safety", heard=True, err_lines=1, err=(r"(?i)history",),
               out=(r"^Finished Wall Lean",)),
            files=TWO_ROUTINE_HOME, readonly=("data",), sound=True),

    # ---------------------------------------------------------------- item 4: a closed terminal or kill
    *(journey(f"{name}-during-pause-others-resumes-the-music",
              vc("play", "kd4", *QUICK, "--pause-others", code=code, within=15,
                 actions=(OnBus(), OtherIs("Paused"), Sleep(1.0), Signal(name.removeprefix("sig").upper()))),
              sound=True, other_player=True, other_after="Playing",
              history=({"routine": "kd4", "finished": False},))
      for name, code in (("sigterm", 143), ("sighup", 129))),

    # ---------------------------------------------------------------- item 5: one row per routine id
    journey("new-kd4-never-lists-two-kd4",
            vc("new", "kd4", code=None),
            vc("list", rows=((r"^kd4\s", 1),))),

    # ---------------------------------------------------------------- item 10, as far as the CLI shows it
    journey("a-second-play-gets-one-clear-line",
            vc("play", "kd4", *QUICK, tty=True,
               actions=(*ANSWER_SAFETY, Expect(r"Step 1 of"),
                        Meanwhile(vc("play", "kd4", *QUICK, code=None, within=20, err_lines=1,
                                     err=(r"(?i)already|another|in use|busy",))),
                        Key("q"))),
            sound=True),
    journey("quit-says-how-to-go-on",
            vc("play", "morning", "--from", "2", *QUICKER, tty=True,
               actions=(*ANSWER_SAFETY, Expect(r"Step 2 of \d", timeout=40), Key("q")),
               out=(r"^Quit after \d+:\d\d of \d+:\d\d", r"--from \d")),
            sound=True),
    journey("export-never-overwrites-silently",
            vc("export", "kd4", "-o", "kd4.mp3", "--scale", "0.05", out=(r"^wrote kd4\.mp3",)),
            vc("export", "kd4", "-o", "kd4.mp3", "--scale", "0.05", code=1, err_lines=1,
               err=(r"(?i)--force|exists",)),
            slow=True),
    journey("mp3-chapters-in-step-order",
            vc("export", "kd4", "-o", "kd4.mp3", "--scale", "0.05"),
            probes=(Probe("work/kd4.mp3", chapters=4, titles=("KD 4 point (right)", "Kick back (right)",
                                                              "KD 4 point (left)", "Kick back (left)")),)),
    journey("a-bad-subtitles-path-writes-nothing",
            vc("export", "kd4", "-o", "kd4.mp3", "--subtitles", "nowhere/kd4.vtt", "--scale", "0.05", code=1,
               err_lines=1, err=(r"nowhere",)),
            missing=("work/kd4.mp3",)),
    journey("one-step-is-one-chapter",
            vc("export", "floor-reach", "-o", "floor.mp3", out=(r"^wrote floor\.mp3 \(\d+:\d\d, 1 chapter\)$",)),
            files=TWO_ROUTINE_HOME, probes=(Probe("work/floor.mp3", chapters=1),)),
    journey("an-output-in-proc-names-the-real-problem",
            vc("export", "kd4", "-o", "/proc/kd4.mp3", "--scale", "0.05", code=1, err_lines=1,
               err=(r"^voicecoach: .*/proc",), absent=(r"(?i)no such file",))),
    journey("show-suggests-the-routine-meant",
            vc("show", "psoas", code=1, err_lines=1, err=(r"(?i)did you mean\W+psoas-release",))),
]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> ClipPool:
    """Speech clips shared by the journeys in this file (a journey about the cache starts without them)."""
    return ClipPool(tmp_path_factory.mktemp("clips"))


@pytest.mark.parametrize("trip", JOURNEYS)
def test_journey(trip: Journey, tmp_path, clips, request):
    sound = None
    if trip.sound:
        sound = request.getfixturevalue("pulse_server")
        if sound.death():  # as conftest's pulse_server_running does for a test that names the fixture
            sound.restart()
    failures, transcripts = run(trip, tmp_path, sound, clips)
    assert not failures, "\n".join(failures) + "\n\n" + transcripts
