"""Today's plan of several routines, played live: stop means stop for the whole plan.

`voicecoach` alone and `today --play` play the plan as one session: the panel
says which routine plays and shows the plan's time, `q` or Stop over MPRIS ends
the plan (not only the routine playing: the next one never starts), the
summary is about the plan, and the other players paused for it come back once,
at the plan's end. Real parts: the private sound server, the private session
bus, the real playerctl, a pseudo-terminal for keys.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from support.fakeplayer import FakePlayer
from support.liveplay import Terminal, confirmed_safety, heard, playerctl, wait_for_first, wait_listed
from voicecoach.duration import clock

pytestmark = [pytest.mark.audio, pytest.mark.slow]

PLAN_ONE = """\
title: Plan one
safety: false
countdown: 2
outro: Done.
steps:
  - name: Hold
    duration: 8s
    prep: 0.5s
  - name: Press
    duration: 3s
    prep: 0.5s
"""
PLAN_TWO = """\
title: Plan two
safety: false
countdown: 2
outro: Done.
steps:
  - name: Reach
    duration: 3s
    prep: 0.5s
"""
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@pytest.fixture
def plan_env(tmp_path_factory, pulse_server, session_bus):
    """A user whose schedule has two short routines of their own every day; no lead-in, on the test server and bus."""
    home = tmp_path_factory.mktemp("plan-user")
    routines = home / "routines"
    routines.mkdir()
    (routines / "plan-one.yaml").write_text(PLAN_ONE)
    (routines / "plan-two.yaml").write_text(PLAN_TWO)
    (home / "schedule.yaml").write_text("days:\n" + "".join(f"  {d}: [plan-one, plan-two]\n" for d in DAYS))
    (home / "config.yaml").write_text("lead_in: 0\n")
    return {**os.environ, **pulse_server.env, **session_bus.env,
            "VOICECOACH_CACHE_DIR": str(home / "cache"), "VOICECOACH_DATA": str(home / "data"),
            "VOICECOACH_CONFIG": str(home / "config.yaml"), "VOICECOACH_ROUTINES": str(routines),
            "VOICECOACH_SCHEDULE": str(home / "schedule.yaml")}


def timelines(env: dict):
    """The two timelines the plan plays (the same speech cache, so the same clips)."""
    from voicecoach.routines import load
    from voicecoach.session import options, prepare_session, voice_for

    with pytest.MonkeyPatch.context() as mp:
        for key in ("VOICECOACH_CACHE_DIR", "VOICECOACH_CONFIG", "VOICECOACH_ROUTINES"):
            mp.setenv(key, env[key])
        return [prepare_session(r, options(lead_in=0.0), voice_for(r)).timeline
                for r in (load("plan-one"), load("plan-two"))]


def history(env: dict) -> list[dict]:
    path = Path(env["VOICECOACH_DATA"]) / "history.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def last_sound(rec, recording: np.ndarray) -> float:
    return rec.time_of(int(np.flatnonzero(np.abs(recording) > 1e-3)[-1]))


def test_q_ends_the_whole_plan_and_the_panel_shows_the_plan(pulse_server, plan_env, tmp_path):
    one, two = timelines(plan_env)
    plan_total = clock(one.seconds + two.seconds)
    confirmed_safety(plan_env)
    rec = pulse_server.record(tmp_path / "q.wav")
    term = Terminal([sys.executable, "-m", "voicecoach"], plan_env)
    wait_for_first(rec, "bell")
    time.sleep(1.0)  # the panel has been drawn a few times; the first tick is 6 s after the bell
    sent = time.monotonic()
    term.key("q")
    code = term.wait(30)
    time.sleep(1.0)
    recording = rec.stop()
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", term.screen.decode(errors="replace"))  # no colours
    assert code == 0, term.proc.stderr.read().decode()
    assert "Routine 1 of 2: Plan one" in screen
    assert re.search(rf"\b0:0\d / {plan_total}\b", screen), screen  # the plan's time, not the routine's
    assert re.search(rf"Quit after 0:0\d of {plan_total}, in routine 1 of 2 \(Plan one\), "
                     r"step 1 of 2 \(Hold\)\.", screen), screen
    assert "Continue with: voicecoach play plan-one, then voicecoach play plan-two" in screen
    assert last_sound(rec, recording) - sent < 1.0  # the sound stopped, and nothing came after
    assert [n for _, n in heard(recording)] == ["bell"]  # Plan one's start chime only: Plan two never began
    assert [(e["routine"], e["finished"]) for e in history(plan_env)] == [("plan-one", False)]


def test_stop_over_the_bus_ends_the_whole_plan(pulse_server, plan_env, tmp_path):
    one, two = timelines(plan_env)
    Path(plan_env["VOICECOACH_CONFIG"]).write_text("lead_in: 0\npause_others: true\n")  # `today` has no option
    music = FakePlayer(plan_env)
    try:
        rec = pulse_server.record(tmp_path / "stop.wav")
        proc = subprocess.Popen([sys.executable, "-m", "voicecoach", "today", "--play"], env=plan_env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        player = wait_listed(plan_env, proc.pid)
        wait_for_first(rec, "bell")
        sent = time.monotonic()
        playerctl(plan_env, player, "stop")
        out, err = proc.communicate(timeout=30)
        time.sleep(1.0)
        recording = rec.stop()
        methods = music.methods(settle=1.0)
    finally:
        music.stop()
    assert proc.returncode == 0, err
    assert err == ""
    lines = out.splitlines()
    assert re.fullmatch(rf"Quit after 0:0\d of {clock(one.seconds + two.seconds)}, in routine 1 of 2 "
                        r"\(Plan one\), step 1 of 2 \(Hold\)\.", lines[-2]), out
    assert lines[-1] == "Continue with: voicecoach play plan-one, then voicecoach play plan-two"
    assert last_sound(rec, recording) - sent < 1.0
    assert [n for _, n in heard(recording)] == ["bell"]
    assert [(e["routine"], e["finished"]) for e in history(plan_env)] == [("plan-one", False)]
    assert methods == ["Pause", "Play"]
    assert music.calls[1][1] > last_sound(rec, recording) - 0.1  # the music came back after our sound stopped


def test_a_whole_plan_is_one_player_and_the_music_waits_for_all_of_it(pulse_server, plan_env, tmp_path):
    one, two = timelines(plan_env)
    Path(plan_env["VOICECOACH_CONFIG"]).write_text("lead_in: 0\npause_others: true\n")
    music = FakePlayer(plan_env)
    follow = subprocess.Popen(["playerctl", "-p", "voicecoach", "-F", "metadata", "--format",
                               "{{xesam:album}}|{{xesam:title}}"], env=plan_env, stdout=subprocess.PIPE, text=True)
    try:
        result = subprocess.run([sys.executable, "-m", "voicecoach"], env=plan_env, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=120)
        time.sleep(0.5)
        methods = music.methods(settle=1.0)
    finally:
        music.stop()
        follow.terminate()
    shown = [line for line in follow.communicate()[0].splitlines() if line]
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == (
        f"Finished 2 routines: Plan one + Plan two ({clock(one.seconds + two.seconds)}).\n", "")
    # paused once as the plan began and played again once it ended: not between the routines
    assert methods == ["Pause", "Play"]
    steps = [line for i, line in enumerate(shown) if i == 0 or line != shown[i - 1]]
    assert [s for s in steps if not s.endswith("|Introduction")] == [
        "Plan one|Hold", "Plan one|Press", "Plan two|Reach"]
    assert [(e["routine"], e["finished"]) for e in history(plan_env)] == [("plan-one", True), ("plan-two", True)]
