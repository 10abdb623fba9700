"""The background bed's pure core: the streamed loudness meter, the plan, and rendering by absolute sample."""
from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voicecoach import bed, meter
from voicecoach.mixer import Mixer
from voicecoach.timeline import Event, Timeline

RATE = 22050
FLOOR = 10 ** (-12 / 20)


class Array:
    """A reader over an array, as background.LoopBed is."""

    def __init__(self, x):
        self.x = np.ascontiguousarray(x, dtype=np.float32)
        self.length = len(self.x)

    def read(self, pos, n):
        assert 0 <= pos and pos + n <= self.length, (pos, n)
        return self.x[pos:pos + n]


def noise(seconds, seed=1, rate=RATE):
    return np.random.default_rng(seed).standard_normal(int(seconds * rate)) * 0.1


def timeline(total_s, speech_s, rate=RATE):
    """A timeline of `total_s` seconds with speech events at the given (start, end) seconds."""
    events = tuple(Event("speech", round(a * rate), round((b - a) * rate), None, text=f"phrase {i}")
                   for i, (a, b) in enumerate(speech_s))
    return Timeline("t", "T", rate, round(total_s * rate), (), events)


def planned(tl, kind="bed", length=None, choice=bed.BedChoice(), loud_db=-30.0):
    return bed.plan(tl, "x", kind, length or 5 * tl.sample_rate, loud_db, choice, -15.5)


# --- the meter ----------------------------------------------------------------------

def _signals(rate):
    n, t = 20 * rate, np.arange(20 * rate) / rate
    rng = np.random.default_rng(3)
    pink = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) / np.sqrt(np.maximum(np.fft.rfftfreq(n, 1 / rate), 20)), n)
    return {
        "white noise": rng.standard_normal(n) * 0.1,
        "pink noise": 0.3 * pink / np.abs(pink).max(),
        "50 Hz tone": 0.3 * np.sin(2 * np.pi * 50 * t),
        "5 kHz tone": 0.3 * np.sin(2 * np.pi * 5000 * t),
        "gated noise": rng.standard_normal(n) * 0.1 * (np.sin(2 * np.pi * 0.3 * t) > 0.5),
        "quiet then loud": rng.standard_normal(n) * np.where(t < 10, 0.003, 0.2),
    }


@pytest.mark.parametrize("rate", [22050, 44100])
@pytest.mark.parametrize("name", list(_signals(22050)))
def test_streamed_meter_agrees_with_pyloudnorm(rate, name):
    x = _signals(rate)[name]
    hops = meter.HopMeter(rate)
    for i in range(0, len(x), 12345):  # odd blocks: hops straddle them
        hops.feed(x[i:i + 12345])
    assert hops.integrated() == pytest.approx(pyloudnorm.Meter(rate).integrated_loudness(x), abs=0.02)


def test_meter_does_not_depend_on_the_blocks_it_is_fed():
    x = _signals(RATE)["pink noise"]
    whole, parts = meter.HopMeter(RATE), meter.HopMeter(RATE)
    whole.feed(x)
    for i in range(0, len(x), 777):
        parts.feed(x[i:i + 777])
    # equal to rounding: numpy's FFT may take another SIMD path for another number of rows
    np.testing.assert_allclose(whole.blocks_lufs(), parts.blocks_lufs(), rtol=0, atol=1e-9)


def test_loud_passages_of_a_steady_signal_is_its_loudness_and_silence_is_minus_inf():
    hops = meter.HopMeter(RATE)
    hops.feed(_signals(RATE)["white noise"])
    assert hops.loud_passages() == pytest.approx(hops.integrated(), abs=0.3)
    silent = meter.HopMeter(RATE)
    silent.feed(np.zeros(RATE))
    assert silent.integrated() == silent.loud_passages() == float("-inf")


# --- the plan -------------------------------------------------------------------------

def test_phrases_are_widened_and_near_ones_share_one_duck():
    lead, hold, bridge = round(0.15 * RATE), round(0.2 * RATE), round(0.25 * RATE) + round(0.6 * RATE)
    a = (10 * RATE, 12 * RATE)
    near = (a[1] + hold + bridge + lead, 13 * RATE + 20000)  # its duck starts `bridge` after a's ends: merged
    far = (near[1] + hold + bridge + lead + 1, 20 * RATE)  # one sample further: a duck of its own
    assert bed.duck_spans([far, a, near], RATE) == ((a[0] - lead, near[1] + hold), (far[0] - lead, far[1] + hold))


def test_the_level_is_capped_when_so_little_is_spoken_that_the_bed_would_decide_the_loudness():
    # a third of the session spoken: the default -20 dB stands
    assert bed.gate_cap_db(1 / 3) > -20
    dense = planned(timeline(30, [(0, 10)]))
    assert dense.level_db == dense.requested_level_db == -20
    assert dense.gain_db == pytest.approx(-15.5 - 20 - (-30.0))
    # 1% spoken: lowered, and the timeline says by how much
    sparse = planned(timeline(100, [(10, 11)]))
    assert sparse.requested_level_db == -20 and sparse.level_db == pytest.approx(bed.gate_cap_db(0.01))
    assert sparse.level_db < -30


