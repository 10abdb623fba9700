"""The safety texts: one place, every red flag from the guide, a reminder short enough to speak."""
from __future__ import annotations

import io
import subprocess

import pytest
import soundfile

from voicecoach.routines import safety


def test_full_text_holds_every_item_and_fits_80_columns():
    text = safety.full_text()
    flat = " ".join(text.split())
    for item in safety.RED_FLAGS + safety.CONTRAINDICATIONS + safety.SEE_A_PROFESSIONAL + safety.CAUTIONS:
        assert " ".join(item.split()) in flat
    assert max(len(line) for line in text.splitlines()) <= 80
    assert text.endswith("\n")


@pytest.mark.parametrize("words", ["sharp", "numbness", "tingling", "blood clot", "infection", "surgery"])
def test_reminder_names_the_essentials(words):
    assert words in safety.SHORT_REMINDER


@pytest.mark.parametrize("words", ["72 hours", "24 hours", "48 hours"])
def test_waiting_times_from_the_guide(words):
    assert any(words in item for item in safety.SEE_A_PROFESSIONAL)


def test_reminder_takes_about_ten_seconds_to_say():
    wav = subprocess.run(["espeak-ng", "-v", "en-us", "-s", "165", "--stdout", safety.SHORT_REMINDER],
                         capture_output=True, check=True).stdout
    info = soundfile.info(io.BytesIO(wav))
    assert 5 < info.frames / info.samplerate < 12
