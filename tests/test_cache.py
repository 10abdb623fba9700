"""The speech cache: an unwritable folder, the size limit (least recently used first) and `voicecoach cache`.

A folder that is read-only for root is a read-only bind mount (mounts.py); the
engine whose takes differ from run to run is the real Piper, or a registered
test engine that says each phrase with a random length.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from support.mounts import run_read_only
from voicecoach.cli import app
from voicecoach.config import load_config
from voicecoach.errors import RoutineError
from voicecoach.speech import CACHE_FORMAT, Speaker, Voice, register
from voicecoach.speech.cache import RECENT_SECONDS, ClipCache
from voicecoach.speech.voice import _ENGINES

runner = CliRunner()
RATE = 22050
MB = 1000 * 1000


@pytest.fixture(autouse=True)
def user(tmp_path, monkeypatch) -> Path:
    """A user with private folders (as tests/test_cli.py)."""
    for name, sub in (("VOICECOACH_ROUTINES", "routines"), ("VOICECOACH_DATA", "data"),
                      ("VOICECOACH_CACHE_DIR", "cache")):
        monkeypatch.setenv(name, str(tmp_path / sub))
    monkeypatch.setenv("VOICECOACH_CONFIG", str(tmp_path / "config.yaml"))
    return tmp_path


def clip_folder(user: Path) -> Path:
    return user / "cache" / f"clips-v{CACHE_FORMAT}"


class Wobbly:
    """An engine like a neural one: every take of a phrase has another length (and other samples)."""

    takes = 0

    def __init__(self, voice):
        pass

    def synthesize(self, text, out, timeout):
        Wobbly.takes += 1
        rng = np.random.default_rng()
        sf.write(out, rng.uniform(-0.3, 0.3, 2000 + int(rng.integers(0, 500))).astype(np.float32), RATE,
                 subtype="PCM_16")

    def voices(self):
        return []

    def close(self):
        pass


@pytest.fixture
def wobbly():
    register("test-wobbly", Wobbly)
    Wobbly.takes = 0
    yield Voice(engine="test-wobbly")
    _ENGINES.pop("test-wobbly", None)


def pcm16_entry(cache: ClipCache, n: int, seed: int, age: float = 0.0) -> Path:
    """Store a clip of `n` samples (16-bit: 2 bytes each) used `age` seconds ago; return its file."""
    key = f"{seed:064x}"
    samples = np.random.default_rng(seed).uniform(-0.5, 0.5, n).astype(np.float32)
    path = cache.store(key, samples, RATE, "PCM_16")
    when = time.time() - age
    os.utime(path, (when, when))
    return path


# ------------------------------------------------------------------ an unwritable cache


class Said(logging.Handler):
    """What the library says through its logger (the CLI shows it as `voicecoach: ...` lines)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_a_speaker_gives_one_take_per_phrase_when_the_cache_cannot_be_written(tmp_path, wobbly):
    # a file where the folder should be: unwritable even for root
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("in the way")
    said = Said()
    logging.getLogger("voicecoach").addHandler(said)
    try:
        with Speaker(wobbly, cache_dir=blocker / "clips") as speaker:
            first = speaker.clips(["one", "two"])
            again = speaker.clips(["two", "one", "three"])
    finally:
        logging.getLogger("voicecoach").removeHandler(said)
    assert Wobbly.takes == 3
    for text in ("one", "two"):
        np.testing.assert_array_equal(again[text], first[text])
    assert said.lines == [f"cannot write the speech cache {blocker / 'clips'}: not a directory; "
                        "speech is kept in memory for this run"]


def neural_env() -> dict:
    """This environment with the neural voice allowed (conftest turns it off)."""
    return {k: v for k, v in os.environ.items() if k != "VOICECOACH_NEURAL"}


