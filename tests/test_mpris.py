"""The MPRIS side on its own: a real private session bus, the real playerctl, no sound.

`Mpris` is driven here as the player's loop drives it (`publish` where the
session is, `poll` for commands); what the desktop sees is read back with
playerctl and, for what playerctl does not show, a plain D-Bus client. The
end-to-end tests with sound are in test_hands_free.py.
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time

import pytest
from dbus_fast import Message, MessageType
from dbus_fast.aio import MessageBus

from support.fakeplayer import FakePlayer
from support.sessionbus import SessionBus
from voicecoach.mpris import Mpris, Track, tracks
from voicecoach.timeline import StepSpan, Timeline

RATE = 22050
OUR_NAME = f"voicecoach.instance{os.getpid()}"


def span(index: int, name: str, side: str | None, announce: float, start: float, end: float) -> StepSpan:
    return StepSpan(index, name, side, round(announce * RATE), round(start * RATE), round(end * RATE), end - start)


def session(intro: float = 2.0) -> Timeline:
    """Introduction, a 6 s hold on the right side, a 3 s press; 20 s in all."""
    return Timeline("psoas", "Psoas release", RATE, 20 * RATE, (
        span(0, "Tennis ball psoas release", "right", intro, 4.0, 10.0),
        span(1, "Press", None, 12.0, 13.0, 16.0),
    ))


def wait_for(check, what: str, timeout: float = 5.0):
    """Poll `check` until it returns something true; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"{what}: not within {timeout} s")


def playerctl(bus: SessionBus, *args: str) -> str:
    out = subprocess.run(["playerctl", "-p", OUR_NAME, *args], env={**os.environ, **bus.env},
                         capture_output=True, text=True, timeout=10)
    return out.stdout.strip()


def listed(bus: SessionBus) -> list[str]:
    return subprocess.run(["playerctl", "-l"], env={**os.environ, **bus.env}, capture_output=True, text=True,
                          timeout=10).stdout.split()


