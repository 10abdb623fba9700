"""The library says what is wrong in its own words; the command line's error line adds the option to use."""
from __future__ import annotations

import pytest

from voicecoach import sinks
from voicecoach.cli.output import error_line
from voicecoach.errors import NotReplaced, SettingError
from voicecoach.export import check_targets
from voicecoach.speech import Voice
from voicecoach.speech.engines import CommandEngine


def test_an_unknown_backend_names_the_option_and_how_to_list_them():
    with pytest.raises(SettingError) as caught:
        sinks.open_sink("bogus")
    assert "--" not in str(caught.value)
    assert error_line(caught.value) == ("voicecoach: --backend 'bogus': not an audio backend; choose one of: "
                                        "miniaudio, pulse, simpleaudio (`--backend list` says which suits this machine)")


def test_a_command_engine_without_a_command_names_the_option():
    with pytest.raises(SettingError) as caught:
        CommandEngine(Voice(engine="command"))
    assert str(caught.value) == "tts_command: the command engine needs one, e.g. 'espeak-ng -w {out} {text}'"
    assert error_line(caught.value) == \
        "voicecoach: --tts-command: the command engine needs one, e.g. 'espeak-ng -w {out} {text}'"


def test_a_setting_that_would_do_it_is_named_as_its_option():
    refused = SettingError("device", "hw:1", "the simpleaudio backend plays on ALSA's default device only",
                           instead=("backend", "miniaudio"))
    assert str(refused) == ("device 'hw:1': the simpleaudio backend plays on ALSA's default device only; "
                            "use backend 'miniaudio' instead")
    assert error_line(refused) == ("voicecoach: --device 'hw:1': the simpleaudio backend plays on ALSA's default "
                                   "device only; use --backend miniaudio instead")


def test_a_file_not_replaced_says_so_and_the_command_line_adds_force(tmp_path):
    taken = tmp_path / "morning.mp3"
    taken.write_bytes(b"kept")
    with pytest.raises(NotReplaced) as caught:
        check_targets([taken])
    assert str(caught.value) == f"{taken} exists already; choose another name or allow it to be replaced"
    assert error_line(caught.value) == \
        f"voicecoach: {taken} exists already; choose another name or pass --force to overwrite it"
    assert taken.read_bytes() == b"kept"
