"""Live playback through a real PulseAudio server, measured from its monitor.

Each backend plays a synthetic session into the private server's null sink
while the sink's monitor is recorded; the tones are then found in the
recording to the sample. The session also carries a quiet noise bed that is
never zero, so every played sample is visible and a run of exact zeros in
the recording is time when nothing played. Measured numbers go to the
junit XML (``record_property``).
"""
from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time

import numpy as np
import pytest

from audiofind import find
from pulse import PulseServer
from stall import replay_once
from voicecoach import sinks
from voicecoach.errors import InputError, NoAudioDevice

pytestmark = [pytest.mark.audio]

RATE = 22050
TOTAL = 6 * RATE
TONE_LEN = int(0.03 * RATE)


def _tone(freq: float) -> np.ndarray:
    t = np.arange(TONE_LEN) / RATE
    return (0.5 * np.sin(2 * np.pi * freq * t) * np.hanning(TONE_LEN)).astype(np.float32)


TONES = {"high": _tone(1760.0), "low": _tone(990.0)}
# Every 0.4 s from 0.2 s, alternating tones; the last ends just before TOTAL so
# wait() is checked against the very end of the stream.
PLAN = [(int(0.2 * RATE + k * 0.4 * RATE), "high" if k % 2 == 0 else "low") for k in range(14)]
PLAN.append((TOTAL - TONE_LEN - 5, "high"))


def _stream() -> np.ndarray:
    rng = np.random.default_rng(7)
    bed = rng.choice([-1.0, 1.0], TOTAL) * rng.uniform(0.02, 0.05, TOTAL)
    out = bed.astype(np.float32)
    for onset, name in PLAN:
        out[onset:onset + TONE_LEN] += TONES[name]
    return out


STREAM = _stream()
STREAM_INT = sinks.to_int16(STREAM)


def source(start: int, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.float32)
    part = STREAM[start:start + n]
    out[:len(part)] = part
    return out


@pytest.fixture(params=["miniaudio", "simpleaudio"])
def backend(request, pulse_env):
    if request.param not in sinks.available_backends():
        pytest.skip(f"{request.param} is not available on this Python")
    return request.param


def found_tones(recording: np.ndarray) -> list[tuple[int, str]]:
    """Return (recording index, tone name) of every tone heard, in order."""
    hits = [(i, name) for name, tone in TONES.items() for i in find(recording, tone, 0.8)]
    return sorted(hits)


def as_int(recording: np.ndarray) -> np.ndarray:
    return np.rint(recording * 32768.0).astype(np.int64)


