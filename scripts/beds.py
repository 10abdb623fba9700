"""The built-in background beds (rain, ocean, pad), for make_sounds.py.

Every bed is a seamless loop by construction, not by a crossfade: noise is
shaped in the frequency domain over exactly one loop (a circular filter),
every envelope and partial completes a whole number of cycles per loop, and
raindrops that run past the end wrap round to the start. So the step from the
last sample to the first is like any other step: no click, no level jump.

The noise comes from a counter-based hash (splitmix64) in uint64 arithmetic,
summed four times for a near-Gaussian shape: the same numbers on every machine
and numpy version (numpy's Generator streams may change between versions).

To stay small on disk each bed is stored at the lowest rate its sound needs
(voicecoach resamples a loop in the frequency domain, so it stays seamless),
as 16-bit FLAC, peaking at -12 dBFS: the bed plays 20 dB or more under the
voice, so the bits above that would only cost bytes.
"""
from __future__ import annotations

import numpy as np

PEAK_DBFS = -12.0


def _splitmix(seed: int, n: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(seed)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniform(seed: int, n: int) -> np.ndarray:
    """n numbers in [0, 1) from the top 53 bits of the hash."""
    return (_splitmix(seed << 40, n) >> np.uint64(11)).astype(np.float64) * (1.0 / 2 ** 53)


def noise(seed: int, n: int) -> np.ndarray:
    """Near-Gaussian noise of unit variance (the sum of four uniforms): arithmetic only."""
    return (uniform(seed, 4 * n).reshape(4, n).sum(axis=0) - 2.0) * np.sqrt(3.0)


def shaped(seed: int, n: int, rate: int, gain) -> np.ndarray:
    """Noise with magnitude response gain(f), filtered circularly over n samples; unit RMS."""
    f = np.fft.rfftfreq(n, 1.0 / rate)
    out = np.fft.irfft(np.fft.rfft(noise(seed, n)) * gain(np.maximum(f, 1.0)) * (f > 0), n)
    return out / np.sqrt(np.mean(out ** 2))


def cycles(n: int, count: int, phase: float) -> np.ndarray:
    """A cosine completing `count` whole cycles over n samples."""
    return np.cos(2.0 * np.pi * count * np.arange(n) / n + phase)


def rain(rate: int = 16000, seconds: int = 16) -> np.ndarray:
    """A steady hiss from 400 Hz up, swelling a little, with soft scattered drops."""
    n = rate * seconds
    hiss = shaped(1, n, rate, lambda f: f ** -0.5 / np.sqrt(1 + (400 / f) ** 4) / np.sqrt(1 + (f / 5000) ** 2))
    out = hiss * (1 + 0.12 * cycles(n, 1, 0.3) + 0.06 * cycles(n, 3, 1.1) + 0.04 * cycles(n, 7, 2.0))
    drops = seconds * 12
    where = (uniform(2, drops) * n).astype(np.int64)
    size = 0.5 + 1.5 * uniform(3, drops) ** 3
    length = int(0.012 * rate)
    decay = np.exp(-np.arange(length) / (0.0025 * rate))
    ping = shaped(4, n, rate, lambda f: np.exp(-((f - 3000) / 1500) ** 2))
    for at, a in zip(where, size):
        span = (at + np.arange(length)) % n  # a drop at the end wraps round to the start
        out[span] += a * decay * ping[(7 * at + np.arange(length)) % n]
    return out


def ocean(rate: int = 11025, seconds: int = 24) -> np.ndarray:
    """Low surf rising and falling in uneven waves, brighter at each crest."""
    n = rate * seconds
    low = shaped(5, n, rate, lambda f: 1 / np.maximum(f, 20) / np.sqrt(1 + (40 / f) ** 4))
    bright = shaped(6, n, rate, lambda f: f ** -0.5 / np.sqrt(1 + (f / 3500) ** 2) / np.sqrt(1 + (200 / f) ** 4))
    # three wave trains of 4, 5 and 3 cycles a loop: no two waves in it are alike
    wave = 0.5 * cycles(n, 4, 0.0) + 0.3 * cycles(n, 5, 1.3) + 0.2 * cycles(n, 3, 2.1)
    wave = (wave - wave.min()) / (wave.max() - wave.min())
    return low * (0.45 + 0.55 * wave ** 1.5) + 0.5 * bright * wave ** 4


def pad(rate: int = 11025, seconds: int = 24) -> np.ndarray:
    """A soft open chord (C2 G2 C3 D3 G3), each note two slightly detuned voices, slowly breathing."""
    n = rate * seconds
    t = np.arange(n) / n
    out = np.zeros(n)
    for i, f0 in enumerate((65.41, 98.00, 130.81, 146.83, 196.00)):
        for detune in (-1, 1):  # 1/seconds Hz apart: a slow chorus that repeats exactly once a loop
            whole = round(f0 * seconds) + detune
            for h, a in ((1, 1.0), (2, 0.25), (3, 0.08)):
                out += a / (1 + 0.3 * i) * np.sin(2 * np.pi * h * whole * t + 0.7 * i + h)
    out *= 1 + 0.25 * cycles(n, 2, 0.4) + 0.1 * cycles(n, 5, 1.0)
    out /= np.sqrt(np.mean(out ** 2))
    return out + 0.05 * shaped(7, n, rate, lambda f: np.exp(-((f - 800) / 600) ** 2))


BEDS = {"rain": (rain, 16000), "ocean": (ocean, 11025), "pad": (pad, 11025)}


def build() -> dict[str, tuple[np.ndarray, int]]:
    """Every bed by name: (16-bit samples, their rate)."""
    out = {}
    for name, (make, rate) in BEDS.items():
        x = make(rate)
        x = x * (10 ** (PEAK_DBFS / 20) / np.max(np.abs(x)))
        out[name] = (np.round(x * 32767.0).astype(np.int16), rate)
    return out
