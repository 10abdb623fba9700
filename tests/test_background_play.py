"""Live play with a background bed holds the very samples of the export, through the private sound server.

The sink runs at the session's rate, so the monitor recording holds exactly
what the player sent: after aligning the first chime, the recording of
`voicecoach play --background rain` must equal the 16-bit WAV that
`voicecoach export --background rain` writes, sample for sample, loop point and
ducks included.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from support.audiofind import find
from voicecoach import sounds

ROUTINE = Path(__file__).parent / "data" / "play" / "pacing.yaml"
RATE = 22050


# The default backend keeps two seconds queued at the server, so a stall of this
# machine is not heard and the recording must hold the export's samples, once,
# with no replay. (The other backends' sample exactness is tests/test_sinks.py's.)
BACKEND = "pulse"


@pytest.mark.audio
def test_a_play_with_a_bed_holds_the_samples_of_the_export(pulse_server, tmp_path_factory, record_property):
    home = tmp_path_factory.mktemp("user")
    env = {**os.environ, **pulse_server.env,
           "VOICECOACH_CACHE_DIR": str(home / "cache"), "VOICECOACH_DATA": str(home / "data"),
           "VOICECOACH_CONFIG": str(home / "config.yaml"), "VOICECOACH_ROUTINES": str(home / "routines")}
    wav = home / "pacing.wav"
    made = subprocess.run([sys.executable, "-m", "voicecoach", "export", str(ROUTINE), "-o", str(wav),
                           "--background", "rain"], env=env, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    expected = sf.read(str(wav), dtype="int16")[0]
    assert len(expected) > 16 * RATE  # the bed loops once inside the session
    first_chime = find(expected.astype(np.float32) / 32768, sounds.load("bell", RATE), threshold=0.6)[0]
    rec = pulse_server.record(home / "play.wav")
    result = subprocess.run([sys.executable, "-m", "voicecoach", "play", str(ROUTINE), "--backend", BACKEND,
                             "--lead-in", "0", "--background", "rain"],
                            env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    time.sleep(0.3)
    recording = rec.stop()
    assert result.returncode == 0, result.stderr
    played = np.rint(recording * 32768).astype(np.int16)
    start = find(recording, sounds.load("bell", RATE), threshold=0.6)[0] - first_chime
    assert start >= 0
    assert np.array_equal(played[start:start + len(expected)], expected)
    assert not played[:start].any() and not played[start + len(expected):].any()
