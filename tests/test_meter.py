"""The meters in numpy alone measure a clip as pyloudnorm and scipy do, and levelling loads neither.

pyloudnorm (K-weighting by scipy's lfilter, BS.1770 gating) and scipy's
resample_poly are the references here only: voicecoach measures without them,
because importing scipy.signal costs an export some 75 MB of memory.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyloudnorm
import pytest
from scipy.ndimage import minimum_filter1d
from scipy.signal import lfilter, resample_poly

from voicecoach import level, meter


def _signal(rate: int, seconds: float, seed: int) -> np.ndarray:
    """Noise swelling from near silence, over a low tone and a 5 kHz one: every filter stage has work to do."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    x = 0.3 * rng.standard_normal(n) * np.linspace(0, 1, n) + 0.2 * np.sin(2 * np.pi * 60 * t) \
        + 0.1 * np.sin(2 * np.pi * 5000 * t)
    x[: n // 5] *= 1e-3
    return x


@pytest.mark.parametrize("rate", [16000, 22050, 44100, 48000])
@pytest.mark.parametrize("seconds", [0.45, 1.3, 7.0])
def test_the_loudness_of_a_clip_is_pyloudnorms_to_rounding(rate, seconds):
    x = _signal(rate, seconds, seed=rate)
    assert meter.bs1770_lufs(x, rate) == pytest.approx(pyloudnorm.Meter(rate).integrated_loudness(x), abs=1e-9)


def test_the_k_weighting_is_the_recursive_filters_to_rounding():
    rate = 22050
    x = _signal(rate, 3.0, seed=1)
    reference = x
    for b, a in meter._stages(rate):
        reference = lfilter(b, a, reference)
    np.testing.assert_allclose(meter.k_weighted(x, rate), reference, rtol=0, atol=1e-12)


def test_a_silent_or_sub_gate_signal_reads_minus_inf():
    assert meter.bs1770_lufs(np.zeros(22050), 22050) == float("-inf")
    assert meter.bs1770_lufs(np.full(22050, 1e-5), 22050) == float("-inf")  # under the -70 LUFS gate


@pytest.mark.parametrize("n", [1, 7, 40, 1000, 22050])
@pytest.mark.parametrize("factor", [2, 4, 8])
def test_oversampling_is_resample_polys_to_rounding(n, factor):
    x = _signal(22050, 1.0, seed=n)[:n] if n > 1 else np.array([0.5])
    np.testing.assert_allclose(meter.oversampled(x, factor), resample_poly(x, factor, 1), rtol=0, atol=1e-12)


@pytest.mark.parametrize("radius", [0, 1, 5, 176])
def test_the_running_minimum_is_scipys_nearest_mode_exactly(radius):
    a = np.random.default_rng(radius).random(3001)
    np.testing.assert_array_equal(meter.running_min(a, radius), minimum_filter1d(a, 2 * radius + 1, mode="nearest"))


def test_levelling_speech_loads_neither_scipy_nor_pyloudnorm():
    code = ("import sys, numpy as np; from voicecoach import level, session\n"
            "t = np.arange(3 * 22050) / 22050\n"
            "clip = 0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)\n"
            "out = session.speech_clip(clip, 22050)\n"
            "assert abs(level.integrated_lufs(out, 22050) - session.SPEECH_LUFS) < 0.1\n"
            "print(' '.join(m for m in ('scipy', 'pyloudnorm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_levelled_speech_keeps_its_loudness_and_peak_without_scipy():
    # what the cached clips of earlier versions were levelled to, kept by the numpy meters
    rate = 22050
    t = np.arange(2 * rate) / rate
    clip = 0.9 * np.sin(2 * np.pi * 180 * t) * np.exp(-((t - 1.0) ** 2) * 8) + 0.05 * np.sin(2 * np.pi * 3000 * t)
    out = level.normalize_speech(clip, rate, target_lufs=-15.5, peak_dbfs=-1.5)
    assert pyloudnorm.Meter(rate).integrated_loudness(level._loop_for_meter(out.astype(np.float64), rate)) \
        == pytest.approx(-15.5, abs=0.05)
    assert 20 * np.log10(np.max(np.abs(resample_poly(out.astype(np.float64), 4, 1)))) <= -1.5
