"""The warm start of `play`: what is imported before the first sample, and what waits until after it.

Nothing here is timed (bench/firstsound.py times it): the guard is which
modules exist when the stream starts. Each of these cost the first sound of a
warm play 10-150 ms, and none is needed for it: pydantic (typer 0.29 and later
import it), the session bus (dbus_fast, asyncio: started once the stream
plays), spoken commands (only with --listen), the other audio backends'
libraries (miniaudio: looked for only when pulse does not open), rich (the
panel and the progress bar: from the first thing they show), and the neural
runtime (Piper runs in its own process, and a warm play does not start it).
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from support.liveplay import wait_listed

NOT_BEFORE_THE_FIRST_SAMPLE = ("pydantic", "dbus_fast", "asyncio", "pocketsphinx", "onnxruntime", "piper",
                               "miniaudio", "simpleaudio", "rich", "voicecoach.listen", "voicecoach.mpris")

# Runs `voicecoach play` in this process and writes the names in sys.modules to argv[1] the moment
# the pulse stream has started (corked, filled, uncorked: its first sample is on its way to the server).
DRIVER = """\
import json, sys
from voicecoach.sinks import pulse

seen, routine = sys.argv[1], sys.argv[2]

start = pulse.PulseSink.start
def noted(self, *args, **kwargs):
    start(self, *args, **kwargs)
    if not getattr(pulse, "_noted", False):
        pulse._noted = True
        with open(seen, "w") as out:
            json.dump(sorted(sys.modules), out)
pulse.PulseSink.start = noted
sys.argv = ["voicecoach", "play", routine, "--lead-in", "0"]
from voicecoach.cli import main
main()
"""

ROUTINE = """\
title: Warm start check
safety: false
countdown: 2
steps:
  - name: Hold
    duration: 20s
    prep: 0.5s
"""


def loaded(names: list[str]) -> list[str]:
    """The modules of NOT_BEFORE_THE_FIRST_SAMPLE (or inside them) among `names`."""
    return sorted(n for n in names if any(n == m or n.startswith(m + ".") for m in NOT_BEFORE_THE_FIRST_SAMPLE))


def test_the_play_path_imports_nothing_the_first_sample_does_not_need():
    # What `play` imports before its stream starts, in a fresh interpreter: the CLI with
    # every command registered, the live session, the player and the sink chosen.
    code = ("import sys, json\n"
            "import voicecoach.cli, voicecoach.cli.live, voicecoach.practice.live, voicecoach.player\n"
            "import voicecoach.sinks.pulse, voicecoach.growing, voicecoach.session, voicecoach.speech.piper\n"
            "import voicecoach.settings, voicecoach.config, voicecoach.routines\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert loaded(json.loads(out.stdout)) == []


@pytest.mark.audio
@pytest.mark.slow  # a routine's speech made once (the voice a user gets by default), then a play
def test_a_warm_play_starts_its_stream_before_the_bus_and_is_on_the_bus_after(bus_user_env, tmp_path):
    routine = tmp_path / "warm.yaml"
    routine.write_text(ROUTINE)
    env = {k: v for k, v in bus_user_env.items() if k != "VOICECOACH_NEURAL"}
    subprocess.run([sys.executable, "-m", "voicecoach", "export", str(routine), "-o", str(tmp_path / "warm.wav")],
                   env=env, check=True, capture_output=True, timeout=300)  # the speech cache, filled
    driver, seen = tmp_path / "driver.py", tmp_path / "modules.json"
    driver.write_text(DRIVER)
    proc = subprocess.Popen([sys.executable, str(driver), str(seen), str(routine)], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        name = wait_listed(env, proc.pid)  # MPRIS comes up, after the stream started
        deadline = time.monotonic() + 30
        while not seen.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        status = subprocess.run(["playerctl", "-p", name, "status"], env=env, capture_output=True, text=True,
                                timeout=10).stdout.strip()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert status == "Playing"
    names = json.loads(seen.read_text())
    assert "voicecoach.sinks.pulse" in names and "numpy" in names  # the hook saw a real start
    assert loaded(names) == [], err
    assert proc.returncode == 128 + signal.SIGINT and "Stopped after" in err, (out, err)