@pytest.mark.slow
def test_export_with_a_read_only_cache_warns_once_and_writes_the_session(user):
    """Issue 24.3: Piper's takes differ; with the cache unwritable the loudness pass spoke every phrase
    again and the export ended in "clip ... has 219652 samples, the timeline planned 219737"."""
    cache = user / "cache"
    cache.mkdir()
    out = user / "thomas.wav"
    result = run_read_only([cache], [sys.executable, "-m", "voicecoach", "export", "thomas-test", "--scale", "0.05",
                                     "--engine", "piper", "-o", str(out)], env=neural_env())
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == (f"voicecoach: cannot write the speech cache {clip_folder(user)}: read-only file "
                             "system; speech is kept in memory for this run\n")
    assert result.stdout.startswith(f"wrote {out} (")
    assert sf.info(str(out)).frames > 60 * RATE
    assert list(cache.iterdir()) == []


@pytest.mark.slow
def test_levelled_clips_whose_engine_clips_left_the_cache_still_export(user):
    """A session whose loudness pass needs the engine clips again, after those left the cache (evicted,
    deleted) while the levelled ones stayed: Piper's new takes have other lengths than the timeline planned.
    At --scale 1 thomas-test needs no loudness pass (its engine clips and one levelled set are cached);
    at --scale 0.05 it does."""
    def export(*extra):
        return subprocess.run([sys.executable, "-m", "voicecoach", "export", "thomas-test", "--engine", "piper",
                               "-o", str(user / "thomas.wav"), "--force", *extra],
                              env=neural_env(), capture_output=True, text=True, timeout=300)

    first = export()
    assert first.returncode == 0, first.stderr[-2000:]
    # the session's measured loudness is kept beside the clips as a one-sample entry (session.measured)
    entries = {p: sf.info(str(p)).subtype for p in clip_folder(user).iterdir() if sf.info(str(p)).frames > 1}
    engine_clips = [p for p, subtype in entries.items() if subtype == "PCM_16"]  # joe speaks 16-bit
    assert len(engine_clips) >= 8 and len(entries) == 2 * len(engine_clips)  # and one levelled (float) each
    for path in engine_clips:
        path.unlink()
    again = export("--scale", "0.05")
    assert (again.returncode, again.stderr) == (0, ""), again.stderr[-2000:]
    assert again.stdout.startswith(f"wrote {user / 'thomas.wav'} (1:")
    assert len(list(clip_folder(user).iterdir())) > len(entries)  # spoken again, levelled twice


@pytest.mark.slow
def test_play_with_a_read_only_cache_warns_once_and_plays_to_the_end(user, pulse_server, tmp_path):
    """Issue 24.3, live: the same crash came before any sound; now the whole session plays."""
    cache = user / "cache"
    cache.mkdir()
    rec = pulse_server.record(tmp_path / "play.wav")
    result = run_read_only([cache], [sys.executable, "-m", "voicecoach", "play", "thomas-test", "--scale", "0.05",
                                     "--engine", "piper", "--backend", "pulse", "--lead-in", "0", "--no-mpris"],
                           env={**neural_env(), **pulse_server.env})
    time.sleep(0.3)
    recording = rec.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == (f"voicecoach: cannot write the speech cache {clip_folder(user)}: read-only file "
                             "system; speech is kept in memory for this run\n")
    assert result.stdout.startswith("Finished Thomas Test (Self-Check) (1:")
    heard = np.flatnonzero(np.abs(recording) > 0.01)
    assert len(heard) and (heard[-1] - heard[0]) / RATE > 60  # intro to outro
    assert list(cache.iterdir()) == []


def test_new_on_a_read_only_config_folder_is_one_line_and_exit_1(user):
    config = user / "config"
    config.mkdir()
    env = {**os.environ, "VOICECOACH_ROUTINES": str(config / "routines")}
    result = run_read_only([config], [sys.executable, "-m", "voicecoach", "new", "evening"], env=env)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (f"voicecoach: cannot create the routine folder {config / 'routines'}: "
                             "read-only file system\n")
    (config / "routines").mkdir()
    result = run_read_only([config], [sys.executable, "-m", "voicecoach", "new", "evening"], env=env)
    assert (result.returncode, result.stderr) == (1, f"voicecoach: cannot write {config / 'routines'}/"
                                                     "voicecoach.schema.json: read-only file system\n")


