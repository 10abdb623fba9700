"""One resolver for every setting: an option beats the routine, the routine the config file, the config file
the default; `voicecoach settings` shows each value with where it came from; the library reads no config
file unasked."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from voicecoach.cli import app
from voicecoach.config import Config, load_config
from voicecoach.settings import NAMES, SPECS, resolve

runner = CliRunner()

EVENING = """\
title: Evening
voice:
  rate: 150
  volume: 0.7
background: rain
steps:
  - name: Hold
    duration: 10s
"""
CONFIG = """\
rate: 120
lead_in: 2
background: ocean
volume: 0.9
duck: 9
"""


@pytest.fixture
def files(tmp_path, monkeypatch):
    """evening.yaml and config.yaml (which $VOICECOACH_CONFIG names) in the test's folder."""
    (tmp_path / "evening.yaml").write_text(EVENING)
    (tmp_path / "config.yaml").write_text(CONFIG)
    monkeypatch.setenv("VOICECOACH_CONFIG", str(tmp_path / "config.yaml"))
    return tmp_path


def shown(*args: str) -> dict[str, tuple[object, str]]:
    """`voicecoach settings --json ARGS` as {name: (value, origin)}."""
    result = runner.invoke(app, ["settings", "--json", *args])
    assert result.exit_code == 0, result.output
    return {name: (s["value"], s["origin"]) for name, s in json.loads(result.stdout)["settings"].items()}


# ------------------------------------------------------------------ each competing pair

def test_an_option_beats_the_routine(files):
    got = shown(str(files / "evening.yaml"), "--rate", "170", "--background", "pad")
    assert got["rate"] == (170, "--rate")
    assert got["background"] == ("pad", "--background")


def test_the_routine_beats_the_config_file(files):
    got = shown(str(files / "evening.yaml"))
    assert got["rate"] == (150, "evening.yaml:3")
    assert got["volume"] == (0.7, "evening.yaml:4")
    assert got["background"] == ("rain", "evening.yaml:5")


def test_the_config_file_beats_the_default(files):
    got = shown()
    assert got["rate"] == (120, "config.yaml:1")
    assert got["lead_in"] == (2.0, "config.yaml:2")
    assert got["duck"] == (9.0, "config.yaml:5")
    assert got["background_level"] == (-20.0, "default")
    assert got["scale"] == (1.0, "default") and got["sample_rate"] == (22050, "default")


def test_an_option_beats_the_config_file(files):
    got = shown("--rate", "170", "--lead-in", "0", "--no-background", "--no-mpris")
    assert got["rate"] == (170, "--rate")
    assert got["lead_in"] == (0.0, "--lead-in")
    assert got["background"] == (False, "--no-background")
    assert got["mpris"] == (False, "--no-mpris")


def test_an_option_beats_the_routine_and_the_config_file_at_once(files):
    got = shown(str(files / "evening.yaml"), "--volume", "0.3", "--from", "2")
    assert got["volume"] == (0.3, "--volume")
    assert got["start"] == ("2", "--from")
    assert got["rate"] == (150, "evening.yaml:3")  # what no option names still comes from below


def test_the_environment_beats_the_default_and_an_option_beats_the_environment(files, monkeypatch):
    monkeypatch.setenv("VOICECOACH_NEURAL", "off")
    assert shown()["engine"] == ("pyttsx3", "VOICECOACH_NEURAL=off")
    assert shown("--engine", "piper")["engine"] == ("piper", "--engine")


def test_the_engine_a_setting_implies_says_where_that_setting_is(files):
    (files / "config.yaml").write_text("rate: 120\ntts_command: espeak-ng -w {out} {text}\n")
    got = shown()
    assert got["engine"] == ("command", "config.yaml:2")
    assert got["tts_command"] == (["espeak-ng", "-w", "{out}", "{text}"], "config.yaml:2")
    assert shown("--voice-model", str(files / "x.onnx"))["engine"] == ("piper", "--voice-model")


