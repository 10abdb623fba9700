"""Loudness: trimming, normalizing and limiting clips before they are mixed.

Pure numpy/scipy on mono float arrays; no I/O. Speech is brought to one
loudness (BS.1770 integrated loudness, via pyloudnorm) so that every phrase
sounds equally loud whatever engine or voice made it; chimes are brought to
one peak; the summed mix goes through a memoryless soft clipper.
"""
from __future__ import annotations

from functools import lru_cache

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


# --- true peaks of long signals, in blocks (numpy only) ----------------------------
#
# A lossy encoder (MP3, Vorbis) adds a fraction of a dB to the peaks it is given:
# sessions limited to -1.5 dBTP decoded at up to -0.6 dBTP from MP3 and -0.7 dBTP
# from Ogg. The export measures the file it wrote and limits again where needed
# (export.py); these run over a whole session in blocks, in flat memory, in numpy
# alone (scipy's import costs a warm export half its run time).

_HALF_TAPS = 16  # the interpolation filter reads 16 samples on either side
_ROWS_AT_ONCE = 4096  # samples interpolated in one product: 1 MB of windows


@lru_cache(maxsize=None)
def _interpolator(factor: int) -> np.ndarray:
    """Polyphase taps, shape (factor, 2 * _HALF_TAPS): row p gives the signal at n + p / factor
    from x[n - _HALF_TAPS + 1], ..., x[n + _HALF_TAPS].

    A Kaiser-windowed sinc (beta 8); each row sums to 1, so a constant stays
    constant, and row 0 is the sample itself. Against scipy's resample_poly it
    agrees within 0.03 dB on tones up to 0.45 of the sample rate.
    """
    k = np.arange(-_HALF_TAPS + 1, _HALF_TAPS + 1)
    rows = []
    for p in range(factor):
        t = p / factor - k
        window = np.i0(8.0 * np.sqrt(np.clip(1.0 - (t / _HALF_TAPS) ** 2, 0.0, 1.0))) / np.i0(8.0)
        row = np.sinc(t) * window
        rows.append(row / row.sum())
    return np.array(rows)


def _running_max(a: np.ndarray, radius: int) -> np.ndarray:
    return -_running_min(-a, radius)


def _running_min(a: np.ndarray, radius: int) -> np.ndarray:
    """min(a[i - radius : i + radius + 1]) for every i (at the edges, of the values that exist), in O(n)."""
    w = 2 * radius + 1
    n = len(a)
    padded = np.concatenate([np.full(radius, np.inf), a, np.full(radius + (-(n + 2 * radius)) % w, np.inf)])
    blocks = padded.reshape(-1, w)
    prefix = np.minimum.accumulate(blocks, axis=1).reshape(-1)
    suffix = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].reshape(-1)
    # each window [i, i + w) of `padded` is the end of one block and the start of the next
    return np.minimum(suffix[:n], prefix[w - 1:w - 1 + n])


def _after_each(x: np.ndarray, factor: int, floor: float) -> np.ndarray:
    """For n in [_HALF_TAPS, len(x) - _HALF_TAPS): the largest |signal| at n + p / factor, p = 0 .. factor - 1.

    Exact wherever that can reach `floor`; elsewhere |x[n]|, which is then under
    `floor` too. A point between samples is a weighted sum of 32 samples whose
    weights add up (in magnitude) to at most 2.4, so it can only reach `floor` where
    one of those samples reaches floor / 2.4. Only there is it computed: for a
    floor of -1.2 dBFS, 6% of the samples of a spoken session.
    """
    h = _HALF_TAPS
    mag = np.abs(x)
    out = mag[h:len(x) - h].copy()
    taps = _interpolator(factor)
    # Samples n in [h + h * b, h + h * (b + 1)) read from x[h * b + 1 : h * b + 3 * h]: three blocks of h.
    n_blocks = -(-len(out) // h)
    block_max = np.zeros(n_blocks + 2)
    whole = len(mag) // h * h
    block_max[:whole // h] = mag[:whole].reshape(-1, h).max(axis=1)
    if whole < len(mag):
        block_max[whole // h] = mag[whole:].max()
    reach = np.maximum(np.maximum(block_max[:n_blocks], block_max[1:n_blocks + 1]), block_max[2:n_blocks + 2])
    near = np.flatnonzero(reach * np.abs(taps).sum(axis=1).max() >= floor)
    if len(near):
        rows = (near[:, None] * h + np.arange(h)).reshape(-1)
        rows = rows[rows < len(out)] + h
        offsets = np.arange(-h + 1, h + 1)
        # A few thousand rows at a time: the windows of a whole loud 64k block (and their
        # indices) took 34 MB at once, which an hour's mp3 export with a bed felt as its peak.
        for part in range(0, len(rows), _ROWS_AT_ONCE):
            some = rows[part:part + _ROWS_AT_ONCE]
            windows = x[some[:, None] + offsets]
            # einsum rather than `@`: BLAS's threads, on a busy machine, made the product ten times slower
            out[some - h] = np.abs(np.einsum("ij,kj->ik", windows, taps)).max(axis=1)
    return out


class TruePeakMeter:
    """The true peak (dBFS) of a signal fed in blocks of any size, in flat memory.

    `factor` times oversampled: 8 (176.4 kHz at 22050 Hz) comes close to ffmpeg's
    ebur128 filter, which oversamples to 192 kHz. The result is exact when it is at
    or above `floor_dbfs`; under it, it may read low (it is then under the floor too).
    With `region` (samples), `over` collects the peak of every region of that many
    samples (region k: samples k * region to (k + 1) * region) that goes over the floor.
    """

    def __init__(self, factor: int = 8, floor_dbfs: float = float("-inf"), region: int | None = None):
        self.factor = factor
        self.floor = _db_to_gain(floor_dbfs) if floor_dbfs > -400 else 0.0
        self.region = region
        self.over: dict[int, float] = {}  # region -> its peak in dBFS, for the regions over the floor
        self._carry = np.zeros(2 * _HALF_TAPS)  # silence before the start
        self._fed = 0
        self._peak = 0.0

    def feed(self, block: np.ndarray) -> None:
        block = _mono64(block)
        self._take(np.concatenate([self._carry, block]))
        self._fed += len(block)
        self._carry = np.concatenate([self._carry, block])[-2 * _HALF_TAPS:]

    def _take(self, x: np.ndarray) -> None:
        if len(x) <= 2 * _HALF_TAPS:
            return
        after = _after_each(x, self.factor, self.floor)
        self._peak = max(self._peak, float(after.max()))
        if self.region is not None:
            loud = np.flatnonzero(after > self.floor)
            # after[i] is the signal from sample (fed - h + i) to the next one
            for k, value in zip(*_group_max((self._fed - _HALF_TAPS + loud) // self.region, after[loud])):
                db = float(20.0 * np.log10(value))
                self.over[int(k)] = max(self.over.get(int(k), db), db)

    def peak_dbfs(self) -> float:
        """The largest magnitude fed so far, between the samples too (silence after the end); -inf for silence."""
        self._take(np.concatenate([self._carry, np.zeros(_HALF_TAPS + 1)]))
        self._carry = np.concatenate([self._carry, np.zeros(_HALF_TAPS + 1)])[-2 * _HALF_TAPS:]
        self._fed += _HALF_TAPS + 1
        return float(20.0 * np.log10(self._peak)) if self._peak > 0 else float("-inf")


def _group_max(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys (sorted) and the largest value of each."""
    if not len(keys):
        return keys, values
    unique, index = np.unique(keys, return_inverse=True)
    out = np.zeros(len(unique))
    np.maximum.at(out, index, values)
    return unique, out


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
