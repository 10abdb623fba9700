"""Closing the terminal (SIGHUP) and `kill` (SIGTERM) during `play --pause-others`.

Each ends the session as `q` does: the sound stops, the other player paused for
the session plays again, the session is in the history as unfinished, the
process says how far it got and how to go on, and exits 128 + the signal
(129, 143). Real signals to the real process, on the private sound server and
session bus, with tests/support/fakeplayer.py as the other player.
"""
from __future__ import annotations

import os
import re
import signal
import sys
import time

import numpy as np
import pytest

from support.fakeplayer import FakePlayer
from support.liveplay import ROUTINE, Terminal, confirmed_safety, last_history, plan, play, wait_for_first, wait_listed

pytestmark = [pytest.mark.audio, pytest.mark.slow]


@pytest.fixture
def music(bus_user_env):
    """Another player on the bus, Playing: what --pause-others pauses."""
    player = FakePlayer(bus_user_env)
    yield player
    player.stop()


def last_sound(rec, recording: np.ndarray) -> float:
    return rec.time_of(int(np.flatnonzero(np.abs(recording) > 1e-3)[-1]))


def stopped_lines(err: str) -> list[str]:
    lines = err.splitlines()
    assert re.fullmatch(r"Stopped after 0:\d\d of 0:27, in step 2 of 4 \(Press\)\.", lines[0]), err
    assert lines[1] == f"Continue with: voicecoach play {ROUTINE} --from 2", err
    return lines


def wait_for_second_step(rec, timeline) -> None:
    """Block until the second step's start chime has sounded (so the way on is `--from 2`)."""
    first = wait_for_first(rec, "bell")
    steps = timeline.steps
    time.sleep(max(0.0, rec.time_of(first) + (steps[1].start_sample - steps[0].start_sample) / 22050 + 0.5
                   - time.monotonic()))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_stops_the_sound_resumes_the_music_and_is_recorded(signum, pulse_server, bus_user_env, music, tmp_path):
    timeline = plan(bus_user_env)
    rec = pulse_server.record(tmp_path / "signal.wav")
    proc = play(ROUTINE, bus_user_env, "--pause-others")
    wait_listed(bus_user_env, proc.pid)
    wait_for_second_step(rec, timeline)
    assert music.methods(settle=0.2) == ["Pause"]
    sent = time.monotonic()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=15)
    time.sleep(0.5)
    recording = rec.stop()
    assert proc.returncode == 128 + signum, err
    assert out == "" and "Traceback" not in err
    assert len(stopped_lines(err)) == 2
    assert last_sound(rec, recording) - sent < 1.0  # the sound stopped at once
    assert music.methods(settle=1.0) == ["Pause", "Play"]  # the other player is not left paused
    assert music.calls[1][1] > last_sound(rec, recording) - 0.1  # and came back after our sound stopped
    entry = last_history(bus_user_env)
    assert (entry["routine"], entry["finished"]) == ("pacing", False)
    assert 0 < entry["seconds"] < entry["total"]


def test_closing_the_terminal_ends_the_session_as_sighup_does(pulse_server, bus_user_env, music, tmp_path):
    """The terminal is gone before the hang-up arrives: nothing can be written to it, and nothing breaks."""
    timeline = plan(bus_user_env)
    confirmed_safety(bus_user_env)
    rec = pulse_server.record(tmp_path / "hangup.wav")
    term = Terminal([sys.executable, "-m", "voicecoach", "play", str(ROUTINE), "--lead-in", "0",
                     "--pause-others"], bus_user_env)
    wait_listed(bus_user_env, term.proc.pid)
    wait_for_second_step(rec, timeline)
    os.close(term.master)  # the terminal window closes: the panel's writes and the key reads now fail
    time.sleep(0.5)  # the hang-up comes a little later: meanwhile the session plays on, reading no keys
    assert term.proc.poll() is None, term.proc.stderr.read().decode()
    sent = time.monotonic()
    term.proc.send_signal(signal.SIGHUP)
    code = term.proc.wait(15)
    err = term.proc.stderr.read().decode()
    time.sleep(0.5)
    recording = rec.stop()
    assert code == 129, err
    assert "Traceback" not in err
    assert len(stopped_lines(err)) == 2  # stderr is still open here: it says how far it got
    assert last_sound(rec, recording) - sent < 1.0
    assert music.methods(settle=1.0) == ["Pause", "Play"]
    assert last_history(bus_user_env)["finished"] is False