# ------------------------------------------------------------------ the size limit


def test_cache_limit_in_the_config_file(user):
    config = user / "config.yaml"
    for text, size in (("500MB", 500 * MB), ("2 GB", 2000 * MB), ("1.5GiB", int(1.5 * 2**30)), ("0", 0),
                       ("800 kb", 800_000)):
        config.write_text(f"cache_limit: {text}\n")
        assert load_config(config).cache_limit == size, text
    config.write_text("rate: 150\ncache_limit: lots\n")
    with pytest.raises(RoutineError) as err:
        load_config(config)
    assert str(err.value) == f"{config}:2:14: expected cache_limit as a size such as 500MB or 2GB, found the text 'lots'"
    config.write_text("cache_limit: 500\n")
    with pytest.raises(RoutineError, match=r":1:14: expected cache_limit as a size .* found the number 500$"):
        load_config(config)


def test_trim_removes_the_clips_used_longest_ago_and_a_hit_counts_as_use(user):
    folder = clip_folder(user)
    writer = ClipCache(folder)
    paths = [pcm16_entry(writer, 50_000, seed, age=3600 * (10 - seed)) for seed in range(6)]  # 0 is oldest
    size = paths[0].stat().st_size
    assert 100_000 < size < 100_200

    reader = ClipCache(folder)
    assert reader.load(f"{0:064x}") is not None  # the oldest, used now
    cache = ClipCache(folder)  # another run: it has used nothing itself
    assert cache.trim(3 * size) == 3 * size
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in (paths[0], paths[4], paths[5]))
    assert cache.trim(3 * size) == 0


def test_trim_never_removes_what_this_cache_used_or_anyone_used_lately(user):
    folder = clip_folder(user)
    old = [pcm16_entry(ClipCache(folder), 50_000, seed, age=2 * RECENT_SECONDS) for seed in range(4)]
    recent = pcm16_entry(ClipCache(folder), 50_000, 9, age=RECENT_SECONDS / 2)  # another session preparing
    cache = ClipCache(folder)
    assert cache.load(f"{1:064x}") is not None
    mine = pcm16_entry(cache, 50_000, 7, age=2 * RECENT_SECONDS)  # written by this cache, however old
    cache.touch(f"{2:064x}")  # a clip made from it is in use
    cache.trim(0)
    assert sorted(folder.iterdir()) == sorted([old[1], old[2], recent, mine])


def test_a_speaker_holds_the_cache_to_its_limit_when_it_closes(user, wobbly):
    folder = clip_folder(user)
    old = [pcm16_entry(ClipCache(folder), 100_000, seed, age=2 * RECENT_SECONDS + seed) for seed in range(10)]
    limit = 5 * old[0].stat().st_size
    with Speaker(wobbly, cache_dir=folder, cache_limit=limit) as speaker:
        speaker.clips(["one", "two"])
        assert len(list(folder.iterdir())) == 12  # nothing goes while the session is prepared
    left = sorted(folder.iterdir())
    assert sum(p.stat().st_size for p in left) <= limit
    assert sorted(p for p in left if p in old) == sorted(old[:4])  # the old ones used last stay
    with Speaker(wobbly, cache_dir=folder, cache_limit=limit) as speaker:
        speaker.clips(["one", "two"])  # both from the cache
    assert Wobbly.takes == 2


def test_a_speaker_that_only_read_the_cache_changes_nothing(user, wobbly):
    folder = clip_folder(user)
    old = [pcm16_entry(ClipCache(folder), 100_000, seed, age=2 * RECENT_SECONDS) for seed in range(3)]
    with Speaker(wobbly, cache_dir=folder, cache_limit=0):
        pass
    assert sorted(folder.iterdir()) == sorted(old)


# ------------------------------------------------------------------ voicecoach cache


