"""A live session that starts before all its speech exists (growing.py), with a real engine and sound server.

The speaker is the real one (pyttsx3 on espeak-ng); only its pace is held back
by a gate, to show what happens when speech falls behind the play.
"""
from __future__ import annotations

import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from voicecoach.growing import GrowingSession, blocks, prepare_live, speak_ahead
from voicecoach.player import LivePlay, Part
from voicecoach.routines import load, load_file
from voicecoach.session import Session, estimated_timeline, options, prepare_session, sound_clips
from voicecoach.sinks import to_int16
from voicecoach.speech import Speaker, Voice, piperspare
from voicecoach.timeline import compile, phrases

RATE = 22050
ROUTINE = """\
title: Growing check
intro: Three short holds.
safety: false
countdown: 0
steps:
  - name: First
    duration: 2s
    prep: 0.5s
  - name: Second
    duration: 2s
    prep: 0.5s
    cues:
      - at: 1s
        say: Halfway there.
  - name: Third
    duration: 2s
    prep: 0.5s
"""


@pytest.mark.parametrize("name", ["morning", "psoas-release", "desk-break"])
@pytest.mark.parametrize("lead_in,start", [(0.0, 0), (5.0, 0), (5.0, 1)])
def test_the_blocks_hold_every_phrase_in_the_order_it_sounds(name, lead_in, start):
    routine = load(name)
    opts = options(lead_in=lead_in, start_step=start)
    found = blocks(routine, opts)
    assert {t for _, texts in found for t in texts} == set(phrases(routine, opts))
    keys = [where for where, _ in found]
    opening = [k for k in keys if k is None or k < 0]
    assert keys[0] is None and opening == [None] + list(range(-1, -len(opening), -1))
    later = keys[len(opening):]
    assert later == sorted(later) and later[0] == start and later[-1] == len(estimated_timeline(routine, opts).steps) + start


def test_a_wait_goes_before_an_announcement_and_never_into_a_hold():
    routine = load("morning")
    opts = options(lead_in=5.0)
    lengths = {t: 9000 + 37 * len(t) for t in phrases(routine, opts)}
    sounds = {n: len(c) for n, c in sound_clips(routine, RATE).items()}
    plain = compile(routine, lengths, sounds, opts)
    waited = compile(routine, lengths, sounds, replace(opts, waits=((-1, 500), (2, 1000), (len(plain.steps), 7))))
    shift = {0: 500, 1: 500}
    for before, after in zip(plain.steps, waited.steps):
        assert after.end_sample - after.start_sample == before.end_sample - before.start_sample
        assert after.start_sample - after.announce_sample == before.start_sample - before.announce_sample
        assert after.announce_sample - before.announce_sample == shift.get(before.index, 1500)
    assert waited.total_samples == plain.total_samples + 1507
    intro = sorted(e.sample for e in plain.events if e.text is not None and e.step is None)[1]
    assert [e for e in waited.events if e.sample < intro] == [e for e in plain.events if e.sample < intro] != []
    assert {e.sample + 500 for e in plain.events if e.sample >= intro and e.step in (None, 0, 1)} >= \
        {e.sample for e in waited.events if intro <= e.sample < waited.steps[2].announce_sample}


class Gated:
    """A real Speaker whose phrases after the first `free` calls wait for `gate`: speech falling behind."""

    def __init__(self, speaker: Speaker, free: int):
        self.speaker, self.free, self.gate = speaker, free, threading.Event()
        self.voice, self.cache = speaker.voice, speaker.cache

    def clips(self, texts, progress=None, each=None):
        if self.free <= 0:
            self.gate.wait(30)
        self.free -= 1
        return self.speaker.clips(texts, progress, each)

    def close(self):
        self.speaker.close()


def _session(tmp_path, free: int) -> tuple[GrowingSession, Gated, object]:
    path = tmp_path / "growing.yaml"
    path.write_text(ROUTINE)
    routine = load_file(path)
    speaker = Gated(Speaker(Voice(engine="pyttsx3", rate=220), RATE, cache_dir=tmp_path / "cache"), free)
    session = GrowingSession(routine, options(lead_in=0.0), speaker)
    return session, speaker, routine


