"""Loudness handling: trim, speech and sound normalization, the soft limiter, the meters."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest
import soundfile

from voicecoach import level

RATE = 22050


def db(x: float) -> float:
    return 20 * np.log10(x)


def sine(freq: float, seconds: float, amp: float = 0.5, rate: int = RATE, phase: float = 0.0) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return amp * np.sin(2 * np.pi * freq * t + phase)


def square(freq: float, seconds: float, amp: float = 1.0) -> np.ndarray:
    return amp * np.sign(sine(freq, seconds) + 1e-12)


# --- trim ----------------------------------------------------------------------------------

KEEP = round(0.01 * RATE)  # 220 samples


@pytest.mark.parametrize(
    "lead, body, tail, expect_start, expect_len",
    [
        (1000, 100, 1000, 1000 - KEEP, 100 + 2 * KEEP),  # padded both sides
        (0, 100, 1000, 0, 100 + KEEP),  # loud from the first sample
        (1000, 100, 0, 1000 - KEEP, 100 + KEEP),  # loud to the last sample
        (100, 100, 100, 0, 300),  # padding shorter than keep_s: nothing cut
    ],
)
def test_trim_table(lead, body, tail, expect_start, expect_len):
    clip = np.concatenate([np.zeros(lead), np.full(body, 0.5), np.zeros(tail)]).astype(np.float32)
    out = level.trim(clip, RATE)
    assert out.dtype == np.float32
    assert len(out) == expect_len
    np.testing.assert_array_equal(out, clip[expect_start:expect_start + expect_len])


def test_trim_threshold_is_strict():
    at = 10 ** (-45 / 20)
    clip = np.zeros(2000, dtype=np.float32)
    clip[500] = np.float32(at * 0.999)  # below: ignored
    clip[1500] = np.float32(at * 1.01)  # above: kept
    out = level.trim(clip, RATE)
    assert len(out) == 1 + 2 * KEEP and out[KEEP] == clip[1500]
    assert len(level.trim(clip, RATE, threshold_db=-30.0)) == KEEP  # nothing above -30 dBFS


@pytest.mark.parametrize("clip", [np.zeros(5000), np.zeros(0), np.full(300, 1e-4)])
def test_trim_silence_is_short_and_never_empty(clip):
    out = level.trim(clip, RATE)
    assert len(out) == KEEP and not np.any(out)
    assert len(level.trim(clip, RATE, keep_s=0.0)) == 1


# --- the meters ----------------------------------------------------------------------------

def test_lufs_of_a_1khz_sine():
    # BS.1770: a 1 kHz sine peaking at 0 dBFS reads -3.01 LUFS (the K filter is ~+0.69 dB there).
    # At 22050 Hz the meter's K filter is a little off its 48 kHz design: allow 0.1 LU.
    assert level.integrated_lufs(sine(1000, 3.0, amp=1.0), RATE) == pytest.approx(-3.01, abs=0.1)
    assert level.integrated_lufs(sine(1000, 3.0, amp=0.5), RATE) == pytest.approx(-9.03, abs=0.1)


@pytest.mark.parametrize("seconds", [0.05, 0.2, 0.39])
def test_lufs_of_a_clip_shorter_than_a_block_is_its_own_loudness(seconds):
    # A whole number of cycles, so the loop has no seam: it must read like the long tone.
    assert level.integrated_lufs(sine(1000, seconds), RATE) == pytest.approx(-9.03, abs=0.1)


def test_lufs_of_silence():
    assert level.integrated_lufs(np.zeros(RATE), RATE) == float("-inf")
    assert level.integrated_lufs(np.zeros(0), RATE) == float("-inf")


def test_true_peak_sees_between_the_samples():
    # A quarter-rate sine sampled at 45 degrees: every sample is at +-0.707, the wave reaches 1.0.
    # Faded in and out: an abrupt start has a real overshoot between samples of its own.
    ramp = np.minimum(np.arange(RATE), np.arange(RATE)[::-1]) / 2000
    wave = sine(RATE / 4, 1.0, amp=1.0, phase=np.pi / 4) * np.minimum(ramp, 1.0)
    assert db(np.max(np.abs(wave))) == pytest.approx(-3.01, abs=0.01)
    assert level.true_peak_dbfs(wave, RATE) == pytest.approx(0.0, abs=0.1)
    assert level.true_peak_dbfs(sine(100, 1.0, amp=0.5), RATE) == pytest.approx(db(0.5), abs=0.01)
    assert level.true_peak_dbfs(np.zeros(100), RATE) == float("-inf")


def test_true_peak_of_a_full_scale_square_is_over_zero():
    assert level.true_peak_dbfs(square(441, 1.0), RATE) > 0.0


# --- normalize_sound -----------------------------------------------------------------------

@pytest.mark.parametrize(
    "clip, peak_dbfs, expected",
    [
        ([0.5, -0.25, 0.0], -3.0, [10 ** (-3 / 20), -0.5 * 10 ** (-3 / 20), 0.0]),
        ([-1.0, 0.5], 0.0, [-1.0, 0.5]),
        ([0.1], -6.0, [10 ** (-6 / 20)]),
        ([0.0, 0.0], -3.0, [0.0, 0.0]),
        ([], -3.0, []),
    ],
)
def test_normalize_sound_table(clip, peak_dbfs, expected):
    out = level.normalize_sound(np.array(clip), peak_dbfs)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-7)


# --- normalize_speech ----------------------------------------------------------------------

def check_speech(out: np.ndarray, clip: np.ndarray, target: float = -16.0, peak: float = -1.5) -> None:
    assert out.dtype == np.float32 and len(out) == len(clip)
    assert level.integrated_lufs(out, RATE) == pytest.approx(target, abs=0.5)
    assert db(np.max(np.abs(out))) <= peak + 1e-6
    assert level.true_peak_dbfs(out, RATE) <= -1.0


def test_normalize_speech_silent_clip_stays_silent():
    out = level.normalize_speech(np.zeros(5000), RATE)
    assert out.dtype == np.float32 and len(out) == 5000 and not np.any(out)


def test_normalize_speech_full_scale_square():
    clip = square(441, 1.0)
    out = level.normalize_speech(clip, RATE)
    check_speech(out, clip)
    # No limiting is needed at -16 LUFS, so the shape is kept: a plain gain.
    ratio = out / clip
    assert np.ptp(ratio) < 1e-6


def test_normalize_speech_short_clip():
    clip = sine(300, 0.15, amp=0.05) * np.hanning(round(0.15 * RATE))
    check_speech(level.normalize_speech(clip, RATE), clip)


def test_normalize_speech_limits_peaks_instead_of_turning_the_clip_down():
    # A quiet tone with a few loud clicks: plain gain to -16 LUFS would put the
    # clicks far over full scale, and scaling to the peak would leave it ~20 dB quiet.
    clip = sine(220, 2.0, amp=0.05)
    for at in (5000, 20000, 35000):
        clip[at:at + 20] += 0.9 * np.hanning(20)
    out = level.normalize_speech(clip, RATE)
    check_speech(out, clip)
    assert level.integrated_lufs(out, RATE) == pytest.approx(-16.0, abs=0.1)
    # Away from the clicks the tone is untouched in shape: a constant gain there.
    calm = slice(9000, 19000)
    ratio = out[calm] / clip[calm]
    assert np.ptp(ratio[np.abs(clip[calm]) > 0.01]) < 1e-4


@pytest.mark.parametrize("target, peak", [(-20.0, -1.5), (-14.0, -2.0), (-23.0, -6.0)])
def test_normalize_speech_other_targets(target, peak):
    clip = sine(220, 1.0, amp=0.3) * (1 + 0.5 * sine(3, 1.0, amp=1.0))
    check_speech(level.normalize_speech(clip, RATE, target_lufs=target, peak_dbfs=peak), clip, target, peak)


def test_normalize_speech_does_not_blow_up_near_silence():
    clip = sine(440, 1.0, amp=1e-6)
    out = level.normalize_speech(clip, RATE)
    assert np.max(np.abs(out)) <= 1e-6 * 10 ** (level.MAX_GAIN_DB / 20) * 1.001


@pytest.mark.parametrize(
    "text, args",
    [
        ("Standing hip circles.", []),
        ("Lie face down and place the ball just inside your right front hip bone.", []),
        ("Rest.", []),
        ("Stop at once if the ache turns sharp!", ["-a", "200", "-s", "220"]),
    ],
)
def test_normalize_speech_on_real_espeak_speech(tmp_path, text, args):
    wav = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", *args, "-w", str(wav), text], check=True, timeout=60)
    clip, rate = soundfile.read(str(wav), dtype="float32")
    assert rate == RATE
    clip = level.trim(clip, rate)
    out = level.normalize_speech(clip, rate)
    check_speech(out, clip)
    assert level.integrated_lufs(out, rate) == pytest.approx(-16.0, abs=0.1)


# --- soft_limit ----------------------------------------------------------------------------

CEIL = 0.89
KNEE = level.KNEE_RATIO * CEIL


def curve(x: float) -> float:
    u = (abs(x) - KNEE) / (CEIL - KNEE)
    return float(np.sign(x) * (KNEE + (CEIL - KNEE) * u / np.sqrt(1 + u * u)))


@pytest.mark.parametrize(
    "x, expected",
    [
        (0.0, 0.0),
        (0.5, 0.5),
        (-0.7, -0.7),
        (KNEE, KNEE),
        (0.8, curve(0.8)),
        (1.0, curve(1.0)),
        (-1.0, curve(-1.0)),
        (2.0, curve(2.0)),
        (1e6, CEIL),
        (1e38, CEIL),
        (np.inf, CEIL),
        (-np.inf, -CEIL),
    ],
)
def test_soft_limit_table(x, expected):
    out = level.soft_limit(np.array([x], dtype=np.float32))
    assert out.dtype == np.float32
    assert out[0] == pytest.approx(expected, abs=2e-7)


def test_soft_limit_never_exceeds_the_ceiling_and_is_monotonic():
    x = np.linspace(-40, 40, 400_001, dtype=np.float32)
    y = level.soft_limit(x)
    assert np.max(np.abs(y)) <= np.float32(CEIL)
    assert np.all(np.diff(y) >= 0)
    # smooth at the knee: slope 1 on both sides
    k = np.float32(KNEE)
    y2 = level.soft_limit(np.array([k - 1e-3, k, k + 1e-3], dtype=np.float32))
    assert (y2[2] - y2[1]) / 1e-3 == pytest.approx(1.0, abs=0.01)
    for ceiling in (0.5, 1.0):
        assert np.max(np.abs(level.soft_limit(x, ceiling))) <= np.float32(ceiling)


def test_soft_limit_is_identity_below_the_knee():
    x = np.linspace(-KNEE, KNEE, 10001, dtype=np.float32)
    np.testing.assert_array_equal(level.soft_limit(x), x)


def test_soft_limit_is_block_invariant():
    rng = np.random.default_rng(5)
    t = np.arange(RATE * 3) / RATE
    mix = (0.8 * np.sin(2 * np.pi * 220 * t) + 0.7 * np.sin(2 * np.pi * 331 * t)
           + 0.3 * rng.standard_normal(len(t))).astype(np.float32)
    whole = level.soft_limit(mix)
    assert np.max(np.abs(whole)) <= np.float32(CEIL) and np.any(np.abs(mix) > 1.0)
    for sizes in ([1, 7, 13, 4097, 1023], [257], [31, 1, 999_999]):
        parts, at, i = [], 0, 0
        while at < len(mix):
            n = sizes[i % len(sizes)]
            parts.append(level.soft_limit(mix[at:at + n]))
            at, i = at + n, i + 1
        np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_soft_limit_does_not_change_its_input():
    x = np.array([0.0, 2.0, -3.0], dtype=np.float32)
    level.soft_limit(x)
    np.testing.assert_array_equal(x, [0.0, 2.0, -3.0])
