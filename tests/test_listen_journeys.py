"""Spoken commands as a user gives them: the real CLI with --listen, a word said into a room, a microphone pulled out.

A private PulseAudio server has a second null sink, `room`, whose monitor is
the default microphone, with the speaker sink looped into it as an echo
(tests/test_listen_live.py proves the pause's timing to the sample; these
tests follow the commands a user runs):

- "stop" said during the first routine of today's two-routine plan
  (`today --play --listen`) ends the whole plan, as q does, and the command
  says where it stopped;
- `remind --listen`: "stop" ends the break, and the day goes on;
- a microphone that goes away mid-session (a USB microphone unplugged: its own
  sink unloaded) leaves the session playing to its end, with one line that says
  listening stopped, for `play` and for `remind`.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from support.audiofind import find
from support.pulse import PulseServer, say_into
from support.room import voice_clip
from voicecoach import sounds

pytestmark = [pytest.mark.audio, pytest.mark.slow]

RATE = 22050
HOLD = """\
title: {title}
safety: false
countdown: 0
steps:
  - name: Hold
    duration: {seconds}s
    prep: 0.5s
  - name: Rest
    duration: 2s
    prep: 0.5s
"""


@pytest.fixture
def env(room_server, tmp_path):
    home = tmp_path / "home"
    return {**os.environ, **room_server.env, "VOICECOACH_CACHE_DIR": str(home / "cache"),
            "VOICECOACH_DATA": str(home / "data"), "VOICECOACH_CONFIG": str(home / "config.yaml"),
            "VOICECOACH_ROUTINES": str(home / "routines"), "VOICECOACH_SCHEDULE": str(home / "schedule.yaml")}


def wait_for_sound(rec, name: str, proc: subprocess.Popen, timeout: float = 90.0) -> int:
    """The recording index of the first `name` chime on the speaker; fails with the command's output."""
    template = sounds.load(name, RATE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        hits = find(rec.so_far(), template, threshold=0.6)
        if hits:
            return hits[0]
    proc.kill()
    out, err = proc.communicate()
    raise AssertionError(f"no {name} on the speaker within {timeout:.0f} s\nstdout: {out}\nstderr: {err}")


def voicecoach(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "voicecoach", *args], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def acted(err: str) -> list[str]:
    """The words --listen-log says were acted on."""
    return [line.split('"')[1] for line in err.splitlines() if line.startswith("listen: ") and "acted" in line]


def test_stop_said_in_the_first_routine_ends_todays_two_routine_plan(room_server, env, tmp_path):
    routines = Path(env["VOICECOACH_ROUTINES"])
    routines.mkdir(parents=True)
    (routines / "first.yaml").write_text(HOLD.format(title="First", seconds=20))
    (routines / "second.yaml").write_text(HOLD.format(title="Second", seconds=20))
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    schedule = Path(env["VOICECOACH_SCHEDULE"])
    schedule.write_text("days:\n" + "".join(f"  {d}: [first, second]\n" for d in days))
    Path(env["VOICECOACH_CONFIG"]).write_text("lead_in: 0\nmpris: false\n")  # `today` has no --lead-in
    rec = room_server.record(tmp_path / "speaker.wav")
    proc = voicecoach("today", "--play", "--listen", "--listen-log", env=env)
    bell = wait_for_sound(rec, "bell", proc)
    time.sleep(max(0.0, rec.time_of(bell) + 2.0 - time.monotonic()))  # 2 s into the first hold
    say_into(room_server, voice_clip("flite:slt", "stop"))
    said = time.monotonic()
    out, err = proc.communicate(timeout=30)
    ended = time.monotonic() - said
    recording = rec.stop()
    assert proc.returncode == 0, err
    assert acted(err) == ["stop"], err
    assert "Quit after 0:0" in out and "in routine 1 of 2 (First), step 1 of 2 (Hold)." in out, out
    assert out.splitlines()[-1] == "Continue with: voicecoach play first, then voicecoach play second", out
    assert ended < 10, f"the plan ended {ended:.1f} s after the word"  # not after both routines (50 s)
    assert len(find(recording, sounds.load("bell", RATE), threshold=0.6)) == 1  # the second never began


def desk_window() -> str:
    """A window opening one or two (fast) minutes from now, so the first prompt comes within a second."""
    opens = (datetime.now() + timedelta(minutes=2)).replace(second=0, microsecond=0)
    return f"{opens:%H:%M}-{opens + timedelta(hours=3):%H:%M}"


def test_stop_said_in_a_desk_break_ends_that_break(room_server, env, tmp_path):
    rec = room_server.record(tmp_path / "speaker.wav")
    # a minute lasts 6 s: the break's 2-minute walk is 12 s of quiet to say the word in
    proc = voicecoach("remind", "--count", "1", "--hours", desk_window(), "--minute-seconds", "6", "--rate", "500",
                      "--listen", "--listen-log", "--no-mpris", env=env)
    bell = wait_for_sound(rec, "bell", proc, timeout=60)  # the walk's start
    time.sleep(max(0.0, rec.time_of(bell) + 2.0 - time.monotonic()))
    say_into(room_server, voice_clip("flite:slt", "stop"))
    out, err = proc.communicate(timeout=30)
    rec.stop()
    assert proc.returncode == 0, err
    assert acted(err) == ["stop"], err
    assert out.splitlines()[-1] == "Done: 1 desk break.", out
    import json

    entries = [json.loads(line) for line in (Path(env["VOICECOACH_DATA"]) / "history.jsonl").read_text().splitlines()]
    assert [(e["routine"], e["finished"]) for e in entries] == [("desk-break", False)]


class HandMicrophone:
    """A microphone of its own (a null sink's monitor) that a test can pull out: unload its module."""

    def __init__(self, server: PulseServer, name: str):
        self.server, self.name = server, name
        self.module = server.pactl("load-module", "module-null-sink", f"sink_name={name}", "rate=16000",
                                   "channels=1").stdout.strip()

    def pull_out(self) -> None:
        if self.module:
            self.server.pactl("unload-module", self.module)
            self.module = ""


def test_a_microphone_pulled_out_mid_session_leaves_the_session_playing_and_says_so_once(room_server, env, tmp_path):
    routine = tmp_path / "pulled.yaml"
    routine.write_text(HOLD.format(title="Pulled", seconds=6))
    mic = HandMicrophone(room_server, "handmic")
    try:
        rec = room_server.record(tmp_path / "speaker.wav")
        proc = voicecoach("play", str(routine), "--listen", "--listen-device", "handmic.monitor", "--lead-in", "0",
                          "--no-mpris", env=env)
        bell = wait_for_sound(rec, "bell", proc)
        time.sleep(max(0.0, rec.time_of(bell) + 1.0 - time.monotonic()))
        mic.pull_out()
        out, err = proc.communicate(timeout=60)
        recording = rec.stop()
    finally:
        mic.pull_out()
    assert proc.returncode == 0, err
    assert out.splitlines()[0].startswith("Finished Pulled"), out
    assert find(recording, sounds.load("complete", RATE), threshold=0.6), "the session did not play to its end"
    assert err.splitlines() == ["voicecoach: listening stopped: the microphone went away"], err


def test_a_microphone_pulled_out_during_a_desk_day_is_said_once_and_the_breaks_go_on(room_server, env, tmp_path):
    mic = HandMicrophone(room_server, "deskmic")
    try:
        rec = room_server.record(tmp_path / "speaker.wav")
        proc = voicecoach("remind", "--count", "2", "--hours", desk_window(), "--minute-seconds", "0.5",
                          "--rate", "500", "--listen", "--listen-device", "deskmic.monitor", "--no-mpris", env=env)
        bell = wait_for_sound(rec, "bell", proc, timeout=60)
        time.sleep(max(0.0, rec.time_of(bell) + 0.5 - time.monotonic()))
        mic.pull_out()
        out, err = proc.communicate(timeout=120)
        rec.stop()
    finally:
        mic.pull_out()
    assert proc.returncode == 0, err
    assert out.splitlines()[-1] == "Done: 2 desk breaks.", out
    assert err.splitlines() == ["voicecoach: listening stopped: the microphone went away"], err
