"""Progress while speech is prepared: on a terminal it shows the wait from its first second
(the clock ticks before anything can be counted), elsewhere nothing."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from support.liveplay import Terminal
from support.routinetexts import TWO


@pytest.fixture
def user(tmp_path, monkeypatch):
    """A fresh user (own folders, an empty speech cache) in tmp_path, with a two-step routine."""
    for name, sub in (("VOICECOACH_ROUTINES", "routines"), ("VOICECOACH_DATA", "data"),
                      ("VOICECOACH_CACHE_DIR", "cache")):
        monkeypatch.setenv(name, str(tmp_path / sub))
    monkeypatch.setenv("VOICECOACH_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "two.yaml").write_text(TWO)
    return tmp_path


@pytest.fixture
def slow_tts(user):
    """A speech program that takes 1.5 s a phrase: long enough to watch the wait."""
    script = user / "slow-tts"
    script.write_text("#!/bin/sh\nsleep 1.5\nexec espeak-ng -w \"$1\" -- \"$2\"\n")
    script.chmod(0o755)
    return f"{script} {{out}} {{text}}"


def on_terminal(args: list[str]) -> str:
    term = Terminal([sys.executable, "-m", "voicecoach", *args], dict(os.environ))
    assert term.wait(120) == 0, term.proc.stderr.read().decode()
    term.reader.join(5)
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", term.screen.decode("utf-8", "replace"))
    return screen.replace("\r", "\n")


@pytest.mark.slow  # three phrases at 1.5 s each, twice
def test_show_counts_the_wait_for_speech_on_a_terminal_and_is_quiet_otherwise(user, slow_tts):
    screen = on_terminal(["show", "two.yaml", "--tts-command", slow_tts])
    lines = [line.strip() for line in screen.splitlines() if line.strip()]
    preparing = [line for line in lines if line.startswith("Preparing speech")]
    # the clock ticks while the first phrase is spoken, before anything can be counted
    assert {"0:01 elapsed", "0:02 elapsed"} <= {m.group(0) for line in preparing
                                                 for m in [re.search(r"\d:\d\d elapsed", line)] if m}
    assert any(re.search(r"\b100%", line) for line in preparing)
    assert lines[-1].startswith("total with announcements: ")
    piped = subprocess.run([sys.executable, "-m", "voicecoach", "show", "two.yaml", "--tts-command", slow_tts],
                           capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0, piped.stderr
    assert "Preparing" not in piped.stdout + piped.stderr and "elapsed" not in piped.stdout


def test_levelling_cached_speech_again_is_counted(user):
    """Speech spoken before but wanted at another level (a session under a bed) is levelled
    again, which took seconds with the bar at 0%: every clip levelled is now counted."""
    from voicecoach.routines import load
    from voicecoach.session import levelled_clips, options, voice_for
    from voicecoach.timeline import phrases
    from voicecoach.speech import Speaker

    routine = load(user / "two.yaml")
    texts = phrases(routine, options())
    with Speaker(voice_for(routine)) as speaker:
        levelled_clips(texts, speaker, 22050)  # spoken, and levelled at the usual target
        calls = []
        levelled_clips(texts, speaker, 22050, lambda done, total: calls.append((done, total)), target_lufs=-14.0)
    unique = len(set(texts))
    assert calls[0] == (0, 2 * unique) and calls[-1] == (2 * unique, 2 * unique)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