def zero_runs(x: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """Return (start, length) of every run of exact zeros at least min_len long."""
    edges = np.diff(np.concatenate(([0], (x == 0).astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(s), int(e - s)) for s, e in zip(starts, ends) if e - s >= min_len]


def test_plays_every_sample_on_time(backend, pulse_env, tmp_path, record_property):
    for attempt in range(2):
        rec = pulse_env.record(tmp_path / f"plain-{attempt}.wav")
        sink = sinks.open_sink(backend)
        sink.start(source, TOTAL, RATE)
        checks = []
        for _ in range(5):
            time.sleep(0.5)
            checks.append((time.monotonic(), sink.position()))
        assert sink.wait(timeout=TOTAL / RATE + 10)
        waited = time.monotonic()
        assert sink.finished
        time.sleep(0.2)
        sink.stop()
        recording = rec.stop()

        hits = found_tones(recording)
        assert [name for _, name in hits] == [name for _, name in PLAN]
        first = hits[0][0] - PLAN[0][0]
        errors = [(r - first) - s for (r, _), (s, _) in zip(hits, PLAN)]
        if not replay_once(errors, 110, RATE, attempt, f"{backend} sink"):
            break
    record_property("attempts", attempt + 1)
    intervals = [(b[0] - a[0]) - (q[0] - p[0]) for a, b, p, q in zip(hits, hits[1:], PLAN, PLAN[1:])]
    record_property("worst_onset_error_samples", max(map(abs, errors)))
    record_property("worst_interval_error_samples", max(map(abs, intervals)))
    assert max(map(abs, errors)) <= 110  # 5 ms
    assert max(map(abs, intervals)) <= 44  # 2 ms

    # Stronger: the recording holds the stream bit for bit, nothing skipped or repeated.
    played = as_int(recording)
    start = first
    assert np.array_equal(played[start:start + TOTAL], STREAM_INT)
    assert not played[:start].any() and not played[start + TOTAL:].any()

    # position() is what the listener hears, to within the device latency.
    heard = [(t - rec.time_of(start)) * RATE for t, _ in checks]
    pos_err_ms = [1000 * (p - h) / RATE for (_, p), h in zip(checks, heard)]
    record_property("position_error_ms", [round(e, 1) for e in pos_err_ms])
    assert max(map(abs, pos_err_ms)) < 60

    # wait() returns once the last sample has played, not before, not much after.
    late = waited - rec.time_of(start + TOTAL - 1)
    record_property("wait_after_last_sample_ms", round(1000 * late, 1))
    assert -0.02 < late < 0.5


# simpleaudio's stop lets ALSA drain its 100 ms buffer plus the 4 KiB blocks
# already on their way (93 ms each at 22050 Hz mono), so its pause cannot be
# as quick: measured 190-295 ms.
PAUSE_LIMIT_S = {"miniaudio": 0.1, "simpleaudio": 0.4}
# miniaudio keeps the stream position by samples handed over, so resume is
# exact; simpleaudio's position is a clock estimate (see SimpleaudioSink).
RESUME_LIMIT = {"miniaudio": 0, "simpleaudio": int(0.025 * RATE)}


def test_pause_resumes_where_it_stopped(backend, pulse_env, tmp_path, record_property):
    rec = pulse_env.record(tmp_path / "pause.wav")
    sink = sinks.open_sink(backend)
    sink.start(source, TOTAL, RATE)
    time.sleep(2.5)
    paused_at = time.monotonic()
    sink.pause()
    time.sleep(0.3)  # the device's buffer has played out by now
    held = sink.position()
    time.sleep(0.2)
    assert sink.position() == held and not sink.finished
    time.sleep(max(0.0, paused_at + 2.0 - time.monotonic()))
    sink.resume()
    assert sink.wait(timeout=TOTAL / RATE + 10)
    time.sleep(0.2)
    sink.stop()
    recording = rec.stop()
    played = as_int(recording)

    gaps = zero_runs(played[np.flatnonzero(played)[0]:np.flatnonzero(played)[-1]], RATE // 2)
    assert len(gaps) == 1
    gap_start, gap_len = gaps[0]
    gap_start += int(np.flatnonzero(played)[0])
    record_property("gap_s", round(gap_len / RATE, 3))
    assert abs(gap_len / RATE - 2.0) < 0.3

    hits = found_tones(recording)
    before = [(r, s) for (r, _), (s, _) in zip(hits, PLAN) if r < gap_start]
    after_hits = [h for h in hits if h[0] > gap_start]
    after_plan = PLAN[-len(after_hits):]
    after = [(r, s) for (r, _), (s, _) in zip(after_hits, after_plan)]
    assert len(before) + len(after) >= len(PLAN) - 1  # one tone may straddle the pause
    assert [n for _, n in after_hits] == [n for _, n in after_plan]
    offsets_before = {r - s for r, s in before}
    offsets_after = {r - s for r, s in after}
    # Intervals on each side of the gap are exact: one offset per side.
    assert len(offsets_before) == 1 and len(offsets_after) == 1
    stopped = gap_start - offsets_before.pop()  # first stream sample not played before the gap
    resumed = gap_start + gap_len - offsets_after.pop()  # first stream sample after the gap
    record_property("resume_error_samples", resumed - stopped)
    assert abs(resumed - stopped) <= RESUME_LIMIT[backend]
    if backend == "miniaudio":
        assert np.array_equal(played[gap_start - stopped:gap_start], STREAM_INT[:stopped])
        tail = played[gap_start + gap_len:gap_start + gap_len + TOTAL - resumed]
        assert np.array_equal(tail, STREAM_INT[resumed:])

    delay = rec.time_of(gap_start) - paused_at
    record_property("pause_delay_ms", round(1000 * delay, 1))
    record_property("position_while_paused_minus_stopped", held - stopped)
    assert delay < PAUSE_LIMIT_S[backend]
    assert abs(held - stopped) <= RESUME_LIMIT[backend]


def test_stop_silences_quickly(backend, pulse_env, tmp_path, record_property):
    rec = pulse_env.record(tmp_path / "stop.wav")
    sink = sinks.open_sink(backend)
    sink.start(source, TOTAL, RATE)
    time.sleep(1.5)
    stop_call = time.monotonic()
    sink.stop()
    returned = time.monotonic()
    time.sleep(0.8)
    recording = rec.stop()
    played = as_int(recording)
    last = int(np.flatnonzero(played)[-1])
    delay = rec.time_of(last) - stop_call
    record_property("stop_delay_ms", round(1000 * delay, 1))
    record_property("stop_call_ms", round(1000 * (returned - stop_call), 1))
    assert delay < 0.5
    assert returned - stop_call < 0.5
    assert len(played) - last > 0.5 * RATE  # and it stayed silent
    assert not sink.finished


@pytest.mark.parametrize("name", ["miniaudio", "simpleaudio"])
def test_server_gone_mid_session_ends_wait_with_no_audio_device(name, monkeypatch):
    if name not in sinks.available_backends():
        pytest.skip(f"{name} is not available on this Python")
    with PulseServer() as server:  # its own server: this one gets killed
        for key, value in server.env.items():
            monkeypatch.setenv(key, value)
        sink = sinks.open_sink(name)
        sink.start(source, TOTAL, RATE)
        time.sleep(0.5)
        server.stop()
        began = time.monotonic()
        with pytest.raises(NoAudioDevice, match="stopped playing"):
            sink.wait(timeout=TOTAL / RATE + 10)
        assert time.monotonic() - began < 5.0
        sink.stop()


def test_source_error_reaches_the_caller(backend):
    def broken(start: int, n: int) -> np.ndarray:
        if start + n > RATE // 2:
            raise ValueError("mixer broke")
        return np.zeros(n, dtype=np.float32)

    sink = sinks.open_sink(backend)
    try:
        with pytest.raises(ValueError, match="mixer broke"):
            sink.start(broken, RATE, RATE)
            sink.wait(timeout=5)
    finally:
        sink.stop()


@pytest.mark.parametrize("name", ["miniaudio", "simpleaudio"])
def test_no_sound_server_is_no_audio_device(name, no_audio_env):
    if name not in sinks.available_backends():
        pytest.skip(f"{name} is not available on this Python")
    began = time.monotonic()
    with pytest.raises(NoAudioDevice) as caught:
        sinks.open_sink(name)
    assert time.monotonic() - began < 3.0
    message = str(caught.value)
    assert "\n" not in message and "voicecoach export" in message


def test_miniaudio_device_is_chosen_by_name(pulse_env):
    sink = sinks.open_sink("miniaudio", device="null output")  # the null sink's description
    sink.stop()
    with pytest.raises(InputError, match=r"'no such card'.*'Null Output'"):
        sinks.open_sink("miniaudio", device="no such card")


def test_simpleaudio_refuses_a_device_name(pulse_env):
    if "simpleaudio" not in sinks.available_backends():
        pytest.skip("simpleaudio is not available on this Python")
    with pytest.raises(InputError, match="miniaudio"):
        sinks.open_sink("simpleaudio", device="Null Output")


def test_unknown_backend_lists_the_choices():
    with pytest.raises(InputError, match=r"'bogus'.*miniaudio, simpleaudio"):
        sinks.open_sink("bogus")


def test_default_backend_follows_python_version():
    installed = importlib.util.find_spec("simpleaudio") is not None
    old_python = sys.version_info < (3, 12)
    expected = "simpleaudio" if installed and old_python else "miniaudio"
    assert sinks.default_backend() == expected
    assert ("simpleaudio" in sinks.available_backends()) == (installed and old_python)
    assert sinks.backends() == ["miniaudio", "simpleaudio"]


def _realtime_allowed() -> bool:
    """Whether this process may give a thread realtime scheduling (tried in a thread of its own)."""
    result = []
    thread = threading.Thread(target=lambda: result.append(sinks.prefer_realtime()))
    thread.start()
    thread.join()
    return result[0]


def test_the_miniaudio_callback_runs_realtime_where_the_system_allows(pulse_env):
    """Its thread, not the caller's, gets the priority; elsewhere playing goes on as before."""
    allowed = _realtime_allowed()
    sink = sinks.open_sink("miniaudio")
    try:
        sink.start(source, RATE // 2, RATE)
        assert sink.wait(timeout=5)
    finally:
        sink.stop()
    assert sink.realtime == allowed
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the test's own thread is untouched
