"""One live session at a time: a second `play` while one plays says who plays and exits 3.

The lock is the kernel's (flock), so it goes with its process however that
ends: after a `kill -9` the next session plays at once.
"""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from support.liveplay import ROUTINE, wait_for_first

pytestmark = [pytest.mark.audio, pytest.mark.slow]

def play(env: dict, routine, **kwargs):
    return subprocess.run([sys.executable, "-m", "voicecoach", "play", str(routine), "--lead-in", "0"], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, **kwargs)


def test_a_second_session_is_refused_and_a_killed_one_leaves_no_lock(pulse_server, user_env, short_routine,
                                                                      tmp_path):
    short = short_routine
    rec = pulse_server.record(tmp_path / "lock.wav")
    first = subprocess.Popen([sys.executable, "-m", "voicecoach", "play", str(ROUTINE), "--lead-in", "0"],
                             env=user_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_first(rec, "bell", timeout=60)
        began = time.monotonic()
        second = play(user_env, short, timeout=60)
        took = time.monotonic() - began
        assert second.returncode == 3
        assert (second.stdout, second.stderr) == (
            "", f"voicecoach: another live session is playing (Pacing check, pid {first.pid}); "
                "stop it first, or wait for it to end\n")
        assert took < 10  # refused before any speech is prepared
        assert first.poll() is None  # the first plays on
    finally:
        first.kill()  # SIGKILL: no clean-up of its own
        first.wait(10)
        rec.stop()
    third = play(user_env, short, timeout=120)
    assert third.returncode == 0, third.stderr
    assert third.stdout.startswith("Finished Short check")


def test_desk_mode_holds_the_lock_between_breaks_and_says_so(pulse_server, user_env, short_routine, tmp_path):
    short = short_routine
    # a window from the last full hour to two hours on, a break every three hours: the slots are
    # the window's ends, so the next break is at least an hour away
    hour = time.localtime().tm_hour
    desk = subprocess.Popen([sys.executable, "-m", "voicecoach", "remind", "--every", "180m", "--hours",
                             f"{(hour + 23) % 24}-{(hour + 2) % 24}"],
                            env=user_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert desk.stdout.readline().startswith("Desk breaks every ")  # prepared, now waiting
        refused = play(user_env, short, timeout=60)
    finally:
        desk.terminate()
        desk.wait(10)
    assert refused.returncode == 3
    assert refused.stderr == (f"voicecoach: another live session is playing (desk mode, voicecoach remind, "
                              f"pid {desk.pid}); stop it first, or wait for it to end\n")