@pytest.fixture
def served(session_bus, monkeypatch):
    """An Mpris for `session()` on the private bus, up and listed; closed after the test."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session_bus.address)
    mpris = Mpris(session())
    mpris.start()
    wait_for(lambda: OUR_NAME in listed(session_bus), "voicecoach listed by playerctl -l")
    yield mpris
    mpris.close()


def dbus_call(bus: SessionBus, interface: str, member: str, signature: str = "", body=()) -> list:
    """One call to our object from a separate client; the reply body."""
    async def call():
        client = await MessageBus(bus_address=bus.address).connect()
        try:
            reply = await client.call(Message(destination=f"org.mpris.MediaPlayer2.{OUR_NAME}",
                                              path="/org/mpris/MediaPlayer2", interface=interface, member=member,
                                              signature=signature, body=list(body)))
        finally:
            client.disconnect()
        assert reply.message_type == MessageType.METHOD_RETURN, reply.body
        return reply.body

    return asyncio.run(call())


def get(bus: SessionBus, interface: str, name: str):
    return dbus_call(bus, "org.freedesktop.DBus.Properties", "Get", "ss", [interface, name])[0].value


def test_tracks_are_the_introduction_then_each_step_end_to_end():
    assert tracks(session()) == (
        Track("/voicecoach/intro", "Introduction", 0, 2 * RATE),
        Track("/voicecoach/step/1", "Tennis ball psoas release (right)", 2 * RATE, 12 * RATE),
        Track("/voicecoach/step/2", "Press", 12 * RATE, 20 * RATE),
    )
    assert [t.trackid for t in tracks(session(intro=0.0))] == ["/voicecoach/step/1", "/voicecoach/step/2"]


def test_the_desktop_sees_a_player_named_for_this_process_with_the_step_as_track(served, session_bus):
    served.publish(5 * RATE, paused=True)  # three seconds into the first step's track
    assert playerctl(session_bus, "metadata", "--format",
                     "{{mpris:trackid}}|{{xesam:title}}|{{xesam:album}}|{{xesam:artist}}|{{mpris:length}}") == \
        "'/voicecoach/step/1'|Tennis ball psoas release (right)|Psoas release|voicecoach|10000000"
    assert (playerctl(session_bus, "status"), playerctl(session_bus, "position")) == ("Paused", "3.000000")
    published = time.monotonic()
    served.publish(5 * RATE, paused=False)
    position = float(playerctl(session_bus, "position"))
    assert playerctl(session_bus, "status") == "Playing"
    assert 3.0 <= position <= 3.0 + (time.monotonic() - published)  # playing: the time since the last publish counts
    root, player = "org.mpris.MediaPlayer2", "org.mpris.MediaPlayer2.Player"
    assert (get(session_bus, root, "Identity"), get(session_bus, root, "CanQuit"),
            get(session_bus, root, "CanRaise")) == ("voicecoach", True, False)
    assert {name: get(session_bus, player, name) for name in
            ("CanPlay", "CanPause", "CanGoNext", "CanGoPrevious", "CanControl", "CanSeek")} == \
        {"CanPlay": True, "CanPause": True, "CanGoNext": True, "CanGoPrevious": True, "CanControl": True,
         "CanSeek": False}
    xml = dbus_call(session_bus, "org.freedesktop.DBus.Introspectable", "Introspect")[0]
    for interface in (root, player, "org.freedesktop.DBus.Properties"):
        assert f'<interface name="{interface}">' in xml


def test_each_method_gives_the_command_of_its_key(served, session_bus):
    for verb in ("play-pause", "play", "pause", "next", "previous", "stop"):
        playerctl(session_bus, verb)
    playerctl(session_bus, "position", "30")  # CanSeek is false: no command, no error
    dbus_call(session_bus, "org.mpris.MediaPlayer2", "Quit")
    commands = []
    wait_for(lambda: commands.extend(iter(served.poll, None)) or len(commands) >= 7, "seven commands")
    assert commands == ["toggle", "play", "pause", "next", "restart", "quit", "quit"]


def test_step_changes_and_pauses_are_announced(served, session_bus):
    follow = subprocess.Popen(["playerctl", "-p", OUR_NAME, "-F", "metadata", "--format",
                               "{{status}} {{xesam:title}}"], env={**os.environ, **session_bus.env},
                              stdout=subprocess.PIPE, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(follow.stdout), daemon=True).start()
    try:
        wait_for(lambda: lines, "the first line of playerctl -F")
        for sample, paused in ((1 * RATE, False), (3 * RATE, False), (4 * RATE, True), (4 * RATE, False),
                               (13 * RATE, False)):
            seen = len(lines)
            served.publish(sample, paused)
            if sample != 1 * RATE:  # within the introduction nothing changes, so nothing is announced
                wait_for(lambda: len(lines) > seen, f"an announcement after publish({sample}, {paused})")
        assert playerctl(session_bus, "metadata", "mpris:trackid") == "'/voicecoach/step/2'"  # playerctl quotes object paths
        assert get(session_bus, "org.mpris.MediaPlayer2.Player", "CanGoNext") is False
    finally:
        follow.terminate()
        follow.wait()
    assert [line.strip() for line in lines] == [
        "Playing Introduction", "Playing Tennis ball psoas release (right)",
        "Paused Tennis ball psoas release (right)", "Playing Tennis ball psoas release (right)", "Playing Press"]


def test_no_session_bus_changes_nothing(monkeypatch, tmp_path):
    for address in (f"unix:path={tmp_path / 'none'}", None):
        if address is None:  # not set at all, as on a console: nothing in XDG_RUNTIME_DIR, no X display
            monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS")
            monkeypatch.delenv("DISPLAY", raising=False)
            monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
        else:
            monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        mpris = Mpris(session(), pause_others=True)
        began = time.monotonic()
        mpris.start()
        for i in range(5):
            mpris.publish(i * RATE, paused=bool(i % 2))
            assert mpris.poll() is None
        mpris.close()
        assert time.monotonic() - began < 1.0
        assert mpris.failure.startswith("MPRIS off: no session bus"), mpris.failure


def test_a_bus_that_refuses_the_name(monkeypatch):
    with SessionBus(refuse_prefix="org.mpris.MediaPlayer2.voicecoach") as bus:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus.address)
        mpris = Mpris(session())
        mpris.start()
        wait_for(lambda: mpris.failure, "a failure")
        mpris.publish(RATE, paused=True)
        assert mpris.poll() is None
        mpris.close()
    assert mpris.failure == f"MPRIS off: the session bus refused the name org.mpris.MediaPlayer2.{OUR_NAME}"


def test_a_bus_that_dies_mid_session(served, session_bus):
    session_bus.kill()
    wait_for(lambda: served.failure, "a failure")
    for i in range(5):  # the player's loop goes on calling as before
        served.publish(i * 3 * RATE, paused=bool(i % 2))
        assert served.poll() is None
    began = time.monotonic()
    served.close()
    assert time.monotonic() - began < 0.5
    assert served.failure == "MPRIS off: the session bus went away"


def test_pause_others_pauses_the_playing_ones_and_resumes_them_at_the_end(session_bus, monkeypatch):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session_bus.address)
    music, podcast, gone = (FakePlayer({**os.environ, **session_bus.env}, n) for n in ("music", "podcast", "gone"))
    try:
        subprocess.run(["playerctl", "-p", "podcast", "pause"], env={**os.environ, **session_bus.env}, check=True)
        wait_for(lambda: podcast.methods() == ["Pause"], "the podcast paused by hand")
        mpris = Mpris(session(), pause_others=True)
        mpris.start()
        wait_for(lambda: music.methods() == ["Pause"] and gone.methods() == ["Pause"], "music and gone paused")
        gone.stop()  # a player that leaves the bus while voicecoach plays
        began = time.monotonic()
        mpris.close()
        assert time.monotonic() - began < 1.0
        assert mpris.failure is None
        wait_for(lambda: music.methods() == ["Pause", "Play"], "music resumed")
        assert podcast.methods() == ["Pause"]  # paused before the session: left alone
    finally:
        for player in (music, podcast, gone):
            player.stop()


def test_a_player_that_hangs_does_not_keep_the_others_paused(session_bus, monkeypatch):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session_bus.address)
    hung, music = FakePlayer({**os.environ, **session_bus.env}, "hung", "--hung"), FakePlayer({**os.environ, **session_bus.env}, "music")
    try:
        mpris = Mpris(session(), pause_others=True)
        mpris.start()
        wait_for(lambda: music.methods() == ["Pause"], "music paused")
        began = time.monotonic()
        mpris.close()
        assert time.monotonic() - began < 2.0
        wait_for(lambda: music.methods() == ["Pause", "Play"], "music resumed")
        assert mpris.failure is None
    finally:
        for player in (hung, music):
            player.stop()


def test_the_options_win_over_the_config_file_which_wins_over_the_defaults(tmp_path):
    from voicecoach.config import Config, load_config
    from voicecoach.errors import RoutineError
    from voicecoach.settings import resolve

    def hands_free(mpris, pause_others, cfg):
        chosen = resolve(cfg, {"mpris": mpris, "pause_others": pause_others})
        return {"mpris": chosen.mpris, "pause_others": chosen.pause_others}

    config = tmp_path / "config.yaml"
    config.write_text("mpris: false\npause_others: true\n")
    assert hands_free(None, None, load_config(config)) == {"mpris": False, "pause_others": True}
    assert hands_free(True, False, load_config(config)) == {"mpris": True, "pause_others": False}
    assert hands_free(None, None, Config()) == {"mpris": True, "pause_others": False}
    config.write_text("pause_others: sometimes\n")
    with pytest.raises(RoutineError, match="expected true or false for pause_others, found"):
        load_config(config)