def test_cache_shows_folder_size_clips_and_limit_and_clear_empties_it(user):
    folder = clip_folder(user)
    result = runner.invoke(app, ["cache"])
    assert (result.exit_code, result.stdout) == (0, f"folder  {folder}\nsize    0 bytes in 0 clips\n"
                                                    "limit   500 MB (the default; set cache_limit in the config file)\n")
    cache = ClipCache(folder)
    for seed in range(3):
        pcm16_entry(cache, 1_000_000, seed)  # 2 MB each
    older = folder.parent / "clips-v0"
    older.mkdir()
    (older / "a.wav").write_bytes(b"x" * 300_000)
    (user / "config.yaml").write_text("cache_limit: 2GB\n")
    result = runner.invoke(app, ["cache"])
    assert (result.exit_code, result.stdout) == (0, f"folder  {folder}\nsize    6 MB in 3 clips\n"
                                                    "limit   2 GB (cache_limit in the config file)\n"
                                                    "older   300 KB in earlier cache formats, unused "
                                                    "(--clear removes them)\n")
    result = runner.invoke(app, ["cache", "--clear"])
    assert (result.exit_code, result.stdout) == (0, f"freed 6.3 MB (4 clips) from {folder}\n")
    assert list(folder.iterdir()) == [] and not older.exists()
    result = runner.invoke(app, ["cache"])
    assert result.stdout.splitlines()[1] == "size    0 bytes in 0 clips"


def test_cache_shows_the_kept_voice_models_and_clear_removes_them(user):
    from voicecoach.speech.piper import model_cache

    folder = clip_folder(user)
    models = model_cache()
    assert models == folder.parent / "piper-models"  # the Piper program's folder, as voicecoach gives it
    models.mkdir(parents=True)
    (models / "voice.0123.onnx").write_bytes(b"x" * 2_000_000)
    result = runner.invoke(app, ["cache"])
    assert result.stdout.splitlines()[3] == "models  2 MB of voice models kept ready to load (--clear removes them)"
    result = runner.invoke(app, ["cache", "--clear"])
    assert (result.exit_code, result.stdout) == (0, f"freed 2 MB (0 clips) from {folder}\n")
    assert not models.exists()
    assert len(runner.invoke(app, ["cache"]).stdout.splitlines()) == 3  # no models: no line for them


def test_cache_shows_serves_episodes_on_their_own_line_and_clear_removes_them(user):
    from voicecoach.serve import cache_folder

    folder = clip_folder(user)
    served = cache_folder()
    assert served == folder.parent / "episodes"
    served.mkdir(parents=True)
    for eid in ("today", "kd4"):
        (served / f"{eid}.0123456789abcdef0123.mp3").write_bytes(b"x" * 1_500_000)
        (served / f"{eid}.0123456789abcdef0123.vtt").write_bytes(b"x" * 100_000)
    result = runner.invoke(app, ["cache"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1:] == ["size    0 bytes in 0 clips",
                                              "limit   500 MB (the default; set cache_limit in the config file)",
                                              f"served  3.2 MB in 2 episodes of voicecoach serve, in {served}"]
    result = runner.invoke(app, ["cache", "--clear"])
    assert (result.exit_code, result.stdout) == (0, f"freed 0 bytes (0 clips) from {folder}\n"
                                                    f"freed 3.2 MB (2 episodes) from {served}\n")
    assert list(served.iterdir()) == []
    assert len(runner.invoke(app, ["cache"]).stdout.splitlines()) == 3  # nothing served: no line for it


def test_cache_clear_on_a_read_only_cache_is_one_line_and_exit_3(user):
    folder = clip_folder(user)
    pcm16_entry(ClipCache(folder), 1000, 1)
    result = run_read_only([user / "cache"], [sys.executable, "-m", "voicecoach", "cache", "--clear"],
                           env=dict(os.environ))
    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr == f"voicecoach: cannot clear the speech cache {folder}: read-only file system\n"
    assert len(list(folder.iterdir())) == 1


def test_cache_reports_a_bad_config_file_where_it_is(user):
    (user / "config.yaml").write_text("cache_limit: -5MB\n")
    result = runner.invoke(app, ["cache"])
    assert result.exit_code == 1
    assert result.stderr == f"{user / 'config.yaml'}:1:14: expected cache_limit as a size such as 500MB or 2GB, " \
                            "found the text '-5MB'\n"
