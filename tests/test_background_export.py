"""Sessions with a background, exported through the CLI with real speech and read back by an independent decoder.

The bed's own part of an export is the export minus the same session exported
without a bed (same speech cache, so the same speech samples). Everything
measured here is measured in those decoded files: the duck under each phrase
(against an export with --duck 0), the fades, the loop points, the chimes, the
loudness and the true peak.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from support import ebur128
from support.audiofind import find
from voicecoach import sounds
from voicecoach.cli import app

# exports with beds, seconds each
pytestmark = pytest.mark.slow

RATE = 22050
ROUTINE = "morning"
runner = CliRunner()


def decode(path: Path) -> np.ndarray:
    """The file's samples as float, by ffmpeg (not the library that wrote it; required, never skipped)."""
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is not installed (scripts/setup.sh installs it): it decodes the exports")
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1", "-ar", str(RATE), "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32767.0


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    return {"VOICECOACH_CACHE_DIR": str(home / "cache"), "VOICECOACH_CONFIG": str(home / "config.yaml"),
            "HOME": str(home)}


@pytest.fixture(scope="module")
def export(env, tmp_path_factory):
    """export(*options) -> (samples, timeline dict), each distinct export made once; export.files: the WAVs."""
    folder = tmp_path_factory.mktemp("exports")
    made: dict[tuple, tuple] = {}
    files: dict[tuple, Path] = {}

    def run(*options: str, routine: str = ROUTINE):
        key = (routine, *options)
        if key not in made:
            wav, plan = folder / f"e{len(made)}.wav", folder / f"e{len(made)}.json"
            result = runner.invoke(app, ["export", routine, "-o", str(wav), "--timeline", str(plan), *options], env=env)
            assert result.exit_code == 0, result.output
            made[key] = (decode(wav), json.loads(plan.read_text()))
            files[key] = wav
        return made[key]

    run.files = files
    return run


def rms_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.square(x)) + 1e-20)


def free_of_ducks(plan: dict, margin: int) -> np.ndarray:
    """A mask of the samples at least `margin` away from every duck and both fades."""
    bg = plan["background"]
    free = np.ones(plan["total_samples"], dtype=bool)
    free[:bg["fade_in_samples"] + margin] = False
    free[plan["total_samples"] - bg["fade_out_samples"] - margin:] = False
    for a, b in bg["ducks"]:
        free[max(0, a - bg["duck_down_samples"] - margin):b + bg["duck_up_samples"] + margin] = False
    return free


