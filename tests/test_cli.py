"""The command line through Typer's runner: exit codes, exact output, help and docs for every command."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voicecoach import __version__
from voicecoach.cli import app

DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
runner = CliRunner()


@pytest.fixture(autouse=True)
def private_user(tmp_path, monkeypatch):
    for name, sub in (("VOICECOACH_ROUTINES", "routines"), ("VOICECOACH_DATA", "data"),
                      ("VOICECOACH_CACHE_DIR", "cache")):
        monkeypatch.setenv(name, str(tmp_path / sub))
    monkeypatch.setenv("VOICECOACH_CONFIG", str(tmp_path / "config.yaml"))
    return tmp_path


def commands() -> list[str]:
    import typer.main

    return sorted(typer.main.get_command(app).commands)


def test_every_command_has_help_and_a_section_in_the_docs():
    docs = DOCS.read_text()
    assert len(commands()) >= 13
    for name in commands():
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, name
        command = __import__("typer.main").main.get_command(app).commands[name]
        assert command.help and len(command.help) > 20, f"{name} has no help text"
        assert f"### `voicecoach {name}" in docs, f"{name} is not in docs/cli.md"


def test_version():
    result = runner.invoke(app, ["--version"])
    assert (result.exit_code, result.stdout) == (0, f"voicecoach {__version__}\n")


def test_list_shows_every_builtin_with_its_timed_total():
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) >= 14
    assert "morning                3:00  3-Minute Morning Pain Prevention Routine" in lines


def test_show_reports_three_minutes_of_timed_work_for_the_morning_routine():
    result = runner.invoke(app, ["show", "morning", "--tts-command", "no-such-tts-program {text} {out}"])
    assert result.exit_code == 0
    assert "timed total: 3:00" in result.stdout.splitlines()
    assert "  2. Tennis ball psoas release (right)                  1:00" in result.stdout.splitlines()
    # no speech engine: the total with announcements is unknown, said in one line, not a crash
    assert "total with announcements: unknown (voicecoach: speech program 'no-such-tts-program' not found" \
        in result.stdout


def test_schema_is_json_naming_every_step_field():
    result = runner.invoke(app, ["schema"])
    schema = json.loads(result.stdout)
    step = schema["properties"]["steps"]["items"]["anyOf"][0]
    assert set(step["properties"]) >= {"name", "duration", "say", "prep", "cues", "halfway", "breathe",
                                       "countdown", "sides", "repeat", "rest"}
    assert step["additionalProperties"] is False


def test_new_writes_a_valid_commented_starter_and_refuses_to_overwrite(private_user):
    result = runner.invoke(app, ["new", "evening-release"])
    path = private_user / "routines" / "evening-release.yaml"
    assert (result.exit_code, result.stdout) == (0, f"wrote {path}\n")
    assert path.read_text().startswith("# yaml-language-server: $schema=voicecoach.schema.json")
    assert runner.invoke(app, ["validate", str(path)]).exit_code == 0
    assert "evening-release" in runner.invoke(app, ["list"]).stdout
    again = runner.invoke(app, ["new", "evening-release"])
    assert again.exit_code == 1 and "exists already" in again.stderr
    assert runner.invoke(app, ["new", "../escape"]).exit_code == 1


def test_a_missing_speech_program_is_exit_3_with_a_hint(tmp_path):
    result = runner.invoke(app, ["export", "kd4", "-o", str(tmp_path / "x.wav"), "--tts-command",
                                 "no-such-tts-program -w {out} {text}"])
    assert result.exit_code == 3
    assert result.stderr.strip() == ("voicecoach: speech program 'no-such-tts-program' not found; install it or "
                                     "fix the TTS command")
    assert not list(tmp_path.iterdir())


def test_export_with_the_command_engine_speaks_hostile_text_literally(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    routine = tmp_path / "hostile.yaml"
    routine.write_text("title: t\nsafety: false\nsteps:\n  - name: '$(touch pwned1); `touch pwned2` | touch pwned3'\n"
                       "    duration: 2s\n")
    result = runner.invoke(app, ["export", str(routine), "-o", str(tmp_path / "h.wav"), "--tts-command",
                                 "espeak-ng -w {out} -- {text}"])
    assert result.exit_code == 0, result.output
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("pwned")]


def test_bad_option_values_are_one_line_exit_1():
    result = runner.invoke(app, ["play", "morning", "--from", "99", "--backend", "miniaudio"])
    assert result.exit_code in (1, 3)  # 3 where the machine has no sound server at all
    assert len(result.stderr.strip().splitlines()) == 1
    result = runner.invoke(app, ["export", "morning", "-o", "x.aac"])
    assert result.exit_code == 1 and re.match(r"voicecoach: '\.aac' is not an audio format", result.stderr)
@pytest.mark.slow  # exports all fourteen routines: about a minute


def test_export_all_writes_every_routine_and_a_playlist_with_true_lengths(tmp_path):
    import soundfile as sf

    from voicecoach.routines import builtin_ids

    result = runner.invoke(app, ["export", "--all", "-o", str(tmp_path / "phone"), "--scale", "0.05"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "phone"
    playlist = (folder / "voicecoach.m3u").read_text().splitlines()
    assert playlist[0] == "#EXTM3U"
    entries = list(zip(playlist[1::2], playlist[2::2]))
    assert [name for _, name in entries] == [f"{rid}.mp3" for rid in builtin_ids()]
    for extinf, name in entries:
        seconds = int(extinf.split(":")[1].split(",")[0])
        assert seconds == round(sf.info(str(folder / name)).duration)
        assert (folder / name).with_suffix(".vtt").read_text().startswith("WEBVTT")


LONG = "a" * 300  # over the 255 bytes a file name may have: the system answers "file name too long"


@pytest.mark.parametrize("args", [["show", LONG], ["play", LONG], ["new", LONG],
                                  ["export", "kd4", "-o", f"{LONG}.mp3"], ["validate", "include.yaml"]],
                         ids=["show", "play", "new", "export", "validate-include"])
def test_an_overlong_name_is_one_line_not_a_traceback(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "include.yaml").write_text(f"title: Long include\nsteps:\n  - include: {'b' * 5000}\n")
    result = runner.invoke(app, args)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 1 and "file name too long" in lines[0], result.output
    assert lines[0].startswith("include.yaml:3:14: cannot use 'bbb" if args[0] == "validate" else "voicecoach: ")
    assert "Traceback" not in result.output
