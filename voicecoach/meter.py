"""Meters: the loudness and the true peak of signals, in numpy alone.

Pure, like level.py, which levels clips with them. A whole clip is measured as
pyloudnorm and scipy's resample_poly would measure it (tests/test_meter.py holds
them side by side); a session of any length is measured in blocks as it streams
past (HopMeter, TruePeakMeter), in flat memory. No scipy: its signal package
alone costs an export some 75 MB of memory and a warm export half its run time.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

BLOCK_S = 0.4  # BS.1770 gating block
OVERSAMPLE = 4  # for true peak, as BS.1770 asks


def _db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def _mono64(signal: np.ndarray) -> np.ndarray:
    return np.asarray(signal, dtype=np.float64).reshape(-1)


@lru_cache(maxsize=4)
def _upsampling_taps(factor: int) -> np.ndarray:
    """The low-pass scipy's resample_poly(x, factor, 1) designs, times `factor`:
    firwin(20 * factor + 1, 1 / factor, window=("kaiser", 5.0)), scaled to unit gain at 0 Hz."""
    half = 10 * factor
    m = np.arange(0, 2 * half + 1) - 0.5 * (2 * half)
    cutoff = 1.0 / factor
    h = cutoff * np.sinc(cutoff * m) * np.kaiser(2 * half + 1, 5.0)
    return h / np.sum(h) * factor


def oversampled(x: np.ndarray, factor: int = OVERSAMPLE) -> np.ndarray:
    """`x` at `factor` times its rate, as scipy's resample_poly(x, factor, 1) gives it (to float rounding).

    Output sample factor * k + p is the taps of phase p (every factor-th tap from p)
    over x around k: one short convolution per phase.
    """
    x = _mono64(x)
    taps, lead = _upsampling_taps(factor), 10
    out = np.empty(len(x) * factor)
    for p in range(factor):
        out[p::factor] = np.convolve(x, taps[p::factor])[lead:lead + len(x)]
    return out


# --- loudness of long signals, measured in blocks -------------------------------

HOP_S = BLOCK_S / 4  # BS.1770 blocks overlap by 75%: a block is four hops


def _stages(sample_rate: int) -> list[tuple[tuple[float, float, float], tuple[float, float, float]]]:
    """The two stages of BS.1770's K-weighting as pyloudnorm builds them (RBJ cookbook), as (b, a):
    a +4 dB shelf at 1500 Hz, then a 38 Hz high-pass."""
    stages = []
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
        stages.append((b, a))
    return stages


def _k_weighting(n: int, sample_rate: int) -> np.ndarray:
    """|H|^2 of BS.1770's K-weighting at the rfft bins of n samples, scaled so that
    (|rfft(x)|^2 @ weights) is the K-weighted energy (sum of squares) of x (Parseval)."""
    out = np.ones(n // 2 + 1)
    z = np.exp(-2j * np.pi * np.fft.rfftfreq(n, 1.0 / sample_rate) / sample_rate)
    for b, a in _stages(sample_rate):
        out *= np.abs((b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)) ** 2
    out *= 2.0 / n
    out[0] /= 2
    if n % 2 == 0:
        out[-1] /= 2
    return out


@lru_cache(maxsize=8)
def _k_impulse(sample_rate: int) -> np.ndarray:
    """The K-weighting's impulse response over half a second, where it has decayed below 1e-50.

    The slower stage (the 38 Hz high-pass, a double pole at 0.989 at 22050 Hz, as
    close to 1 at any rate in proportion) falls by e^-120 in half a second, so
    this truncated response filters as the recursive filter does, to float rounding.
    """
    n = sample_rate // 2 + 3
    h = np.zeros(n)
    h[0] = 1.0
    for b, a in _stages(sample_rate):
        b0, b1, b2 = (v / a[0] for v in b)
        a1, a2 = a[1] / a[0], a[2] / a[0]
        x1 = x2 = y1 = y2 = 0.0
        out = [0.0] * n
        for i, x in enumerate(h.tolist()):
            y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
            x2, x1, y2, y1 = x1, x, y1, y
            out[i] = y
        h = np.array(out)
    return h


def k_weighted(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """`x` through BS.1770's K-weighting from rest, as scipy's lfilter would filter it (to float rounding).

    A convolution with the impulse response, by FFT, in numpy alone: scipy.signal's
    import costs some 75 MB, which an hour's export with a bed felt as most of its peak.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    n = len(x) + len(_k_impulse(sample_rate)) - 1
    # the smallest m * 2^k (m in 1, 3, 5, 9, 15) that holds the whole convolution: an FFT size numpy does fast
    size = min(m << (-(-n // m) - 1).bit_length() for m in (1, 3, 5, 9, 15))
    return np.fft.irfft(np.fft.rfft(x, size) * _k_spectrum(sample_rate, size), size)[:len(x)]


@lru_cache(maxsize=32)
def _k_spectrum(sample_rate: int, size: int) -> np.ndarray:
    return np.fft.rfft(_k_impulse(sample_rate), size)


def bs1770_lufs(x: np.ndarray, sample_rate: int, block_s: float = 0.4) -> float:
    """Integrated loudness (LUFS) of a whole signal at least one block long, as pyloudnorm's Meter measures it.

    The same K-weighting, the same block bounds (75% overlap) and the same two gates,
    in numpy alone; -inf when no block is over the absolute gate.
    """
    y = k_weighted(x, sample_rate)
    step = 0.25
    count = int(np.round(((len(y) / sample_rate - block_s) / (block_s * step)))) + 1
    z = np.array([np.sum(np.square(y[int(block_s * (j * step) * sample_rate):int(block_s * (j * step + 1) * sample_rate)]))
                  for j in range(count)]) * (1.0 / (block_s * sample_rate))
    with np.errstate(divide="ignore"):
        loudness = -0.691 + 10.0 * np.log10(z)
    gated = z[loudness >= -70.0]
    if not len(gated):
        return float("-inf")
    relative = -0.691 + 10.0 * np.log10(np.mean(gated)) - 10.0
    kept = z[(loudness > relative) & (loudness > -70.0)]
    if not len(kept):
        return float("-inf")
    return float(-0.691 + 10.0 * np.log10(np.mean(kept)))


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
# (encoding.py); these run over a whole session in blocks, in flat memory, in numpy
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


def running_max(a: np.ndarray, radius: int) -> np.ndarray:
    return -running_min(-a, radius)


def running_min(a: np.ndarray, radius: int) -> np.ndarray:
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