def test_without_a_config_file_everything_is_a_default(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICECOACH_CONFIG", str(tmp_path / "none.yaml"))
    got = shown()
    assert {origin for name, (_, origin) in got.items() if name != "engine"} == {"default"}
    assert got["rate"] == (140, "default")


def test_the_table_has_every_setting_with_its_origin(files):
    result = runner.invoke(app, ["settings", str(files / "evening.yaml"), "--rate", "170"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[:-1]}
    assert list(rows) == list(NAMES)
    assert rows["rate"][1:] == ["170", "--rate"]
    assert rows["background"][1:] == ["rain", "evening.yaml:5"]
    assert rows["lead_in"][1:] == ["2.0", "config.yaml:2"]
    assert rows["voice"][1:] == ["-", "default"]
    assert result.stdout.splitlines()[-1] == f"config file: {files / 'config.yaml'}"


def test_an_invalid_config_value_is_its_file_line_and_column_exit_1(files):
    (files / "config.yaml").write_text("rate: 120\nvolume: loud\n")
    result = runner.invoke(app, ["settings"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{files / 'config.yaml'}:2:9: ")
    assert len(result.stderr.splitlines()) == 1


# ------------------------------------------------------------------ the library reads no config file unasked

def test_a_broken_config_file_does_not_touch_library_calls_that_pass_values(files):
    import voicecoach as vc
    from voicecoach.errors import RoutineError

    (files / "config.yaml").write_text("rate: [not a number\n")
    with pytest.raises(RoutineError):
        load_config()  # the file is broken: asked for, it says so
    routine = vc.load(files / "evening.yaml")
    voice = vc.voice_for(routine, rate=180, engine="pyttsx3")
    assert (voice.engine, voice.rate, voice.volume) == ("pyttsx3", 180, 0.7)
    assert vc.voice_for(routine).rate == 150  # the routine's own, not the config file's
    assert vc.bed_choice("rain").default is None and vc.options().background.default is None
    assert vc.estimated_timeline(routine).total_samples > 0
    session = vc.prepare(routine, vc.options(scale=0.1), voice)
    assert session.timeline.total_samples > 0
    chosen = vc.resolve_settings(Config(), {"rate": 160})
    assert chosen.rate == 160 and chosen.origin("rate") == "rate"
    assert chosen.for_routine(routine).to_bed().default is None


def test_the_library_takes_the_config_it_is_given(files):
    settings = resolve(load_config(), {"volume": 0.5}, labels={"volume": "--volume"})
    assert (settings.rate, settings.origin("rate")) == (120, "config.yaml:1")
    assert (settings.volume, settings.origin("volume")) == (0.5, "--volume")
    bed = settings.to_bed()
    assert (bed.name, bed.default, bed.duck_db) == (None, "ocean", 9.0)
    # a routine's settings go above the config file's, the caller's above both; the engine is not looked for again
    evening = settings.for_routine(__import__("voicecoach").load(files / "evening.yaml"))
    assert (evening.rate, evening.volume, evening.engine) == (150, 0.5, settings.engine)
    assert evening.for_routine(None).rate == 120  # another routine without a voice: back to the config file


def test_every_setting_has_one_spec_and_unknown_names_are_refused():
    from voicecoach.config import CONFIG_KEYS

    assert len(set(NAMES)) == len(SPECS)
    assert {s.name for s in SPECS if s.config} == set(CONFIG_KEYS)  # the config file's keys are settings' names
    with pytest.raises(KeyError, match="no setting 'speed'"):
        resolve(Config(), {"speed": 2})


def test_the_readme_settings_example_prints_what_the_readme_shows(tmp_path):
    import os
    import re
    import shutil
    import subprocess
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = re.search(r"### Where a setting comes from.*?```console\n(.*?)```", readme, re.S).group(1)
    config, routine, command, shown = re.fullmatch(
        r"\$ cat ~/\.config/voicecoach/config\.yaml\n(.*?)\$ cat evening\.yaml\n(.*?)\$ voicecoach (settings .*?)\n(.*)",
        block, re.S).groups()
    (tmp_path / "config.yaml").write_text(config)
    (tmp_path / "evening.yaml").write_text(routine)
    env = {**os.environ, "VOICECOACH_CONFIG": str(tmp_path / "config.yaml")}
    env.pop("VOICECOACH_NEURAL")  # the README's user has the neural voice: the default engine is piper
    exe = shutil.which("voicecoach", path=str(Path(__import__("sys").executable).parent))
    result = subprocess.run([exe, *command.split()], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    expected = shown.replace("/home/ana/.config/voicecoach/config.yaml", str(tmp_path / "config.yaml"))
    assert result.stdout == expected


@pytest.mark.audio
@pytest.mark.slow
def test_the_library_plays_a_plan_as_play_does_with_the_settings_it_is_given(tmp_path, monkeypatch, pulse_env):
    """vc.play is what `voicecoach play` runs: one plan on the sound server, each routine in the history."""
    import voicecoach as vc
    from voicecoach.practice import history

    for name in ("VOICECOACH_DATA", "VOICECOACH_CACHE_DIR", "VOICECOACH_ROUTINES"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.setenv("VOICECOACH_CONFIG", str(tmp_path / "broken.yaml"))
    (tmp_path / "broken.yaml").write_text("lead_in: [not a number\n")  # never read: the settings are passed
    for name in ("one", "two"):
        (tmp_path / f"{name}.yaml").write_text(
            f"title: Tiny {name}\nsafety: false\nvoice: {{rate: 170}}\nsteps:\n  - {{name: Hold, duration: 1s}}\n")
    settings = vc.resolve_settings(Config(), {"lead_in": 0.0, "mpris": False, "safety": False})
    heard = []
    played = vc.play([str(tmp_path / "one.yaml"), str(tmp_path / "two.yaml")], settings,
                     on_voice=lambda voice: heard.append(voice) or voice)
    assert played.outcome.finished and not played.interrupted
    assert [p.timeline.title for p in played.parts] == ["Tiny one", "Tiny two"]
    assert [v.rate for v in heard] == [170, 170]  # each routine's own voice, under the caller's settings
    entries, _ = history.read()
    assert [(e.routine, e.finished) for e in entries] == [("one", True), ("two", True)]
