"""Routine ids as a user types them: one row per id in `list`, the same routine in every command,
near misses suggested, and tab completion through the shell protocol the installed script uses."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voicecoach import routines as rt
from voicecoach.cli import app

runner = CliRunner()
VOICECOACH = Path(sys.executable).with_name("voicecoach")  # the console script a shell's completion calls
ESPEAK = "espeak-ng -w {out} {text}"


@pytest.fixture
def mine(tmp_path, monkeypatch):
    folder = tmp_path / "routines"
    monkeypatch.setenv("VOICECOACH_ROUTINES", str(folder))
    monkeypatch.chdir(tmp_path)
    return folder


def test_new_refuses_a_built_in_name_and_suggests_another(mine):
    result = runner.invoke(app, ["new", "kd4"])
    assert result.exit_code == 1
    assert result.stderr == "voicecoach: 'kd4' is the name of a built-in routine; choose another name, e.g. 'my-kd4'\n"
    assert not (mine / "kd4.yaml").exists()
    assert runner.invoke(app, ["new", "--force", "kd4"]).exit_code == 1
    assert runner.invoke(app, ["new", "my-kd4"]).exit_code == 0


def test_a_user_routine_with_a_built_in_name_is_one_row_and_what_every_command_takes(mine, tmp_path):
    mine.mkdir()
    for suffix, title in ((".yaml", "My KD4"), (".yml", "Older KD4")):  # .yaml wins, as for any name
        (mine / f"kd4{suffix}").write_text(f"title: {title}\nsafety: false\nsteps:\n  - {{name: Hold, duration: 5}}\n")
    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0
    rows = [line for line in listed.stdout.splitlines() if line.split()[0] == "kd4"]
    assert rows == [f"{'kd4':<20} {'0:05':>6}  My KD4  [yours, in place of the built-in]"]
    ids = [line.split()[0] for line in listed.stdout.splitlines()]
    assert ids == sorted(set(ids)) == rt.builtin_ids()

    assert rt.find("kd4") == mine / "kd4.yaml" and rt.load("kd4").title == "My KD4"  # what play loads
    shown = runner.invoke(app, ["show", "kd4", "--tts-command", ESPEAK])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines()[0] == "My KD4"
    out, plan = tmp_path / "kd4.wav", tmp_path / "kd4.json"
    exported = runner.invoke(app, ["export", "kd4", "-o", str(out), "--timeline", str(plan),
                                   "--tts-command", ESPEAK])
    assert exported.exit_code == 0, exported.output
    assert json.loads(plan.read_text())["title"] == "My KD4"


@pytest.mark.parametrize("command", [["show"], ["play", "--backend", "miniaudio"], ["export", "-o", "x.wav"]])
def test_an_unknown_id_suggests_the_near_miss_in_every_command(mine, command):
    mine.mkdir()
    (mine / "evening-stretch.yaml").write_text("title: E\nsteps: [{name: a, duration: 5}]\n")
    for typed, meant in (("psoas", "psoas-release"), ("mornin", "morning"), ("evening", "evening-stretch")):
        result = runner.invoke(app, command[:1] + [typed] + command[1:])
        assert result.exit_code == 1
        assert result.stderr.startswith(f"voicecoach: no routine '{typed}' (did you mean '{meant}'?): "), \
            result.stderr
        assert len(result.stderr.splitlines()) == 1


def complete(words: str, mine: Path, shell: str = "bash") -> list[str]:
    """What the shell would offer after `words`, asked the way Typer's completion scripts ask the program."""
    env = {**os.environ, "VOICECOACH_ROUTINES": str(mine), "_VOICECOACH_COMPLETE": f"complete_{shell}"}
    if shell == "bash":
        env |= {"COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
    else:
        env |= {"_TYPER_COMPLETE_ARGS": words, "_TYPER_COMPLETE_FISH_ACTION": "get-args"}
    done = subprocess.run([str(VOICECOACH)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return [line for line in done.stdout.splitlines() if line]  # bash gets one empty line for no match


def test_bash_completion_offers_routine_ids_built_in_and_yours(mine):
    mine.mkdir()
    (mine / "psoas-evening.yaml").write_text("title: P\nsteps: [{name: a, duration: 5}]\n")
    assert complete("voicecoach play ps", mine) == ["psoas-evening", "psoas-release"]
    assert complete("voicecoach show mor", mine) == ["morning"]
    assert complete("voicecoach export ku", mine) == []
    assert "kd4" in complete("voicecoach export ", mine)


def test_zsh_and_fish_completion_offer_routine_ids(mine):
    assert 'psoas-release":"built-in' in "".join(complete("voicecoach play ps", mine, "zsh"))
    assert complete("voicecoach play k", mine, "fish") == ["kd4\tbuilt-in", "kneeling-lunge\tbuilt-in"]


def test_the_completion_script_is_shown_for_the_calling_shell():
    # Typer finds the shell from the parent process; bash is the one shell this machine has
    done = subprocess.run(["bash", "-c", f"{VOICECOACH} --show-completion"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "_VOICECOACH_COMPLETE=complete_bash" in done.stdout, done
    assert "complete -o default -F _voicecoach_completion voicecoach" in done.stdout
