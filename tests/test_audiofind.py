"""The detector the playback tests rely on: exact onsets, no confusion between sounds."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from scipy.signal import lfilter

from support.audiofind import correlate, find, find_one

RATE = 22050
SOUNDS = Path(__file__).resolve().parent.parent / "sounds"


def bell(freq: float, seconds: float = 0.25, rate: int = RATE) -> np.ndarray:
    """A decaying tone with two inharmonic partials, like a small chime."""
    t = np.arange(int(seconds * rate)) / rate
    wave = np.sin(2 * np.pi * freq * t) + 0.5 * np.sin(2 * np.pi * 2.76 * freq * t)
    attack = np.minimum(t / 0.003, 1.0)
    return (0.4 * attack * np.exp(-t / 0.08) * wave).astype(np.float32)


def speech_like(n: int, rng: np.random.Generator, rate: int = RATE) -> np.ndarray:
    """Noise with a voice's spectrum tilt and a syllable-rate (4 Hz) loudness swing."""
    # Two one-pole low-passes give a falling spectrum like voiced speech.
    noise = lfilter([0.15], [1.0, -0.85], lfilter([0.15], [1.0, -0.85], rng.standard_normal(n)))
    t = np.arange(n) / rate
    envelope = 0.5 + 0.5 * np.abs(np.sin(2 * np.pi * 2.0 * t + rng.uniform(0, np.pi)))
    out = noise * envelope
    return (0.3 * out / np.max(np.abs(out))).astype(np.float32)


def place(n: int, sounds: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """Return n samples of silence with each (onset, sound) added in."""
    out = np.zeros(n, dtype=np.float32)
    for onset, sound in sounds:
        out[onset:onset + len(sound)] += sound
    return out


def test_offsets_recovered_exactly_in_white_noise():
    rng = np.random.default_rng(1)
    tone = bell(880)
    onsets = [0, 12345, 20011, 45001, 3 * RATE - len(tone)]
    recording = place(3 * RATE, [(o, tone) for o in onsets])
    recording += (0.02 * rng.standard_normal(len(recording))).astype(np.float32)
    assert find(recording, tone) == onsets


def test_offsets_recovered_exactly_under_speech_like_sound():
    rng = np.random.default_rng(2)
    tone = bell(1320)
    onsets = [3001, 17777, 40000, 52345]
    recording = place(3 * RATE, [(o, tone) for o in onsets])
    talk = speech_like(len(recording), rng)
    recording += talk
    # The talk is as loud as the tone wherever they overlap.
    assert np.max(np.abs(talk)) >= 0.5 * np.max(np.abs(tone))
    assert find(recording, tone) == onsets


def test_two_different_tones_do_not_detect_each_other():
    rng = np.random.default_rng(3)
    a, b = bell(880), bell(660)
    recording = place(2 * RATE, [(2000, a), (15000, b), (30000, a)])
    recording += (0.01 * rng.standard_normal(len(recording))).astype(np.float32)
    assert find(recording, a) == [2000, 30000]
    assert find(recording, b) == [15000]
    assert find(place(RATE, [(100, b)]), a) == []


def test_find_one_insists_on_exactly_one():
    tone = bell(990)
    assert find_one(place(RATE, [(777, tone)]), tone) == 777
    with pytest.raises(AssertionError, match="found it 2 times"):
        find_one(place(RATE, [(100, tone), (12000, tone)]), tone)
    with pytest.raises(AssertionError, match="found it 0 times"):
        find_one(np.zeros(RATE, dtype=np.float32), tone)


def test_scaled_copy_scores_one_and_silence_scores_zero():
    tone = bell(700)
    scores = correlate(place(RATE, [(9000, 0.1 * tone)]), tone)
    assert scores[9000] == pytest.approx(1.0, abs=1e-6)
    assert np.max(np.abs(scores[:9000 - len(tone)])) < 1e-3


def test_recording_shorter_than_template_finds_nothing():
    assert find(np.zeros(10, dtype=np.float32), bell(880)) == []


def _chime_files() -> list[Path]:
    return sorted(SOUNDS.glob("*.wav"))


@pytest.mark.skipif(len(_chime_files()) < 2, reason="fewer than two chimes in sounds/")
def test_real_chimes_found_at_their_place_and_never_confused():
    rng = np.random.default_rng(4)
    chimes = {}
    for path in _chime_files():
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
        assert rate == RATE, path
        chimes[path.stem] = samples.mean(axis=1)
    onsets, cursor = {}, 1000
    for name, sound in chimes.items():
        onsets[name] = cursor
        cursor += len(sound) + 3000
    recording = place(cursor, [(onsets[n], s) for n, s in chimes.items()])
    recording += (0.01 * rng.standard_normal(len(recording))).astype(np.float32)
    for name, sound in chimes.items():
        assert find(recording, sound) == [onsets[name]], name
