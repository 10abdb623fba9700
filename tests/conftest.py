"""Shared fixtures."""
from __future__ import annotations

import os
import signal
import warnings

import pytest

from support.pulse import ROOM, PulseServer, PulseUnavailable, no_server_env
from support.sessionbus import BusUnavailable, SessionBus


@pytest.fixture(scope="session", autouse=True)
def no_desktop_bus(tmp_path_factory):
    """Hide the session bus of whoever runs the tests.

    voicecoach is an MPRIS player on the session bus while it plays; no test
    should appear in a developer's media widget or take commands from a
    headset. Tests that want a bus start a private one (`session_bus`).
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path_factory.mktemp('no-bus') / 'none'}")
        yield


@pytest.fixture
def session_bus():
    """A private D-Bus session bus for one test; fails (never skips) when dbus-daemon is missing."""
    bus = SessionBus()
    try:
        bus.start()
    except BusUnavailable as exc:
        pytest.fail(f"cannot start a private session bus: {exc}", pytrace=False)
    yield bus
    bus.stop()


# The longest test files, longest first (seconds in clean-clone runs of stop 20 on two workers: journeys
# 386, hands-free 287, drift 280 (one test: 266 s of play), play 220, the benches 173, the read-only-cache
# play 90 of test_cache, session export 108, serve 90-140, bed export 99, the lossy peaks'
# setup 53, desk 77, fuzz 75, sinks 63; plan play, listening, signals about 70 each in a run of the live
# tests alone). scripts/test hands whole files to the workers in this order (--no-loadscope-reorder:
# xdist would otherwise start the files with the most tests first, and these one-test files of minutes
# ran last, alone: 16 minutes).
LONGEST_FIRST = ["test_journeys.py", "test_hands_free.py", "test_long_session.py", "test_piper.py", "test_play.py",
                 "test_bench.py", "test_cache.py", "test_session_export.py", "test_serve.py",
                 "test_background_export.py", "test_export_peaks.py", "test_desk.py", "test_fuzz.py",
                 "test_plan_play.py", "test_sinks.py", "test_listen_live.py", "test_signals.py", "test_cli.py",
                 "test_growing.py", "test_background_play.py", "test_session_lock.py"]


def pytest_collection_modifyitems(items):
    """A test that plays through the private sound server is an `audio` test, however it is written."""
    for item in items:
        if {"pulse_server", "pulse_env"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.audio)
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order

# The suite speaks with pyttsx3 unless a test names another engine: espeak-ng says a
# phrase the same way every time (Piper does not), and it is about ten times faster,
# which keeps the tests of timing, export and play quick on two cores. test_piper.py
# tests the neural voice, and the default choice of it, with this switch turned back on.
# Set before any test runs, so the voicecoach processes the tests start inherit it.
os.environ.setdefault("VOICECOACH_NEURAL", "off")

# A suite started in the background by a non-interactive shell (as CI may) inherits
# SIGINT ignored, and so would every voicecoach a test starts: the Ctrl-C tests would
# wait on a player that cannot hear it. A handler here is reset to the default in children.
signal.signal(signal.SIGINT, signal.default_int_handler)


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


@pytest.fixture(scope="module")
def room_server():
    """A private PulseAudio server with a room (support.pulse.ROOM): its monitor is the default microphone.

    Modules may be loaded and unloaded later: a test plugs a microphone in and pulls it out.
    """
    try:
        server = PulseServer(modules=ROOM, loadable=True)
        server.start()
    except PulseUnavailable as exc:
        pytest.fail(f"cannot start the private PulseAudio server: {exc}", pytrace=False)
    server.pactl("set-default-source", "room.monitor")
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def pulse_server_running(request):
    """Start the private server again, on the same socket, if it ended since the last test.

    Once in five clean-clone runs the server of one worker was gone between two tests
    ("Connection refused"), and the twelve tests after it on that worker failed with it.
    One way that happens silently is now ruled out (the kernel's cap on its realtime
    thread, see PulseServer._launch); in case of another, the test during which a server
    ends fails by itself if a listener would have noticed (its recording stops), the next
    ones get a running server, and a warning says how the old one ended, with the end of
    its log.
    """
    if "pulse_server" not in request.fixturenames:
        return
    server = request.getfixturevalue("pulse_server")
    died = server.death()
    if died:
        warnings.warn(f"the private PulseAudio server had ended before {request.node.nodeid}; "
                      f"started again. {died}", stacklevel=1)
        server.restart()


@pytest.fixture
def user_env(tmp_path_factory, pulse_server):
    """The environment of a user with a private cache, data folder, config and routine folder, on the test server."""
    home = tmp_path_factory.mktemp("user")
    return {**os.environ, **pulse_server.env,
            "VOICECOACH_CACHE_DIR": str(home / "cache"), "VOICECOACH_DATA": str(home / "data"),
            "VOICECOACH_CONFIG": str(home / "config.yaml"), "VOICECOACH_ROUTINES": str(home / "routines")}


@pytest.fixture
def bus_user_env(user_env, session_bus):
    """`user_env` on the private session bus too (MPRIS, other media players)."""
    return {**user_env, **session_bus.env}


SHORT = """\
title: Short check
safety: false
countdown: 2
steps:
  - name: Hold
    duration: 2s
    prep: 0.5s
"""


@pytest.fixture
def short_routine(tmp_path):
    """short.yaml in the test's folder: one 2-second step after a 2-second countdown, no safety question."""
    path = tmp_path / "short.yaml"
    path.write_text(SHORT)
    return path


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


@pytest.fixture
def record_property(record_property):
    """pytest's record_property, taking numpy numbers too (xdist's workers send only plain values)."""
    def plain(value):
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value.item() if hasattr(value, "item") else value

    def record(name: str, value) -> None:
        record_property(name, plain(value))
    return record