def test_a_file_is_crossfaded_at_its_loop_point_a_builtin_is_not_and_short_sessions_shrink_the_fades():
    tl = timeline(60, [(1, 2)])
    assert planned(tl, "bed").crossfade == 0
    assert planned(tl, "file", length=10 * RATE).crossfade == 3 * RATE
    assert planned(tl, "file", length=3 * RATE).crossfade == RATE  # at most a third of the file
    assert planned(tl, "file", length=60 * RATE).crossfade == 0  # as long as the session: it never loops
    short = planned(timeline(3.5, [(1, 2)]))
    assert (short.fade_in, short.fade_out) == (round(3.5 * RATE * 3 / 7), round(3.5 * RATE * 4 / 7))


def test_the_plan_goes_into_the_timeline_json():
    tl = timeline(30, [(5, 8)])
    plan = planned(tl)
    out = Timeline(tl.routine, tl.title, RATE, tl.total_samples, (), tl.events, plan).to_dict()
    assert out["background"]["source"] == "x" and out["background"]["duck_db"] == 12.0
    assert out["background"]["ducks"] == [[5 * RATE - round(0.15 * RATE), 8 * RATE + round(0.2 * RATE)]]
    assert "background" not in tl.to_dict()


# --- rendering ------------------------------------------------------------------------

def test_gain_under_speech_is_exactly_the_duck_and_glides_without_steps():
    tl = timeline(30, [(10, 12), (20, 21)])
    x = np.ones(30 * RATE, dtype=np.float32)
    plan = planned(tl, "file", length=len(x), loud_db=-15.5)  # gain = the level
    out = bed.Bed(plan, Array(x)).render(0, tl.total_samples)
    level_ = np.float32(10 ** (plan.level_db / 20))
    for a, b in ((10, 12), (20, 21)):
        assert np.allclose(out[a * RATE:b * RATE], level_ * FLOOR, rtol=1e-6)
    assert np.allclose(out[15 * RATE:17 * RATE], level_, rtol=1e-6)  # between phrases: the full level
    inside = out[4 * RATE:25 * RATE]
    assert np.max(np.abs(np.diff(20 * np.log10(inside)))) < 0.02  # dB per sample: a glide, never a step


def test_fades_start_and_end_at_silence():
    tl = timeline(30, [])
    x = np.ones(30 * RATE, dtype=np.float32)
    out = bed.Bed(planned(tl, "file", length=len(x), loud_db=-15.5), Array(x)).render(-100, tl.total_samples + 200)
    assert not out[:100].any() and not out[-100:].any()
    assert out[100] < 1e-4 * out[15 * RATE] and out[-101] < 1e-4 * out[15 * RATE]
    assert np.all(np.diff(out[100:100 + 3 * RATE]) >= 0)


def _seam(plan, out):
    """The samples around every loop point inside `out`."""
    return [out[k * plan.period - 200:k * plan.period + plan.crossfade + 200]
            for k in range(2, (len(out) - plan.crossfade - 200) // plan.period + 1)]  # past the fade-in


def test_a_crossfaded_loop_point_jumps_no_more_than_the_file_itself():
    t = np.arange(2 * RATE) / RATE
    x = (0.25 * t - 0.25 + 0.05 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)  # a ramp: it ends far from its start
    own = np.max(np.abs(np.diff(x)))
    tl = timeline(20, [])
    plan = planned(tl, "file", length=len(x), loud_db=-15.5)
    out = bed.Bed(plan, Array(x)).render(0, tl.total_samples) / np.float32(10 ** (plan.gain_db / 20))
    assert abs(x[-1] - x[0]) > 10 * own  # looped plainly, it would click
    seams = _seam(plan, out[:16 * RATE])
    assert len(seams) >= 9
    for seam in seams:
        assert np.max(np.abs(np.diff(seam))) <= own * 1.01


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 30000), min_size=1, max_size=40), st.integers(-500, 20 * RATE))
def test_any_block_renders_the_same_samples_whatever_the_block_size(sizes, start):
    tl, x = _session()
    for reader, kind in ((Array(x), "file"), (Array(x[:3 * RATE]), "file"), (Array(x), "bed")):
        b = bed.Bed(planned(tl, kind, length=reader.length), reader)
        whole = b.render(start, sum(sizes))
        at, parts = start, []
        for n in sizes:
            parts.append(b.render(at, n))
            at += n
        assert np.array_equal(np.concatenate(parts), whole)


def test_the_mixer_renders_the_bed_the_same_in_any_blocks_and_under_the_limiter():
    tl, x = _session()
    plan = planned(tl, "file", length=len(x), loud_db=-30.0)
    clips = {("speech", e.text): np.full(e.samples, 0.85, dtype=np.float32) for e in tl.events}  # into the limiter
    mixer = Mixer(Timeline(tl.routine, tl.title, RATE, tl.total_samples, (), tl.events, plan), clips, Array(x))
    whole = mixer.render(0, tl.total_samples)
    rng = np.random.default_rng(7)
    at, parts = 0, []
    while at < tl.total_samples:
        n = int(rng.choice([1, 3, 256, 1024, 4410, 22050]))
        parts.append(mixer.render(at, n))
        at += n
    assert np.array_equal(np.concatenate(parts)[:tl.total_samples], whole)
    with pytest.raises(ValueError):
        Mixer(tl, clips, Array(x))  # a reader for a timeline without a background


def _session():
    tl = timeline(25, [(0, 1.5), (1.85, 3), (6, 6.4), (12.2, 15), (21, 24.5)])
    return tl, noise(7)