def test_the_frontier_never_moves_back_and_what_was_final_stays(tmp_path):
    session, speaker, routine = _session(tmp_path, free=2)  # the intro and the first step
    session.until(session.initial + 1)
    final, total = session.ready()
    assert total is None and final == session.timeline.steps[1].announce_sample
    early = session.render(0, final).copy()
    session.advance(final - 10)  # the listener is near the frontier: the silence before step 2 grows
    assert session.waiting and session.final > final
    assert np.array_equal(session.render(0, final), early)
    speaker.gate.set()
    session.until_complete()
    session.advance(0)
    assert not session.waiting and session.ready() == (session.timeline.total_samples,) * 2
    assert np.array_equal(session.render(0, final), early)
    # the grown timeline is the compiled one with its waits; the holds are the routine's to the sample
    plain = compile(routine, {t: len(c) for t, c in session._clips.items()},
                    {n: len(c) for n, c in session.sound.items()}, options(lead_in=0.0))
    assert [s.end_sample - s.start_sample for s in session.timeline.steps] == \
        [s.end_sample - s.start_sample for s in plain.steps] == [2 * RATE] * 3
    assert session.timeline.total_samples - plain.total_samples == sum(w for _, w in session._waits.items()) > 0


def test_prepare_live_is_a_prepared_session_when_the_speech_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICECOACH_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "growing.yaml"
    path.write_text(ROUTINE)
    routine, voice = load_file(path), Voice(engine="pyttsx3", rate=220)
    cold = prepare_live(routine, options(lead_in=0.0), voice)
    assert isinstance(cold, GrowingSession)
    cold.until_complete()
    warm = prepare_live(routine, options(lead_in=0.0), voice)
    assert isinstance(warm, Session)
    assert warm.timeline == prepare_session(routine, options(lead_in=0.0), voice).timeline


def test_a_neural_process_started_ahead_is_ended_when_the_speech_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICECOACH_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "growing.yaml"
    path.write_text(ROUTINE)
    routine, voice = load_file(path), Voice(engine="pyttsx3", rate=220)
    speak_ahead("pyttsx3")  # no process of its own to start
    assert piperspare._WAITING == {}
    prepare_session(routine, options(lead_in=0.0), voice)  # the cache filled
    speak_ahead("piper")
    spare = piperspare._WAITING["proc"]
    assert isinstance(prepare_live(routine, options(lead_in=0.0), voice), Session)
    assert piperspare._WAITING == {} and spare.poll() is not None


@pytest.mark.audio
def test_a_growing_session_plays_exactly_its_final_timeline(tmp_path, pulse_env):
    session, speaker, _ = _session(tmp_path, free=2)
    session.until(session.initial)

    def behind() -> None:  # the speech stays behind for a second after the play began to wait for it
        deadline = time.monotonic() + 60
        while not session.waiting and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(1.0)
        speaker.gate.set()

    threading.Thread(target=behind, daemon=True).start()
    rec = pulse_env.record(tmp_path / "played.wav")
    seen: list[str] = []
    with LivePlay("pulse", mpris=False, lock=False) as live:
        outcome = live.play_plan([Part.of(session)], show=seen.append)
    time.sleep(0.3)
    recording = rec.stop()
    assert outcome.finished
    assert session._waits, "the speech was never behind: the test shows nothing"
    assert any("Waiting for speech" in text for text in seen)
    expected = to_int16(session.render(0, session.timeline.total_samples))
    played = np.rint(recording * 32768).astype(np.int16)
    start = int(np.flatnonzero(played)[0]) - int(np.flatnonzero(expected)[0])
    assert start >= 0 and len(played) >= start + len(expected)
    differ = np.flatnonzero(played[start:start + len(expected)] != expected)
    assert len(differ) == 0, f"{len(differ)} samples differ from the grown session, the first at {differ[0]}"


@pytest.mark.audio
def test_next_waits_for_the_next_steps_words_then_plays_them_exactly(tmp_path, pulse_env):
    session, speaker, _ = _session(tmp_path, free=1)  # only the intro: the first step's words are behind
    session.until(session.initial)
    pressed = []

    def keys():
        if not pressed:
            pressed.append(time.monotonic())
            threading.Timer(1.0, speaker.gate.set).start()
            return "n"
        return None

    rec = pulse_env.record(tmp_path / "played.wav")
    with LivePlay("pulse", mpris=False, lock=False) as live:
        outcome = live.play_plan([Part.of(session)], keys=keys)
    time.sleep(0.3)
    recording = rec.stop()
    assert outcome.finished and pressed
    first = session.timeline.steps[0]
    assert first.index == 0
    expected = to_int16(session.render(first.announce_sample, session.timeline.total_samples - first.announce_sample))
    played = np.rint(recording * 32768).astype(np.int16)
    # aligned on the last sound: from the step's announcement to the end, what played is the grown session
    last_played, last = int(np.flatnonzero(played)[-1]), int(np.flatnonzero(expected)[-1])
    shift, at = last_played - last, int(np.flatnonzero(expected)[0])
    assert shift >= 0
    assert np.array_equal(played[shift + at:shift + last + 1], expected[at:last + 1])
