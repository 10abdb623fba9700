"""The listener's parts with real pieces: the gate (pure), speexdsp's canceller, pocketsphinx in a simulated room."""
from __future__ import annotations

import numpy as np
import pytest

from support.room import MIC_RATE, Room, voice_clip
from voicecoach.listen import open_listener
from voicecoach.listen.canceller import Canceller
from voicecoach.listen.gate import Gate
from voicecoach.listen.hearing import Hearing
from voicecoach.timeline import Event, Timeline

RATE = 22050


def timeline(*events: Event, seconds: float = 20.0) -> Timeline:
    return Timeline("t", "T", RATE, round(seconds * RATE), (), tuple(events))


def test_the_gate_lets_quiet_words_act_and_only_strict_pause_or_stop_over_the_coach_none_over_a_chime():
    said = Event("speech", 2 * RATE, 2 * RATE, 0, text="Next: knee hug, and stop if it hurts.")
    chime = Event("chime", 8 * RATE, RATE // 2, 0, sound="bell")
    gate = Gate(timeline(said, chime))
    over = (3 * RATE, 3 * RATE + 8000)
    quiet = (6 * RATE, 6 * RATE + 8000)
    assert gate.judge("next", -0.1, False, *quiet).command == "next"
    assert gate.judge("continue", -0.1, False, None, None).command == "play"  # paused: nothing sounds
    assert gate.judge("next", -0.1, True, *over).reason == "the coach says it"
    assert gate.judge("stop", -0.1, True, *over).reason == "the coach says it"
    assert gate.judge("repeat", -0.1, True, *over).command is None
    pressing = Gate(timeline(Event("speech", 2 * RATE, 2 * RATE, 0, text="Press. 3 seconds.")))
    assert pressing.judge("pause", -0.1, True, *over).reason == "the coach says it"  # it sounds alike
    assert gate.judge("pause", -0.1, False, *over).reason == "over the coach: below the barge-in threshold"
    assert gate.judge("pause", -0.1, True, *over).command == "pause"
    assert gate.judge("pause", -0.1, True, 8 * RATE + 100, 8 * RATE + 900).reason == "over the session's own chime"
    tail = 8 * RATE + RATE // 2 + round(0.2 * RATE)  # the room's echo of the chime, inside the tail
    assert gate.judge("next", -0.1, False, tail, tail + 100).command is None
    assert gate.judge("next", -0.1, False, tail + RATE, tail + RATE + 100).command == "next"


def test_a_word_begun_before_the_session_and_ending_over_its_first_chime_never_acts():
    prompt = Event("chime", 0, RATE, 0, sound="prompt")  # the desk prompt: the session's first sound
    gate = Gate(timeline(prompt))
    assert gate.judge("pause", -0.1, True, None, RATE // 2).reason == "over the session's own chime"
    assert gate.judge("pause", -0.1, True, RATE // 2, None).reason == "over the session's own chime"  # paused
    assert gate.judge("pause", -0.1, True, None, 5 * RATE).reason == "over the session's own chime"
    assert gate.judge("continue", -0.1, False, None, None).command == "play"  # nothing played through the word


def test_the_canceller_takes_a_delayed_reverberant_echo_out():
    rng = np.random.default_rng(3)
    reference = (rng.standard_normal(6 * MIC_RATE) * 3000).astype(np.int16)
    ir = np.exp(-np.arange(400) / 60.0) * rng.standard_normal(400) * 0.3
    ir[0] = 0.6
    echo = np.convolve(reference.astype(np.float64), ir)[:len(reference)]
    mic = np.concatenate([np.zeros(320), echo])[:len(reference)].astype(np.int16)  # 20 ms late
    canceller = Canceller(MIC_RATE)
    try:
        out = canceller.process(mic, reference)
    finally:
        canceller.close()
    last = slice(4 * MIC_RATE, None)  # after it has converged
    taken = 10 * np.log10(np.mean(mic[last].astype(float) ** 2) / np.mean(out[last].astype(float) ** 2))
    assert taken > 15, f"only {taken:.1f} dB of echo removed"


def coach(seconds: float, speech_at: float, text: str) -> tuple[np.ndarray, Timeline]:
    """A session of silence with one phrase spoken by espeak-ng at `speech_at`."""
    import soxr

    clip = voice_clip("espeak:en-us", text)
    clip = soxr.resample(clip * 4, MIC_RATE, RATE).astype(np.float32)
    session = np.zeros(round(seconds * RATE), np.float32)
    at = round(speech_at * RATE)
    session[at:at + len(clip)] = clip
    return session, timeline(Event("speech", at, len(clip), 0, text=text), seconds=seconds)


@pytest.mark.slow
@pytest.mark.parametrize("cancel", [True, False])
def test_words_in_quiet_act_and_the_coachs_own_words_never_do(cancel):
    session, plan = coach(14.0, 6.0, "Next: knee hug. Stop and pause if it hurts.")
    room = Room(session, RATE, ser_db=0.0)
    room.say("next", "flite:rms", voice_clip("flite:rms", "next"), 2.0, False)
    room.say("pause", "flite:rms", voice_clip("flite:rms", "pause"), 11.5, False)
    hearing = Hearing(RATE, cancel=cancel)
    hearing.follow(plan)
    try:
        events = room.run(hearing)
    finally:
        hearing.close()
    acted = [(round(at / MIC_RATE, 1), e.verdict.command) for at, e in events if e.verdict.command]
    assert [c for _, c in acted] == ["next", "pause"], [(at, e.verdict) for at, e in events]
    # judged soon after each word ended: the spotter's latency plus the quiet looked for after it
    for (at, _), word in zip(acted, room.words):
        assert 0 < at - (word.at + word.length) / MIC_RATE < 0.6


def test_no_sound_server_means_no_listening_and_one_reason(no_audio_env):
    ears, why = open_listener(RATE)
    assert ears is None
    assert why.startswith("not listening: no sound server to listen through")


def _diverge(canceller: Canceller) -> None:
    """An echo path the filter learns, then gone, then a clipped frame: speexdsp resets and says so on fd 2."""
    rng = np.random.default_rng(1)
    ref = (rng.standard_normal(16000 * 20) * 8000).clip(-32768, 32767).astype(np.int16)
    mic = np.concatenate([ref[:16000 * 10], np.zeros(16000 * 10, np.int16)])
    for k in range(0, len(ref), 1600):
        canceller.process(mic[k:k + 1600], ref[k:k + 1600])
    full = np.full(1600, 32767, np.int16)
    canceller.process(full, full)


def test_speexdsps_reset_warning_never_reaches_stderr_while_listening_and_everything_else_does(capfd):
    import os

    from voicecoach.listen.sieve import Sieve

    canceller = Canceller()
    try:
        _diverge(canceller)
        assert "acting funny" in capfd.readouterr().err  # speexdsp does say it: the sieve has work to do
        with Sieve():
            os.write(2, b"before\n")
            _diverge(canceller)
            os.write(2, b"after, ")
            os.write(2, b"in two writes\n")
    finally:
        canceller.close()
    err = capfd.readouterr().err
    assert "acting funny" not in err
    assert err == "before\nafter, in two writes\n"


def test_the_spotter_takes_an_empty_read():
    from voicecoach.listen.spotter import Spotter

    spotter = Spotter()
    assert spotter.feed(np.zeros(0, np.int16)) == []  # a microphone read with nothing new yet
    assert spotter.feed(np.zeros(1600, np.int16)) == []


def test_why_not_listening_is_said_for_listen_given_and_for_the_config_files_only_with_verbose(capsys, tmp_path):
    from voicecoach.cli.live import say_not_listening
    from voicecoach.cli.output import settings as cli
    from voicecoach.config import load_config
    from voicecoach.settings import resolve

    path = tmp_path / "config.yaml"
    path.write_text("listen: true\n")
    from_file = resolve(load_config(path), {})
    given = resolve(None, {"listen": True}, labels={"listen": "--listen"})
    assert from_file.listen and from_file.origin("listen") == "config.yaml:1" and given.origin("listen") == "--listen"
    verbose = cli.verbose
    try:
        cli.verbose = False
        say_not_listening("not listening: no microphone", from_file)
        assert capsys.readouterr().err == ""
        say_not_listening("not listening: no microphone", given)
        assert capsys.readouterr().err == "voicecoach: not listening: no microphone\n"
        cli.verbose = True
        say_not_listening("not listening: no microphone", from_file)
        assert capsys.readouterr().err == "voicecoach: not listening: no microphone\n"
    finally:
        cli.verbose = verbose


def test_one_word_spotted_as_two_commands_acts_once_as_the_longer():
    from voicecoach.listen.gate import Verdict
    from voicecoach.listen.hearing import Event as Judged, one_command_a_word
    from voicecoach.listen.spotter import Heard

    stop = Judged(Heard("stop", -0.12, 409760, 418880, True, True), Verdict("stop", -0.12, "quit", "quiet"))
    back = Judged(Heard("back", -0.17, 416960, 418880, False, True), Verdict("back", -0.17, "restart", "quiet"))
    later = Judged(Heard("next", -0.1, 430000, 436000, False, True), Verdict("next", -0.1, "next", "quiet"))
    judged = one_command_a_word([back, stop, later])
    assert [e.verdict.command for e in judged] == [None, "quit", "next"]
    assert judged[0].verdict.reason == 'part of "stop"'


def test_the_reference_reaches_the_canceller_at_the_delay_measured_not_after_the_resamplers_own():
    """The reference for a microphone block is what played `lag` before it: the canceller's filter
    only reaches forward, so a reference that came later than the echo (the resampler's held-back
    delay once made it 40 ms late) leaves the echo in."""
    import soxr

    from voicecoach.listen.reference import Reference

    rng = np.random.default_rng(0)
    session = (rng.standard_normal(10 * RATE) * 0.1).astype(np.float32)
    reference = Reference(RATE, MIC_RATE, lag_s=0.05)
    reference.put(0, session)
    step = 320
    out = np.concatenate([reference.take(step, round((k + step) * RATE / MIC_RATE))
                          for k in range(0, 9 * MIC_RATE, step)]).astype(np.float64)
    ideal = soxr.resample(session, RATE, MIC_RATE).astype(np.float64)
    lags = range(0, 2000)
    seg = slice(MIC_RATE, 8 * MIC_RATE)
    match = [abs(np.dot(out[seg], ideal[seg.start - lag:seg.stop - lag])) for lag in lags]
    best = lags[int(np.argmax(match))] / MIC_RATE
    assert abs(best - 0.05) < 0.001, f"the reference is {best * 1000:.1f} ms behind what played, not 50 ms"
