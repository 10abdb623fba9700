"""Loudness: trimming, normalizing and limiting clips before they are mixed.

Pure numpy/scipy on mono float arrays; no I/O. Speech is brought to one
loudness (BS.1770 integrated loudness, via pyloudnorm) so that every phrase
sounds equally loud whatever engine or voice made it; chimes are brought to
one peak; the summed mix goes through a memoryless soft clipper.
"""
from __future__ import annotations

import numpy as np

# pyloudnorm and scipy are imported inside the functions that measure: mixing
# (soft_limit) needs neither, and they cost a warm export half its run time.

BLOCK_S = 0.4  # BS.1770 gating block
OVERSAMPLE = 4  # for true peak, as BS.1770 asks
TRUE_PEAK_DBFS = -1.0  # normalize_speech guarantees at most this true peak
LIMITER_RADIUS_S = 0.008  # the gain envelope turns down over 8 ms on either side of a peak
MAX_GAIN_DB = 40.0  # never lift a near-silent clip into loud noise
KNEE_RATIO = 0.8  # soft_limit is the identity below KNEE_RATIO * ceiling


def _db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def _mono64(signal: np.ndarray) -> np.ndarray:
    return np.asarray(signal, dtype=np.float64).reshape(-1)


def trim(clip: np.ndarray, sample_rate: int, threshold_db: float = -45.0, keep_s: float = 0.01) -> np.ndarray:
    """The clip without leading and trailing near-silence (float32, never empty).

    Keeps `keep_s` before the first and after the last sample whose magnitude
    exceeds `threshold_db` dBFS (bounded by the clip itself). An all-silent or
    empty clip becomes keep_s of silence (at least one sample).
    """
    x = np.asarray(clip, dtype=np.float32).reshape(-1)
    keep = int(round(keep_s * sample_rate))
    loud = np.flatnonzero(np.abs(x) > _db_to_gain(threshold_db))
    if len(loud) == 0:
        return np.zeros(max(1, keep), dtype=np.float32)
    start = max(0, int(loud[0]) - keep)
    stop = min(len(x), int(loud[-1]) + 1 + keep)
    return x[start:stop].copy()


