"""Shared fixtures."""
from __future__ import annotations

import os

import pytest

from pulse import PulseServer, PulseUnavailable, no_server_env

# The suite speaks with pyttsx3 unless a test names another engine: espeak-ng says a
# phrase the same way every time (Piper does not), and it is about ten times faster,
# which keeps the tests of timing, export and play quick on two cores. test_piper.py
# tests the neural voice, and the default choice of it, with this switch turned back on.
# Set before any test runs, so the voicecoach processes the tests start inherit it.
os.environ.setdefault("VOICECOACH_NEURAL", "off")


@pytest.fixture(scope="session")
def pulse_server():
    """A private PulseAudio server with the null sink ``vc_test`` (22050 Hz mono).

    Fails (never skips) when PulseAudio is missing: playback is tested with a
    real sound server or not at all, and a silent skip would hide that.
    """
    try:
        server = PulseServer()
        server.start()
    except PulseUnavailable as exc:
        pytest.fail(f"cannot start the private PulseAudio server: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def pulse_env(pulse_server, monkeypatch):
    """Point this process's libpulse and ALSA at the private server for one test."""
    for key, value in pulse_server.env.items():
        monkeypatch.setenv(key, value)
    return pulse_server


@pytest.fixture
def no_audio_env(tmp_path, monkeypatch):
    """Make this process see no sound server and no ALSA card for one test."""
    for key, value in no_server_env(tmp_path / "no-audio").items():
        monkeypatch.setenv(key, value)
