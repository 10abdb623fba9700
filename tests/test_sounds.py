"""The built-in sounds: generator, files, names, path rules, loading and distinctness."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from scipy.signal import fftconvolve

from voicecoach import sounds
from voicecoach.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "make_sounds.py"
RATE = 22050
PEAK = 10 ** (-3 / 20)
CHIMES = ("bell", "bell-double", "halfway", "complete", "tick", "rest", "prompt")
LENGTHS_S = {"bell": 0.8, "bell-double": 1.0, "halfway": 0.6, "complete": 1.5, "tick": 0.1}


def run_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def read(name: str) -> np.ndarray:
    data, rate = soundfile.read(str(sounds.builtin_dir() / f"{name}.wav"), dtype="float64")
    assert rate == RATE
    return data


# --- the generator ---------------------------------------------------------------

@pytest.mark.slow  # runs the generator twice
def test_generator_is_deterministic(tmp_path):
    for out in ("a", "b"):
        assert run_script("--out", str(tmp_path / out)).returncode == 0
    names = sorted(p.name for p in (tmp_path / "a").glob("*.wav"))
    assert names == sorted(f"{n}.wav" for n in sounds.SOUND_NAMES)
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_committed_sounds_match_the_generator():
    result = run_script("--check")
    assert result.returncode == 0, result.stderr
@pytest.mark.slow  # runs the generator three times: 5 s


def test_check_fails_on_changed_missing_or_extra_files(tmp_path):
    assert run_script("--out", str(tmp_path)).returncode == 0
    assert run_script("--check", "--out", str(tmp_path)).returncode == 0

    bell = tmp_path / "bell.wav"
    original = bell.read_bytes()
    bell.write_bytes(original[:-2] + b"\x01\x00")
    result = run_script("--check", "--out", str(tmp_path))
    assert result.returncode == 1 and "bell.wav" in result.stderr

    bell.write_bytes(original)
    (tmp_path / "tick.wav").unlink()
    result = run_script("--check", "--out", str(tmp_path))
    assert result.returncode == 1 and "tick.wav" in result.stderr

    assert run_script("--out", str(tmp_path)).returncode == 0
    (tmp_path / "stray.wav").write_bytes(original)
    result = run_script("--check", "--out", str(tmp_path))
    assert result.returncode == 1 and "stray.wav" in result.stderr


# --- the files -------------------------------------------------------------------

def test_names_match_the_files_and_roles():
    files = {p.stem for p in sounds.builtin_dir().glob("*.wav")}
    assert files == set(sounds.SOUND_NAMES)
    assert set(sounds.DEFAULT_CHIMES.values()) <= set(sounds.SOUND_NAMES)
    assert sounds.DEFAULT_CHIMES["start"] == "bell"
    assert sounds.DEFAULT_CHIMES["end"] == "bell-double"
    assert set(sounds.DEFAULT_CHIMES) == {
        "start", "end", "halfway", "complete", "tick", "breath-in", "breath-out", "rest", "prompt"}


@pytest.mark.parametrize("name", sounds.SOUND_NAMES)
def test_file_format_and_peak(name):
    info = soundfile.info(str(sounds.builtin_dir() / f"{name}.wav"))
    assert (info.samplerate, info.channels, info.subtype) == (RATE, 1, "PCM_16")
    data = read(name)
    peak = -15.0 if name.startswith("breath-") else -3.0  # the steady breath tones sit lower
    assert 20 * np.log10(np.max(np.abs(data))) == pytest.approx(peak, abs=0.01)
    assert abs(data[-1]) < 1e-3, "every sound ends on silence"


@pytest.mark.parametrize("name, seconds", LENGTHS_S.items())
def test_lengths(name, seconds):
    assert len(read(name)) == round(seconds * RATE)


@pytest.mark.parametrize("name", CHIMES)
def test_chimes_have_a_sharp_onset(name):
    data = read(name)
    two_ms = int(0.002 * RATE)
    assert abs(data[0]) < 0.01, "starts from silence"
    assert np.max(np.abs(data[:two_ms])) > 0.3 * np.max(np.abs(data)), "full strength within 2 ms"


@pytest.mark.parametrize("name", sounds.SOUND_NAMES)
def test_every_builtin_loads_at_both_rates(name):
    low = sounds.load(name, 22050)
    high = sounds.load(name, 44100)
    for clip in (low, high):
        assert clip.dtype == np.float32 and clip.ndim == 1
        assert not clip.flags.writeable, "cached clips are shared, so read-only"
    np.testing.assert_allclose(low, read(name), atol=1e-7)
    assert abs(len(high) - 2 * len(low)) <= 1
    rms = [np.sqrt(np.mean(np.square(clip, dtype=np.float64))) for clip in (low, high)]
    assert rms[1] == pytest.approx(rms[0], rel=0.01)


# --- distinctness: what the playback tests rely on ----------------------------------

def _global_ncc(a: np.ndarray, b: np.ndarray) -> float:
    """Peak of |cross-correlation| over all lags, normalized by both energies."""
    return float(np.max(np.abs(fftconvolve(b, a[::-1]))) / (np.linalg.norm(a) * np.linalg.norm(b)))


def _sliding_ncc(template: np.ndarray, signal: np.ndarray) -> np.ndarray:
    """Per lag, the correlation of template with the same-length window of signal, normalized
    by the energy of that window (as a detector searching a recording does)."""
    corr = fftconvolve(signal, template[::-1], mode="valid")
    energy = np.concatenate([[0.0], np.cumsum(signal ** 2)])
    window_energy = energy[len(template):] - energy[:-len(template)]
    floor = 1e-3 * np.sum(template ** 2)  # near-silent windows cannot match
    return corr / (np.linalg.norm(template) * np.sqrt(np.maximum(window_energy, floor)))


def _matrix(measure) -> dict[tuple[str, str], float]:
    data = {name: read(name) for name in sounds.SOUND_NAMES}
    return {(a, b): measure(data[a], data[b]) for a in data for b in data}


def test_every_pair_correlates_far_below_autocorrelation():
    matrix = _matrix(_global_ncc)
    for (a, b), value in matrix.items():
        if a == b:
            assert value == pytest.approx(1.0, abs=1e-9)
        else:
            assert value < 0.35, f"{a} vs {b}: {value:.3f}"
    assert matrix["bell", "bell-double"] < 0.05


def test_no_sound_is_found_inside_another():
    def inside(template, signal):
        padded = np.concatenate([np.zeros(len(template)), signal, np.zeros(len(template))])
        return float(np.max(np.abs(_sliding_ncc(template, padded))))

    for (a, b), value in _matrix(inside).items():
        if a != b:
            assert value < 0.35, f"{a} found in {b}: {value:.3f}"


def test_each_sound_is_located_to_the_sample_in_a_busy_mix():
    data = {name: read(name) for name in sounds.SOUND_NAMES}
    # Every sound at its own offset, each overlapping its neighbours.
    offsets = {name: 1000 + 7919 * i for i, name in enumerate(sounds.SOUND_NAMES)}
    mix = np.zeros(max(offsets.values()) + RATE * 2)
    for name, at in offsets.items():
        mix[at:at + len(data[name])] += data[name]
    for name, at in offsets.items():
        ncc = _sliding_ncc(data[name], mix)
        assert int(np.argmax(ncc)) == at, name
        assert ncc[at] > 0.25, name


@pytest.mark.parametrize("name", CHIMES)
def test_chimes_autocorrelate_with_one_sharp_peak(name):
    """Shifted by anything past the main lobe, a chime matches itself at most 0.8:
    a detector cannot slip by a cycle (a plain harmonic tone would give 0.99)."""
    data = read(name)
    auto = fftconvolve(data, data[::-1])[len(data) - 1:]
    auto /= auto[0]
    first_zero = int(np.argmax(auto < 0))
    assert first_zero <= 8, "main lobe narrower than 8 samples"
    assert np.max(np.abs(auto[first_zero:])) < 0.8


# --- resolve: names and paths --------------------------------------------------------

def _wav(path: Path, seconds: float = 0.1, rate: int = RATE, channels: int = 1, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    data = tone if channels == 1 else np.stack([tone, 0.2 * np.ones_like(tone)], axis=1)
    soundfile.write(str(path), data, rate, format=fmt)
    return path


def test_builtin_names_resolve_into_the_package():
    for name in sounds.SOUND_NAMES:
        path = sounds.resolve(name)
        assert path.is_file() and path.parent == sounds.builtin_dir().resolve()


def test_unknown_name_lists_the_builtins():
    with pytest.raises(InputError) as err:
        sounds.resolve("gong")
    message = str(err.value)
    assert "'gong'" in message and all(name in message for name in sounds.SOUND_NAMES)


@pytest.mark.parametrize("suffix, fmt", [(".wav", "WAV"), (".flac", "FLAC"), (".ogg", "OGG"), (".WAV", "WAV")])
def test_routine_relative_paths(tmp_path, suffix, fmt):
    routine_dir = tmp_path / "routines"
    target = _wav(routine_dir / "my sounds" / f"gong{suffix}", fmt=fmt)
    assert sounds.resolve(f"my sounds/gong{suffix}", routine_dir) == target.resolve()
    assert sounds.resolve(f"./my sounds/../my sounds/gong{suffix}", routine_dir) == target.resolve()
    assert len(sounds.load(f"my sounds/gong{suffix}", RATE, routine_dir)) == pytest.approx(0.1 * RATE, abs=1)


def test_a_path_may_name_a_builtin_file():
    assert sounds.resolve("bell.wav") == sounds.resolve("bell")


@pytest.mark.parametrize("given", ["../outside.wav", "sub/../../outside.wav", "OUTSIDE_ABSOLUTE"])
def test_paths_escaping_the_routine_folder_are_refused(tmp_path, given):
    routine_dir = tmp_path / "routine"
    routine_dir.mkdir()
    outside = _wav(tmp_path / "outside.wav")
    if given == "OUTSIDE_ABSOLUTE":
        given = str(outside)
    with pytest.raises(InputError, match="outside the routine's folder"):
        sounds.resolve(given, routine_dir)
    with pytest.raises(InputError, match="outside"):
        sounds.resolve(given)


def test_absolute_path_inside_the_routine_folder_is_allowed(tmp_path):
    target = _wav(tmp_path / "gong.wav")
    assert sounds.resolve(str(target), tmp_path) == target.resolve()


def test_symlink_pointing_outside_is_refused(tmp_path):
    routine_dir = tmp_path / "routine"
    routine_dir.mkdir()
    outside = _wav(tmp_path / "secret.wav")
    (routine_dir / "gong.wav").symlink_to(outside)
    (routine_dir / "linked").symlink_to(tmp_path, target_is_directory=True)
    for given in ("gong.wav", "linked/secret.wav"):
        with pytest.raises(InputError, match="outside"):
            sounds.resolve(given, routine_dir)


def test_symlink_staying_inside_is_allowed(tmp_path):
    target = _wav(tmp_path / "real" / "gong.wav")
    (tmp_path / "alias.wav").symlink_to(target)
    assert sounds.resolve("alias.wav", tmp_path) == target.resolve()


def test_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match="'sounds/nothing.wav' not found"):
        sounds.resolve("sounds/nothing.wav", tmp_path)


@pytest.mark.parametrize("given", ["gong.mp3", "sub/gong.txt"])
def test_other_suffixes_are_refused(tmp_path, given):
    (tmp_path / "sub").mkdir()
    (tmp_path / given).write_bytes(b"x")
    with pytest.raises(InputError, match=r"\.wav, \.flac, \.ogg"):
        sounds.resolve(given, tmp_path)


# --- load ------------------------------------------------------------------------------

def test_load_averages_channels_and_resamples(tmp_path):
    _wav(tmp_path / "stereo.wav", seconds=0.5, rate=44100, channels=2)
    clip = sounds.load("stereo.wav", RATE, tmp_path)
    assert clip.dtype == np.float32 and clip.ndim == 1
    assert len(clip) == pytest.approx(0.5 * RATE, abs=1)
    # (0.5 sin + 0.2) / 2: mean 0.1, swing 0.25 either side (away from the edges of the resampler)
    middle = clip[1000:-1000]
    assert np.mean(middle) == pytest.approx(0.1, abs=0.01)
    assert np.max(middle) == pytest.approx(0.35, abs=0.01)


def test_load_caches_until_the_file_changes(tmp_path):
    path = _wav(tmp_path / "gong.wav")
    first = sounds.load("gong.wav", RATE, tmp_path)
    assert sounds.load("gong.wav", RATE, tmp_path) is first
    soundfile.write(str(path), np.full(100, 0.25), RATE)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    second = sounds.load("gong.wav", RATE, tmp_path)
    assert len(second) == 100 and second[0] == pytest.approx(0.25, abs=1e-4)
    sounds.clear_cache()
    assert sounds.load("gong.wav", RATE, tmp_path) is not second


def test_undecodable_file_is_an_input_error(tmp_path):
    (tmp_path / "broken.wav").write_bytes(b"this is not audio")
    with pytest.raises(InputError, match="cannot read sound file 'broken.wav'"):
        sounds.load("broken.wav", RATE, tmp_path)


@pytest.mark.parametrize("rate", [0, -22050, 22050.0, True])
def test_bad_sample_rate(rate):
    with pytest.raises(InputError, match="sample rate"):
        sounds.load("bell", rate)