def integrated_lufs(signal: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (BS.1770-4, K-weighted, gated) in LUFS; -inf for silence.

    A signal shorter than the 0.4 s gating block is measured as a loop of
    itself (see _loop_for_meter), so short phrases and ticks get a value too.
    """
    x = _mono64(signal)
    if len(x) == 0 or not np.any(x):
        return float("-inf")
    import pyloudnorm

    meter = pyloudnorm.Meter(sample_rate, block_size=BLOCK_S)
    return float(meter.integrated_loudness(_loop_for_meter(x, sample_rate)))


def _loop_for_meter(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """x, or for a clip shorter than 3 blocks, x repeated to at least 3 blocks.

    Why repetition rather than zero padding or a shorter block: a loop has the
    clip's own spectrum and mean square, so its loudness is the clip's
    loudness, while zeros would dilute it (a 0.2 s word would read 3 dB low);
    a shorter block would leave the BS.1770 definition, and the K-weighting
    filters start from rest, so on a bare short clip their start-up transient
    would weigh in. Three blocks give the filters time to settle and let the
    overlapping blocks average over the loop's seam.
    """
    need = int(np.ceil(3 * BLOCK_S * sample_rate))
    if len(x) >= need:
        return x
    return np.tile(x, -(-need // len(x)))


def true_peak_dbfs(signal: np.ndarray, sample_rate: int) -> float:
    """The true peak in dBFS: the largest magnitude of the 4x oversampled signal.

    `sample_rate` is accepted for symmetry with integrated_lufs; oversampling
    is relative, so it does not change the result. -inf for silence.
    """
    x = _mono64(signal)
    if len(x) == 0 or not np.any(x):
        return float("-inf")
    from scipy.signal import resample_poly

    peak = max(np.max(np.abs(x)), np.max(np.abs(resample_poly(x, OVERSAMPLE, 1))))
    return float(20.0 * np.log10(peak))


def _true_peak_envelope(x: np.ndarray) -> np.ndarray:
    """Per sample, the largest oversampled magnitude within half a sample of it."""
    from scipy.signal import resample_poly

    up = np.abs(resample_poly(x, OVERSAMPLE, 1))
    padded = np.concatenate([np.zeros(OVERSAMPLE // 2), up, np.zeros(OVERSAMPLE)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, OVERSAMPLE + 1)[::OVERSAMPLE][: len(x)]
    return np.maximum(np.abs(x), windows.max(axis=1))


def _limit(x: np.ndarray, sample_ceiling: float, true_ceiling: float, radius: int) -> np.ndarray:
    """x times a smooth gain envelope, so |x| <= sample_ceiling and the true peak <= true_ceiling.

    The required gain (1, or less where a sample or the oversampled signal
    near it is over its ceiling) is spread by a running minimum of
    `radius` on either side and then smoothed by a Hann window of the same
    radius. Every smoothed value is an average of minima that all include the
    sample's own requirement, so the envelope never exceeds it: no overshoot,
    and the gain eases down and back up over ~2 * radius around each peak
    instead of clipping it.
    """
    tiny = 1e-12
    required = np.minimum(sample_ceiling / np.maximum(np.abs(x), tiny),
                          true_ceiling / np.maximum(_true_peak_envelope(x), tiny))
    required = np.minimum(required, 1.0)
    if np.all(required >= 1.0):
        return x
    from scipy.ndimage import minimum_filter1d

    spread = minimum_filter1d(required, size=2 * radius + 1, mode="nearest")
    window = np.hanning(2 * radius + 3)[1:-1]  # drop the zero end points: support is exactly the radius
    window /= window.sum()
    smooth = np.convolve(np.pad(spread, radius, mode="edge"), window, mode="valid")
    return x * np.minimum(smooth, required)


def normalize_speech(
    clip: np.ndarray, sample_rate: int, target_lufs: float = -16.0, peak_dbfs: float = -1.5
) -> np.ndarray:
    """The clip at `target_lufs` integrated loudness, its peaks limited (float32).

    Guarantees: sample peak and true peak (4x oversampled) <= peak_dbfs,
    and never above -1.0 dBFS. Peaks are caught by a smooth lookahead limiter rather than by
    turning the whole clip down, and the gain is re-measured after limiting,
    so the loudness lands near the target (typically within 0.1 LU for
    speech). A silent clip is returned as silence; a near-silent one gets at
    most MAX_GAIN_DB of gain.
    """
    x = _mono64(clip)
    loudness = integrated_lufs(x, sample_rate)
    if not np.isfinite(loudness):
        return x.astype(np.float32)
    # Limit a hair under the ceilings: the float32 result and the estimate of
    # the true peak between samples must not push the measured values over them.
    margin = _db_to_gain(-0.05)
    # The true peak keeps under peak_dbfs too: the 0.5 dB between it and the session's
    # -1 dBFS is room for a ducked background under the loudest syllable.
    ceiling_dbfs = min(peak_dbfs, TRUE_PEAK_DBFS)
    sample_ceiling = true_ceiling = _db_to_gain(ceiling_dbfs) * margin
    radius = max(1, int(round(LIMITER_RADIUS_S * sample_rate)))
    gain_db = min(target_lufs - loudness, MAX_GAIN_DB)
    out = x
    previous = None  # (gain, loudness) of the last try
    for _ in range(6):
        out = _limit(x * _db_to_gain(gain_db), sample_ceiling, true_ceiling, radius)
        measured = integrated_lufs(out, sample_rate)
        error = target_lufs - measured
        if abs(error) < 0.02 or gain_db >= MAX_GAIN_DB:
            break
        # Once the limiter works, a dB of gain adds less than a dB of loudness:
        # a secant step on the last two tries converges in two or three.
        slope = 1.0
        if previous is not None and gain_db != previous[0]:
            slope = min(1.0, max(0.2, (measured - previous[1]) / (gain_db - previous[0])))
        previous = (gain_db, measured)
        gain_db = min(gain_db + error / slope, MAX_GAIN_DB)
    out = out.astype(np.float32)
    # The limiter works on an estimate of the true peak; if the result still
    # overshoots (rare, by hundredths of a dB), turn the clip down by the excess.
    excess = true_peak_dbfs(out, sample_rate) - ceiling_dbfs
    if excess > 0:
        out = (out * _db_to_gain(-excess - 0.01)).astype(np.float32)
    return out


def normalize_sound(clip: np.ndarray, peak_dbfs: float = -3.0) -> np.ndarray:
    """The clip scaled so its sample peak is `peak_dbfs` (float32); silence stays silence."""
    x = _mono64(clip)
    peak = np.max(np.abs(x)) if len(x) else 0.0
    if peak == 0.0:
        return x.astype(np.float32)
    return (x * (_db_to_gain(peak_dbfs) / peak)).astype(np.float32)


def soft_limit(block: np.ndarray, ceiling: float = 0.89) -> np.ndarray:
    """The block through a static soft clipper: |result| <= ceiling, always (float32).

    Identity up to the knee (KNEE_RATIO * ceiling); above it the magnitude
    follows knee + span * u / sqrt(1 + u^2), u = (|x| - knee) / span, a
    tanh-like curve that leaves the knee with slope 1 and approaches the
    ceiling without reaching it. Memoryless and built from correctly rounded
    operations only (no tanh, whose SIMD and scalar paths can differ in the
    last bit), so a sample's output depends on that sample alone: rendering in
    blocks of any size gives identical samples.
    """
    x = np.asarray(block, dtype=np.float32)
    mag = np.abs(x)
    knee = KNEE_RATIO * ceiling
    over = mag > knee
    if not np.any(over):
        return x.copy()
    # float64 inside, so the curve rounds to a monotonic float32 result; past
    # u = 1e4 it equals the ceiling in float32, and clipping u keeps u * u finite.
    span = ceiling - knee
    u = np.minimum((mag[over].astype(np.float64) - knee) / span, 1e4)
    squashed = np.minimum(knee + span * (u / np.sqrt(1.0 + u * u)), ceiling).astype(np.float32)
    out = x.copy()
    out[over] = np.copysign(np.minimum(squashed, np.float32(ceiling)), x[over])
    return out


# --- loudness of long signals, measured in blocks -------------------------------

HOP_S = BLOCK_S / 4  # BS.1770 blocks overlap by 75%: a block is four hops


def _k_weighting(n: int, sample_rate: int) -> np.ndarray:
    """|H|^2 of BS.1770's K-weighting at the rfft bins of n samples, scaled so that
    (|rfft(x)|^2 @ weights) is the K-weighted energy (sum of squares) of x (Parseval)."""
    out = np.ones(n // 2 + 1)
    z = np.exp(-2j * np.pi * np.fft.rfftfreq(n, 1.0 / sample_rate) / sample_rate)
    # the two stages as pyloudnorm builds them (RBJ cookbook): a +4 dB shelf at 1500 Hz, a 38 Hz high-pass
    for gain_db, q, fc, shelf in ((4.0, 1 / np.sqrt(2), 1500.0, True), (0.0, 0.5, 38.0, False)):
        a_ = 10 ** (gain_db / 40.0)
        w0 = 2 * np.pi * fc / sample_rate
        alpha, c = np.sin(w0) / (2 * q), np.cos(w0)
        if shelf:
            s = 2 * np.sqrt(a_) * alpha
            b = (a_ * ((a_ + 1) + (a_ - 1) * c + s), -2 * a_ * ((a_ - 1) + (a_ + 1) * c),
                 a_ * ((a_ + 1) + (a_ - 1) * c - s))
            a = ((a_ + 1) - (a_ - 1) * c + s, 2 * ((a_ - 1) - (a_ + 1) * c), (a_ + 1) - (a_ - 1) * c - s)
        else:
            b = ((1 + c) / 2, -(1 + c), (1 + c) / 2)
            a = (1 + alpha, -2 * c, 1 - alpha)
        out *= np.abs((b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)) ** 2
    out *= 2.0 / n
    out[0] /= 2
    if n % 2 == 0:
        out[-1] /= 2
    return out


class HopMeter:
    """BS.1770 loudness of a signal fed in blocks of any size, in flat memory.

    Each 100 ms hop is K-weighted on its own in the frequency domain (its power
    spectrum times the filters' |H|^2), so a file of any length is measured as
    it streams past and nothing but one number per hop is kept. Against
    pyloudnorm (time-domain filters over the whole signal) it agrees within
    0.01 LU on noise, music-like beds and tones (tests/test_bed.py).
    Pure numpy: scipy's import alone costs an export some 70 MB.
    """

    def __init__(self, sample_rate: int):
        self.hop = int(round(HOP_S * sample_rate))
        self._weights = _k_weighting(self.hop, sample_rate)
        self._carry = np.zeros(0)
        self._hops: list[np.ndarray] = []

    def feed(self, block: np.ndarray) -> None:
        x = np.concatenate([self._carry, _mono64(block)])
        whole = len(x) // self.hop * self.hop
        if whole:
            spectrum = np.fft.rfft(x[:whole].reshape(-1, self.hop), axis=1)
            self._hops.append((spectrum.real ** 2 + spectrum.imag ** 2) @ self._weights)
        self._carry = x[whole:]

    def blocks_lufs(self) -> np.ndarray:
        """The loudness of every 400 ms block (75% overlap) fed so far; -inf for silent ones."""
        h = np.concatenate(self._hops) if self._hops else np.zeros(0)
        if len(h) < 4:
            return np.zeros(0)
        z = (h[:-3] + h[1:-2] + h[2:-1] + h[3:]) / (4 * self.hop)
        with np.errstate(divide="ignore"):
            return -0.691 + 10.0 * np.log10(z)

    def integrated(self) -> float:
        """Integrated loudness (gated as BS.1770-4) of what was fed; -inf for silence or < 400 ms."""
        blocks = self.blocks_lufs()
        blocks = blocks[blocks >= -70.0]
        if not len(blocks):
            return float("-inf")
        power = 10.0 ** ((blocks + 0.691) / 10.0)
        relative = -0.691 + 10.0 * np.log10(np.mean(power)) - 10.0
        return float(-0.691 + 10.0 * np.log10(np.mean(power[blocks > relative])))

    def loud_passages(self, percentile: float = 95.0) -> float:
        """The loudness of the loud passages: the given percentile of the blocks above -70 LUFS."""
        blocks = self.blocks_lufs()
        blocks = blocks[blocks >= -70.0]
        return float(np.percentile(blocks, percentile)) if len(blocks) else float("-inf")