def test_under_every_phrase_the_bed_is_at_least_the_duck_lower_and_between_phrases_it_is_there(export, record_property):
    plain, _ = export("--no-background")
    ducked, plan = export("--background", "rain")
    steady, _ = export("--background", "rain", "--duck", "0")
    bed, full = ducked - plain, steady - plain
    depths = []
    for e in plan["events"]:
        if "text" in e:
            a, b = e["sample"], e["sample"] + e["samples"]
            depths.append(rms_db(bed[a:b]) - rms_db(full[a:b]))
    record_property("duck_depth_db", [round(min(depths), 2), round(max(depths), 2)])
    assert len(depths) >= 20 and max(depths) <= -12.0 + 0.1, depths  # 0.1 dB: 16-bit rounding of a quiet bed
    free = free_of_ducks(plan, RATE // 10)
    assert free.sum() > 60 * RATE  # a minute of holds where the bed plays at its level
    assert rms_db(bed[free]) == pytest.approx(rms_db(full[free]), abs=0.05)
    speech = np.concatenate([plain[e["sample"]:e["sample"] + e["samples"]] for e in plan["events"] if "text" in e])
    between = rms_db(bed[free]) - rms_db(speech)
    record_property("bed_below_speech_db", round(between, 1))
    assert -26 < between < -16  # clearly there, well below the words


def test_the_bed_fades_in_and_out(export):
    plain, _ = export("--no-background")
    steady, plan = export("--background", "rain", "--duck", "0")
    bed = steady - plain
    quarter, total = RATE // 4, plan["total_samples"]
    assert plan["background"]["fade_in_samples"] == 3 * RATE and plan["background"]["fade_out_samples"] == 4 * RATE
    body = rms_db(bed[4 * RATE:6 * RATE])
    assert rms_db(bed[:quarter]) < body - 25
    assert rms_db(bed[total - quarter:]) < body - 25
    rises = [rms_db(bed[i:i + quarter]) for i in range(0, 3 * RATE, quarter)]
    assert all(b > a for a, b in zip(rises, rises[1:]))


def _worst_jump_at_seams(bed: np.ndarray, plan: dict) -> tuple[float, float, int]:
    """(largest step within 10 ms of any loop point, largest step elsewhere, seams seen), in the bed's own part."""
    bg = plan["background"]
    period, cross, total = bg["loop_samples"], bg["crossfade_samples"], plan["total_samples"]
    free = free_of_ducks(plan, RATE // 10)
    steps = np.abs(np.diff(bed))
    near = np.zeros(len(steps), dtype=bool)
    seams = 0
    for k in range(1, total // period + 1):
        a, b = k * period - RATE // 100, k * period + cross + RATE // 100
        if b < total and free[a:b].all():
            near[a:b] = True
            seams += 1
    return float(steps[near].max()), float(steps[free[:-1] & ~near].max()), seams


@pytest.mark.parametrize("which", ["rain", "ocean", "file"])
def test_loop_points_jump_no_more_than_the_bed_itself(which, export, tmp_path_factory, record_property):
    if which == "file":  # a 10-second piece that ends far from where it starts: crossfaded
        path = tmp_path_factory.mktemp("music") / "calm.flac"
        t = np.arange(10 * 44100) / 44100
        tone = 0.2 * np.sin(2 * np.pi * 220 * t) * (0.3 + t / 10) + 0.05 * np.sin(2 * np.pi * 0.9 * 440 * t)
        sf.write(str(path), np.stack([tone, tone * 0.8], axis=1), 44100)
        option = str(path)
    else:
        option = which
    plain, _ = export("--no-background")
    looped, plan = export("--background", option, "--duck", "0")
    assert plan["background"]["crossfade_samples"] == (3 * RATE if which == "file" else 0)
    at_seams, elsewhere, seams = _worst_jump_at_seams(looped - plain, plan)
    record_property("seam_vs_own_jump", [round(at_seams * 32767), round(elsewhere * 32767), seams])
    assert seams >= 3
    assert at_seams <= elsewhere + 2 / 32767  # two 16-bit steps: the rounding of both exports


def test_every_chime_is_still_found_on_its_sample_and_clearly_above_the_bed(export, record_property):
    audio, plan = export("--background", "rain")
    plain, _ = export("--no-background")
    window = RATE // 20  # the strike: a tick lasts 100 ms, its energy is in the first half
    above = [rms_db(plain[e["sample"]:e["sample"] + window]) - rms_db((audio - plain)[e["sample"]:e["sample"] + window])
             for e in plan["events"] if e["kind"] in ("chime", "tick")]
    record_property("chimes_above_bed_db", round(min(above), 1))
    assert min(above) > 16  # measured 18 for the quietest, a tick; the bells more
    starts = find(audio, sounds.load("bell", RATE), threshold=0.5)
    ends = find(audio, sounds.load("bell-double", RATE), threshold=0.5)
    boundaries = sorted({s["start_sample"] for s in plan["steps"]} | {s["end_sample"] for s in plan["steps"]})
    assert sorted(starts + ends) == boundaries
    planned = sorted(e["sample"] for e in plan["events"] if e.get("sound") == "tick")
    assert find(audio, sounds.load("tick", RATE), threshold=0.5) == planned


@pytest.mark.parametrize("routine, bed", [(ROUTINE, "rain"), (ROUTINE, "ocean"), (ROUTINE, "pad"),
                                          ("psoas-release", "rain"), ("desk-break", "pad")])
def test_loudness_and_true_peak_with_a_bed(routine, bed, export, record_property):
    # psoas-release (forty soft breath tones) and desk-break (ticks, little speech) integrated
    # 0.8-1.0 LU low before the session measured itself and levelled its speech again
    # judged by ffmpeg's ebur128, not voicecoach's own meter: -16 LUFS within a quarter LU, peaks below -1 dBFS
    audio, plan = export("--background", bed, routine=routine)
    lufs, peak = ebur128.measure(export.files[(routine, "--background", bed)])
    record_property("lufs", lufs)
    record_property("true_peak_dbfs", peak)
    assert abs(lufs + 16.0) <= 0.25
    assert peak < -1.0
    assert plan["background"]["source"] == bed and plan["background"]["level_db"] == -20.0


def test_the_timeline_records_the_bed_and_ducks_every_phrase(export):
    _, plan = export("--background", "rain")
    bg = plan["background"]
    assert {k: bg[k] for k in ("source", "kind", "duck_db", "requested_level_db", "crossfade_samples")} == \
        {"source": "rain", "kind": "bed", "duck_db": 12.0, "requested_level_db": -20.0, "crossfade_samples": 0}
    assert bg["loop_samples"] == 16 * RATE
    for e in plan["events"]:
        if "text" in e:
            assert any(a <= e["sample"] - RATE * 0.15 and e["sample"] + e["samples"] + RATE * 0.2 <= b
                       for a, b in bg["ducks"]), e
    _, none = export("--no-background")
    assert "background" not in none


def test_a_routine_names_its_bed_and_the_flag_overrides_it(env, tmp_path):
    (tmp_path / "r.yaml").write_text("title: Bed\nbackground: ocean\nsafety: false\n"
                                     "steps: [{name: Lie still, duration: 20s}]\n")
    for extra, source in (((), "ocean"), (("--background", "pad"), "pad"), (("--no-background",), None)):
        result = runner.invoke(app, ["export", str(tmp_path / "r.yaml"), "-o", str(tmp_path / "r.wav"),
                                     "--force", "--timeline", str(tmp_path / "r.json"), *extra], env=env)
        assert result.exit_code == 0, result.output
        assert json.loads((tmp_path / "r.json").read_text()).get("background", {}).get("source") == source


def test_a_home_relative_file_and_a_config_default(env, tmp_path):
    music = Path(env["HOME"]) / "music"
    music.mkdir(exist_ok=True)
    sf.write(str(music / "calm.flac"), 0.1 * np.sin(np.arange(5 * RATE) / 7), RATE)
    result = runner.invoke(app, ["export", "kd4", "-o", str(tmp_path / "k.mp3"), "--timeline", str(tmp_path / "k.json"),
                                 "--background", "~/music/calm.flac"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "k.json").read_text())["background"]["source"] == "~/music/calm.flac"
    config = tmp_path / "config.yaml"
    config.write_text("background: pad\nduck: 18\n")
    result = runner.invoke(app, ["export", "kd4", "-o", str(tmp_path / "c.wav"), "--timeline", str(tmp_path / "c.json")],
                           env={**env, "VOICECOACH_CONFIG": str(config)})
    assert result.exit_code == 0, result.output
    bg = json.loads((tmp_path / "c.json").read_text())["background"]
    assert (bg["source"], bg["duck_db"]) == ("pad", 18.0)


def _corrupt_in_the_middle(path: Path) -> None:
    sf.write(str(path), 0.1 * np.random.default_rng(4).standard_normal(20 * RATE), RATE)
    data = bytearray(path.read_bytes())
    data[len(data) // 2:len(data) // 2 + 4000] = bytes(4000)
    path.write_bytes(bytes(data))


def test_a_file_found_corrupt_while_decoding_is_one_line_and_nothing_is_written(env, tmp_path):
    _corrupt_in_the_middle(tmp_path / "calm.flac")
    out = tmp_path / "out"
    out.mkdir()
    result = runner.invoke(app, ["export", "kd4", "-o", str(out / "k.mp3"), "--background", str(tmp_path / "calm.flac")],
                           env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"voicecoach: cannot read background file '{tmp_path / 'calm.flac'}': ")
    assert len(result.stderr.splitlines()) == 1 and not list(out.iterdir())
    # the same file named by a routine: the error points at its key
    (tmp_path / "r.yaml").write_text("title: t\nsafety: false\nbackground: calm.flac\nsteps: [{name: a, duration: 5}]\n")
    result = runner.invoke(app, ["export", str(tmp_path / "r.yaml"), "-o", str(out / "r.wav")], env=env)
    assert result.exit_code == 1 and not list(out.iterdir())
    assert result.stderr.startswith(f"{tmp_path / 'r.yaml'}:3:13: cannot read background file 'calm.flac': ")


# --- memory: an hour with an hour-long file ---------------------------------------------

LONG = """title: An hour on the floor
safety: false
countdown: 0
intro: An hour of slow release.
steps:
""" + "".join(f"  - {{name: Hold {i + 1}, duration: 10m, say: Stay with it.}}\n" for i in range(6))


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak from /proc")
def test_an_hour_with_an_hour_long_background_file_stays_within_120_mb(env, tmp_path, record_property):
    # The first export with the bed is the heavy one: its speech is levelled again to a new target
    # (it imported scipy for that once, 143 MB); the meters are numpy's alone now (test_meter.py).
    music = tmp_path / "hour.flac"
    loop = 0.2 * np.sin(2 * np.pi * 220 * np.arange(44100 * 10) / 44100) * np.linspace(0.5, 1, 441000)
    with sf.SoundFile(str(music), "w", samplerate=44100, channels=2, subtype="PCM_16") as f:
        for _ in range(360):  # an hour, written in ten-second pieces
            f.write(np.stack([loop, loop * 0.9], axis=1))
    routine = tmp_path / "hour.yaml"
    routine.write_text(LONG)

    def peak_mb(out: Path, *extra: str) -> float:
        # VmHWM, the peak of this process's own memory: ru_maxrss would start from the
        # resident size of the process that started it (pytest, over 100 MB).
        code = ("import runpy, sys; sys.argv = ['voicecoach', 'export', %r, '-o', %r, *%r];\n"
                "try:\n    runpy.run_module('voicecoach', run_name='__main__')\n"
                "except SystemExit as e:\n    assert not e.code, e.code\n"
                "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"
                ) % (str(routine), str(out), extra)
        result = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True,
                                text=True, timeout=900)
        assert result.returncode == 0, result.stderr
        return int(result.stdout.strip().splitlines()[-1]) / 1024

    # Synthesize once: the bound is for a warm export, as in bench/. The words do not depend on
    # the scale, so a session a hundredth as long fills the same speech cache as the whole hour.
    peak_mb(tmp_path / "warm-up.wav", "--no-background", "--scale", "0.01")
    without = peak_mb(tmp_path / "plain.mp3", "--no-background")
    with_bed = peak_mb(tmp_path / "hour.mp3", "--background", str(music))
    record_property("peak_rss_mb", {"without bed": round(without), "with an hour-long bed file": round(with_bed)})
    assert sf.info(str(tmp_path / "hour.mp3")).duration > 3600
    assert without <= 120 and with_bed <= 120
