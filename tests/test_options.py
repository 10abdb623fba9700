"""Options as users type them: `remind --every 45`, `--rate` with `--tts-command`, and the settings list."""
from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voicecoach.cli import app
from voicecoach.config import CONFIG_KEYS
from voicecoach.errors import InputError
from voicecoach.practice.desk import parse_every

runner = CliRunner()
DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_a_bare_every_is_minutes():
    assert parse_every("45") == timedelta(minutes=45)
    assert parse_every("1.5") == timedelta(seconds=90)
    assert parse_every("45m") == parse_every("45:00") == timedelta(minutes=45)
    assert parse_every("90s") == timedelta(seconds=90)
    with pytest.raises(InputError, match=r"^every '0': expected a duration above zero \(a bare number is "
                                         r"minutes\)$"):
        parse_every("0")


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VOICECOACH_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "tiny.yaml"
    path.write_text("title: Tiny\nsafety: false\nintro: Settle in and breathe slowly through the nose.\n"
                    "steps:\n  - {name: Hold, duration: 5}\n")
    return path


def intro_samples(tiny: Path, command: str, rate: str) -> tuple[int, str]:
    """How long the intro is spoken in an export with this TTS command and --rate; and what stderr said."""
    plan = tiny.with_name(f"{tiny.stem}-{rate}.json")  # one export each: export keeps an existing file
    result = runner.invoke(app, ["export", str(tiny), "-o", str(plan.with_suffix(".wav")), "--timeline",
                                 str(plan), "--tts-command", command, "--rate", rate])
    assert result.exit_code == 0, result.output
    intro = next(e for e in json.loads(plan.read_text())["events"] if e.get("text", "").startswith("Settle"))
    return intro["samples"], result.stderr


def test_rate_without_a_rate_placeholder_says_once_that_it_does_not_apply(tiny):
    _, stderr = intro_samples(tiny, "espeak-ng -w {out} {text}", "300")
    assert stderr == ("voicecoach: --rate 300 does not apply to the TTS command: it has no {rate} placeholder, "
                      "so the program speaks at its own rate\n")


def test_a_rate_placeholder_gets_the_rate_in_words_per_minute(tiny):
    slow, stderr = intro_samples(tiny, "espeak-ng -s {rate} -w {out} {text}", "100")
    assert stderr == ""
    fast, _ = intro_samples(tiny, "espeak-ng -s {rate} -w {out} {text}", "300")
    assert 2.2 < slow / fast < 3.8  # espeak-ng speaks three times as fast, give or take its pauses


def test_the_settings_list_names_every_config_key_once():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    block = text[text.index("- Settings:"):]
    block = block[: block.index("\n- ", 1)]
    named = [k for k in re.findall(r"`([a-z_]+)`", block) if k != "config"]
    assert len(named) == len(set(named)), named
    assert set(CONFIG_KEYS) <= set(named)


def test_the_config_file_still_stops_at_its_first_unknown_key(tmp_path):
    from voicecoach.config import load_config
    from voicecoach.errors import RoutineError

    path = tmp_path / "config.yaml"
    path.write_text("rat: 120\nvoic: en-us\n")
    with pytest.raises(RoutineError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}:1:1: unknown key 'rat' in the config file; did you mean 'rate'?")
