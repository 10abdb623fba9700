"""Loudness: trimming, normalizing and limiting clips before they are mixed.

Pure numpy on mono float arrays; no I/O. Speech is brought to one
loudness (BS.1770 integrated loudness, measured as pyloudnorm does) so that every phrase
sounds equally loud whatever engine or voice made it; chimes are brought to
one peak; the summed mix goes through a memoryless soft clipper; a lossy
export's loudest regions are turned down by `dipped`. The meters are in meter.py.
"""
from __future__ import annotations

import numpy as np

from .meter import BLOCK_S, OVERSAMPLE, _db_to_gain, _mono64, bs1770_lufs, oversampled, running_min
TRUE_PEAK_DBFS = -1.0  # normalize_speech guarantees at most this true peak
LIMITER_RADIUS_S = 0.008  # the gain envelope turns down over 8 ms on either side of a peak
MAX_GAIN_DB = 40.0  # never lift a near-silent clip into loud noise
KNEE_RATIO = 0.8  # soft_limit is the identity below KNEE_RATIO * ceiling


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
    return bs1770_lufs(_loop_for_meter(x, sample_rate), sample_rate, BLOCK_S)


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
    peak = max(np.max(np.abs(x)), np.max(np.abs(oversampled(x, OVERSAMPLE))))
    return float(20.0 * np.log10(peak))


def _true_peak_envelope(x: np.ndarray) -> np.ndarray:
    """Per sample, the largest oversampled magnitude within half a sample of it."""
    up = np.abs(oversampled(x, OVERSAMPLE))
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
    spread = running_min(required, radius)
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


def _box(a: np.ndarray, radius: int) -> np.ndarray:
    """The mean of a[i - radius : i + radius + 1], the edges extended with the end values."""
    padded = np.pad(a, (radius + 1, radius), mode="edge")
    sums = np.cumsum(padded)
    return (sums[2 * radius + 1:] - sums[:-2 * radius - 1]) / (2 * radius + 1)


def dipped(render, dips: dict[int, float], region: int, reach: int, ramp: int):
    """render(start, n) turned down by dips[k] dB around each region k: a render of the same kind.

    Region k is samples k * region to (k + 1) * region. Its dip covers the
    `reach` regions on either side in full and eases in and out over about
    2 * `ramp` samples beyond them (two box averages of `ramp`, a smooth S);
    where dips overlap, the deeper one holds. Elsewhere the samples pass unchanged.
    Each block's gain is computed from the dips alone, so any split into blocks
    gives the same samples (to float rounding).
    """
    ramp_regions = -(-2 * ramp // region)

    def gain_db(start: int, n: int) -> np.ndarray | None:
        first = (start - 2 * ramp) // region - reach
        last = (start + n + 2 * ramp) // region + reach
        near = [k for k in range(first, last + 1) if k in dips]
        if not near:
            return None
        # depth per region over the block and its ramps, spread over the reach, then per sample
        lo, hi = first - ramp_regions, last + ramp_regions
        depth = np.zeros(hi - lo + 1)
        for k in near:
            a, b = k - reach - lo, k + reach + 1 - lo
            depth[a:b] = np.maximum(depth[a:b], dips[k])
        per_sample = np.repeat(depth, region)
        offset = start - lo * region
        window = per_sample[offset - 2 * ramp:offset + n + 2 * ramp]
        return _box(_box(window, ramp), ramp)[2 * ramp:2 * ramp + n]

    def out(start: int, n: int) -> np.ndarray:
        db = gain_db(start, n)
        if db is None:
            return render(start, n)
        return (_mono64(render(start, n)) * 10.0 ** (-db / 20.0)).astype(np.float32)

    return out
