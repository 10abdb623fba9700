"""Background beds as inputs: the built-in loops, files decoded in blocks, and every kind of bad input.

Bad input is checked where a user meets it: `validate` for a routine's
`background:` key (FILE:LINE:COL: message), and the CLI for --background (one
line, exit 1, nothing written).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyloudnorm
import pytest
import soundfile
from typer.testing import CliRunner

from voicecoach import background
from voicecoach.cli import app
from voicecoach.config import load_config
from voicecoach.errors import InputError, RoutineError
from voicecoach.routines import load_file

RATE = 22050
SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "make_sounds.py"
runner = CliRunner()


def beds_at(rate: int) -> dict[str, np.ndarray]:
    return {name: background.open_background("bed", background.bed_path(name), name, rate, 10 * rate).samples
            for name in background.BEDS}


# --- the built-in beds --------------------------------------------------------------------

@pytest.mark.slow  # runs the generator
def test_the_generator_makes_the_committed_beds_and_check_sees_a_changed_or_stray_one(tmp_path):
    out = tmp_path / "sounds"
    assert subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], capture_output=True).returncode == 0
    for name in background.BEDS:
        made, committed = soundfile.read(str(out / f"{name}.flac"), dtype="int16"), \
            soundfile.read(str(background.bed_path(name)), dtype="int16")
        assert made[1] == committed[1] and np.array_equal(made[0], committed[0]), name
    pcm, rate = soundfile.read(str(out / "rain.flac"), dtype="int16")
    pcm[1000] += 1
    soundfile.write(str(out / "rain.flac"), pcm, rate, subtype="PCM_16")
    shutil.copy(out / "pad.flac", out / "stray.flac")
    check = subprocess.run([sys.executable, str(SCRIPT), "--check", "--out", str(out)], capture_output=True, text=True)
    assert check.returncode == 1
    assert "differs:" in check.stderr and "rain.flac" in check.stderr and "stray.flac" in check.stderr


@pytest.mark.parametrize("name", list(background.BEDS))
def test_each_bed_is_small_and_loops_without_a_click_or_a_level_jump(name):
    assert background.bed_path(name).stat().st_size < 450_000
    for rate in (22050, 44100):  # resampled in the frequency domain: still a seamless loop
        x = beds_at(rate)[name].astype(np.float64)
        looped = np.concatenate([x[-rate:], x[:rate]])
        steps = np.abs(np.diff(x))
        assert abs(x[0] - x[-1]) <= steps.max(), "the loop point is a step like any other"
        assert abs(x[0] - x[-1]) <= np.percentile(steps, 99.9)
        half = rate // 2
        before, after = (np.sqrt(np.mean(looped[i:i + half] ** 2)) for i in (rate - half, rate))
        assert abs(20 * np.log10(after / before)) < 1.5, "no level jump across the loop point"


def test_beds_are_measured_once_and_their_loud_passages_are_what_sets_their_level():
    a = background.open_background("bed", background.bed_path("ocean"), "ocean", RATE, RATE)
    assert background.open_background("bed", background.bed_path("ocean"), "ocean", RATE, RATE) is a
    whole = pyloudnorm.Meter(RATE).integrated_loudness(np.tile(a.samples, 2).astype(np.float64))
    assert whole < a.loud_db < whole + 6  # the waves' crests are louder than the average


def test_backgrounds_lists_every_bed():
    result = runner.invoke(app, ["backgrounds"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["rain", "ocean", "pad"]
    assert lines[0] == "rain       16 s loop  steady soft rain, with scattered drops"


# --- a file, decoded in blocks ----------------------------------------------------------------

def test_a_stereo_44k_file_is_decoded_to_mono_without_its_silent_ends_and_read_anywhere(tmp_path):
    rate = 44100
    t = np.arange(6 * rate) / rate
    music = 0.3 * np.sin(2 * np.pi * 330 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t))
    stereo = np.stack([music, 0.5 * music], axis=1)
    padded = np.concatenate([np.zeros((rate, 2)), stereo, np.zeros((2 * rate, 2))])
    path = tmp_path / "calm.flac"
    soundfile.write(str(path), padded, rate, subtype="PCM_24")
    b = background.open_background("file", path, "calm.flac", RATE, 60 * RATE)
    assert abs(b.length - 6 * RATE) < 0.01 * RATE  # 1 s of silence before and 2 s after left out
    whole = b.read(0, b.length)
    expected = 0.75 * 0.3 * np.sin(2 * np.pi * 330 * np.arange(b.length) / RATE)
    lag = int(np.argmax(np.correlate(whole[:2000], expected[:2000], "full"))) - 1999
    assert abs(lag) <= 30  # starts where the sound starts
    assert abs(np.max(np.abs(whole)) - 0.75 * 0.3 * 1.5) < 0.01
    rng = np.random.default_rng(1)
    for _ in range(50):
        pos = int(rng.integers(0, b.length - 1))
        n = int(rng.integers(1, b.length - pos))
        assert np.array_equal(b.read(pos, n), whole[pos:pos + n])
    assert b.loud_db == pytest.approx(
        float(np.percentile(_block_lufs(whole), 95)), abs=0.05)


def _block_lufs(x: np.ndarray) -> np.ndarray:
    meter = pyloudnorm.Meter(RATE)
    meter.integrated_loudness(x.astype(np.float64))
    blocks = np.array(meter.blockwise_loudness)
    return blocks[blocks >= -70]


def test_a_file_longer_than_the_session_is_decoded_only_as_far_as_the_session_needs(tmp_path):
    path = tmp_path / "long.wav"
    soundfile.write(str(path), 0.1 * np.random.default_rng(2).standard_normal(30 * RATE), RATE)
    b = background.open_background("file", path, "long.wav", RATE, 5 * RATE)
    assert b.length == 5 * RATE


# --- bad input: validate names the routine's key ---------------------------------------

def _write_bad(folder: Path, kind: str) -> str:
    """A file of the given kind of badness in `folder`; returns the name a routine gives."""
    if kind == "missing":
        return "gone.flac"
    if kind == "corrupt":
        (folder / "calm.flac").write_bytes(b"fLaC" + bytes(range(256)) * 8)
        return "calm.flac"
    if kind == "empty":
        (folder / "calm.wav").write_bytes(b"")
        return "calm.wav"
    if kind == "no frames":
        soundfile.write(str(folder / "calm.wav"), np.zeros(0), RATE)
        return "calm.wav"
    if kind == "unsupported":  # ffmpeg (a test requirement) makes the AAC file libsndfile cannot read
        src = folder / "src.wav"
        soundfile.write(str(src), 0.1 * np.sin(np.arange(RATE) / 5), RATE)
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(src), "-c:a", "aac", str(folder / "calm.m4a")], check=True)
        return "calm.m4a"
    if kind == "unreadable":
        soundfile.write(str(folder / "calm.wav"), 0.1 * np.ones(RATE), RATE)
        (folder / "calm.wav").chmod(0)
        return "calm.wav"
    if kind == "outside":
        return "../elsewhere/calm.flac"
    if kind == "unknown name":
        return "rian"
    raise AssertionError(kind)


BAD = {
    "missing": "background file 'gone.flac' not found (looked for ",
    "corrupt": "cannot read background file 'calm.flac': ",
    "empty": "background file 'calm.wav' is empty: it holds no audio",
    "no frames": "background file 'calm.wav' is empty: it holds no audio",
    "unsupported": "cannot read background file 'calm.m4a': not an audio format voicecoach reads",
    "unreadable": "cannot read background file 'calm.wav': ",
    "outside": "background file '../elsewhere/calm.flac' is outside the routine's folder: it must be inside ",
    "unknown name": "unknown background 'rian' (did you mean 'rain'?); built-in beds: rain, ocean, pad, "
                    "or give the path of an audio file",
}


def validate_unprivileged(folder: Path, name: str) -> subprocess.CompletedProcess:
    """`voicecoach validate NAME` in a child that mode bits stop: as root, one without the two
    capabilities that let root read any file (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)."""
    cmd = [sys.executable, "-m", "voicecoach", "validate", name]
    if os.geteuid() == 0:
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *cmd]
    return subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("kind", list(BAD))
def test_validate_reports_a_bad_background_key_at_its_line(kind, tmp_path, monkeypatch):
    folder = tmp_path / "routines"
    folder.mkdir()
    (tmp_path / "elsewhere").mkdir()
    soundfile.write(str(tmp_path / "elsewhere" / "calm.flac"), 0.1 * np.ones(RATE), RATE)
    name = _write_bad(folder, kind)
    (folder / "r.yaml").write_text(f"title: t\nbackground: {name}\nsteps: [{{name: a, duration: 5}}]\n")
    monkeypatch.chdir(folder)
    if kind == "unreadable":  # a file the user may not read, also when the tests run as root
        done = validate_unprivileged(folder, "r.yaml")
        result = SimpleNamespace(exit_code=done.returncode, stderr=done.stderr, output=done.stdout + done.stderr)
    else:
        result = runner.invoke(app, ["validate", "r.yaml"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("r.yaml:2:13: " + BAD[kind]), result.stderr
    assert "Traceback" not in result.output


def test_a_good_background_key_validates(tmp_path):
    soundfile.write(str(tmp_path / "calm.ogg"), 0.1 * np.sin(np.arange(3 * RATE) / 5), RATE)
    for name in ("rain", "calm.ogg", "./calm.ogg"):
        (tmp_path / "r.yaml").write_text(f"title: t\nbackground: {name}\nsteps: [{{name: a, duration: 5}}]\n")
        assert load_file(tmp_path / "r.yaml").background == name


# --- bad input: the command line --------------------------------------------------------

FLAG = {
    "missing": "voicecoach: background file 'gone.flac' not found (looked for ",
    "corrupt": "voicecoach: cannot read background file 'calm.flac': ",
    "empty": "voicecoach: background file 'calm.wav' is empty: it holds no audio",
    "no frames": "voicecoach: background file 'calm.wav' is empty: it holds no audio",
    "unsupported": "voicecoach: cannot read background file 'calm.m4a': not an audio format voicecoach reads",
    "unknown name": "voicecoach: unknown background 'rian' (did you mean 'rain'?)",
}


@pytest.mark.parametrize("kind", list(FLAG))
def test_a_bad_background_flag_is_one_line_exit_1_before_any_speech_and_writes_nothing(kind, tmp_path,
                                                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = _write_bad(tmp_path, kind)
    out = tmp_path / "out"
    out.mkdir()
    # a speech program that does not exist: reaching synthesis would be exit 3, not 1
    result = runner.invoke(app, ["export", "kd4", "-o", str(out / "x.wav"), "--background", name,
                                 "--tts-command", "no-such-tts-program {out}"])
    assert result.exit_code == 1, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith(FLAG[kind]), result.stderr
    assert not list(out.iterdir())


def test_contradicting_flags_are_one_line():
    result = runner.invoke(app, ["export", "kd4", "-o", "x.wav", "--background", "rain", "--no-background"])
    assert result.exit_code == 1
    assert result.stderr == "voicecoach: --background and --no-background contradict each other; give one of them\n"


@pytest.mark.parametrize("level", ["-3", "-41"])
def test_a_level_out_of_range_is_a_usage_error(level):
    result = runner.invoke(app, ["export", "kd4", "-o", "x.wav", "--background", "rain", "--background-level", level])
    assert result.exit_code == 2


def test_the_config_file_names_a_default_bed_and_a_wrong_one_at_its_line(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("background: ~/music/calm.flac\nduck: 15\nbackground_level: -25\n")
    cfg = load_config(config)
    assert cfg.background == str(Path("~/music/calm.flac").expanduser()) and (cfg.duck, cfg.background_level) == (15, -25)
    config.write_text("background: oceans\n")
    with pytest.raises(RoutineError, match=r"config.yaml:1:13: unknown background 'oceans' \(did you mean 'ocean'\?\)"):
        load_config(config)
    config.write_text("duck: 50\n")
    with pytest.raises(RoutineError, match="expected duck in dB from 0 to 40, found 50"):
        load_config(config)


def test_silent_and_too_short_files_are_refused_when_decoded(tmp_path):
    soundfile.write(str(tmp_path / "silent.wav"), np.zeros(3 * RATE), RATE)
    soundfile.write(str(tmp_path / "blip.wav"), np.concatenate([np.zeros(RATE), 0.5 * np.ones(3 * RATE // 10)]), RATE)
    with pytest.raises(InputError, match="background file 'silent.wav' is silent"):
        background.open_background("file", tmp_path / "silent.wav", "silent.wav", RATE, 60 * RATE)
    with pytest.raises(InputError, match=r"background file 'blip.wav' holds only 0.3 s of sound; a background needs "
                                         r"at least 1 s"):
        background.open_background("file", tmp_path / "blip.wav", "blip.wav", RATE, 60 * RATE)
