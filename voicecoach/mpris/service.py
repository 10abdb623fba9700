"""voicecoach as an MPRIS2 media player on the D-Bus session bus while a session plays.

The desktop routes a headset's play/pause button, the keyboard's media keys,
its media widget, ``playerctl`` and a phone (KDE Connect, GSConnect) to MPRIS
players, so someone lying on a tennis ball can pause without getting up.

The bus runs in its own thread with its own asyncio loop and never acts on the
session: a method call only puts a command into a thread-safe queue, which the
player's loop drains exactly as it reads keys (`poll`). The loop in turn tells
where it is (`publish`: one tuple stored, and one wake-up of the bus thread
when the step or the pause state changed), so nothing on the audio path waits
for the bus. With no session bus, a bus that refuses the name, or a bus that
dies mid-session, the thread just ends: `poll` returns None from then on, the
session plays on, and `failure` says why (nothing is printed).
"""
from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import os
import queue
import stat
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from dbus_fast import DBusError, Message, MessageType, NameFlag, RequestNameReply, Variant
from dbus_fast.aio import MessageBus

from .interfaces import PLAYER, Player, Root
from ..timeline import Timeline

NAME_PREFIX = "org.mpris.MediaPlayer2."
OBJECT_PATH = "/org/mpris/MediaPlayer2"
DBUS = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")
# How long `close` waits for the players paused at the start to be resumed;
# on a working bus that takes about 2 ms per player.
RESUME_WAIT = 2.0
# How long `close` waits for the bus thread otherwise: it only has to leave the bus.
LEAVE_WAIT = 0.2
# How long another player may take to answer before it is skipped (a hung one
# must not keep the others paused; the bus itself gives up only after 25 s).
CALL_TIMEOUT = 0.5

# dbus_fast reports through `logging`; with no handler of ours Python would
# print its warnings to stderr, and a failing bus must print nothing.
logging.getLogger("dbus_fast").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class Track:
    """One stretch of the session as the desktop shows it: samples [start, end)."""

    trackid: str
    title: str
    start: int
    end: int


def tracks(timeline: Timeline) -> tuple[Track, ...]:
    """The session as tracks, end to end: the introduction (if anything comes before step 1), then each step.

    A step's track runs from its announcement to the next one's (the last to the
    session's end); its trackid is the same object path on every run.
    """
    starts = [s.announce_sample for s in timeline.steps] + [timeline.total_samples]
    out = []
    if starts[0] > 0:
        out.append(Track("/voicecoach/intro", "Introduction", 0, starts[0]))
    out += [Track(f"/voicecoach/step/{s.index + 1}", s.title, a, b)
            for s, a, b in zip(timeline.steps, starts, starts[1:])]
    return tuple(out)


def session_address() -> str | None:
    """The session bus address: $DBUS_SESSION_BUS_ADDRESS, else the systemd user bus socket if there is one.

    None leaves the search to dbus_fast (the X11 fallback of older desktops).
    """
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        path = os.path.join(runtime, "bus")
        try:
            if stat.S_ISSOCK(os.stat(path).st_mode):
                return f"unix:path={path}"
        except OSError:
            pass
    return None


class Mpris:
    """The bus side of one live session: `start`, then `poll` and `publish` from the player's loop, then `close`.

    Commands put into the queue are the player's: "toggle", "play", "pause",
    "next", "restart" and "quit".
    """

    def __init__(self, timeline: Timeline, pause_others: bool = False):
        self.pause_others = pause_others
        self.failure: str | None = None  # why voicecoach is not on the bus, once known
        self.commands: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._set(timeline)
        self._shown = (0, False)  # track index and paused, as last announced on the bus
        self._loop = None  # the bus thread's loop while it serves, else None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._served = False  # the name was ours: from then on the bus answers
        self._paused_others: list[str] = []  # unique bus names of the players we paused
        self._player_iface: Player | None = None

    # ------------------------------------------------------------ the player's side

    def _set(self, timeline: Timeline) -> None:
        # The bus thread reads these while the player's loop may change them: each is
        # replaced whole, tracks and their starts in one tuple, so a read never mixes two routines.
        self.album = timeline.title
        self.sample_rate = timeline.sample_rate
        found = tracks(timeline)
        self._track_list = (found, [t.start for t in found])
        self._state = (0, False, time.monotonic())  # sample, paused, when: always replaced whole

    @property
    def tracks(self) -> tuple[Track, ...]:
        return self._track_list[0]

    def load(self, timeline: Timeline) -> None:
        """The next routine of a plan: its steps become the tracks, announced at once; the bus name stays.

        Staying on the bus keeps the players paused with --pause-others paused
        between two routines of a plan.
        """
        self._set(timeline)
        self._shown = (-1, False)  # whatever the first publish says is news
        self.publish(0, False)

    def grew(self, timeline: Timeline) -> None:
        """The same routine, its steps placed anew (a session that grows as its speech comes): tracks follow quietly."""
        found = tracks(timeline)
        self._track_list = (found, [t.start for t in found])

    def start(self) -> None:
        """Start serving in a thread of its own; returns at once and never raises for the bus."""
        self._thread = threading.Thread(target=self._run, name="voicecoach-mpris", daemon=True)
        self._thread.start()

    def poll(self) -> str | None:
        """The oldest command not yet taken, or None."""
        try:
            return self.commands.get_nowait()
        except queue.Empty:
            return None

    def publish(self, sample: int, paused: bool) -> None:
        """Where the session is now. Stores one tuple; wakes the bus thread only when something it shows changed."""
        previous = self._state[0]
        self._state = (sample, paused, time.monotonic())
        shown = (bisect.bisect_right(self._track_list[1], sample) - 1, paused)
        if shown != self._shown:
            self._shown = shown
            self._wake(self._announce)
        elif sample < previous:  # the step was restarted: its position jumped back
            self._wake(self._seeked)

    def close(self) -> None:
        """Resume the players paused at the start, leave the bus and end the thread.

        Waits at most RESUME_WAIT seconds with --pause-others on a bus that
        answered, else LEAVE_WAIT; a bus that hangs is left to the daemon thread.
        """
        if self._thread is None:
            return
        self._closing.set()
        self._wake(self._leave)
        self._thread.join(RESUME_WAIT if self.pause_others and self._served else LEAVE_WAIT)
        self._thread = None

    def _wake(self, callback) -> None:
        loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(callback)
            except RuntimeError:  # the loop closed in between: the bus went away
                pass

    # ------------------------------------------------------------ the bus thread

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except Exception as exc:  # noqa: BLE001  the bus is optional: whatever fails only ends it
            self.failure = self.failure or f"MPRIS off: the session bus failed ({exc})"
        finally:
            self._loop = None

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, _context: None)  # nothing from the bus reaches the terminal
        self._left = asyncio.Event()
        address = session_address()
        if address is None and "DISPLAY" not in os.environ:  # a console: nowhere to look
            self.failure = "MPRIS off: no session bus (DBUS_SESSION_BUS_ADDRESS is not set)"
            return
        try:
            bus = await MessageBus(bus_address=address).connect()
        except Exception as exc:  # noqa: BLE001
            self.failure = f"MPRIS off: no session bus ({exc})"
            return
        try:
            self._player_iface = Player(self)
            bus.export(OBJECT_PATH, Root(self.commands))
            bus.export(OBJECT_PATH, self._player_iface)
            name = f"{NAME_PREFIX}voicecoach.instance{os.getpid()}"
            try:
                reply = await bus.request_name(name, NameFlag.DO_NOT_QUEUE)
            except DBusError:  # a bus policy that forbids the name
                reply = None
            if reply != RequestNameReply.PRIMARY_OWNER:
                self.failure = f"MPRIS off: the session bus refused the name {name}"
                return
            self._served = True
            self._loop = loop
            self._announce()  # the session may have moved on while we connected
            if self.pause_others:
                await self._pause_others(bus, name)
            if self._closing.is_set():  # `close` came before `_loop` was set, so it could not wake us
                self._left.set()
            gone = asyncio.ensure_future(bus.wait_for_disconnect())
            left = asyncio.ensure_future(self._left.wait())
            await asyncio.wait({gone, left}, return_when=asyncio.FIRST_COMPLETED)
            self._loop = None
            if gone.done():
                self.failure = "MPRIS off: the session bus went away"
                return
            await self._resume_others(bus)
        finally:
            self._loop = None
            with contextlib.suppress(Exception):
                bus.disconnect()

    def _leave(self) -> None:
        self._left.set()

    def _announce(self) -> None:
        index, paused = self._shown
        self._player_iface.emit_properties_changed({
            "PlaybackStatus": self.status(),
            "Metadata": self.metadata(),
            "CanGoNext": index < len(self.tracks) - 1,
        })

    def _seeked(self) -> None:
        self._player_iface.Seeked(self.position_us())

    # ------------------------------------------------------------ what the bus reads

    def _now(self) -> tuple[int, Track, bool, float]:
        sample, paused, when = self._state
        found, starts = self._track_list
        return sample, found[max(0, bisect.bisect_right(starts, sample) - 1)], paused, when

    def status(self) -> str:
        return "Paused" if self._state[1] else "Playing"

    def metadata(self) -> dict[str, Variant]:
        _, track, _, _ = self._now()
        return {
            "mpris:trackid": Variant("o", track.trackid),
            "mpris:length": Variant("x", self._us(track.end - track.start)),
            "xesam:title": Variant("s", track.title),
            "xesam:album": Variant("s", self.album),
            "xesam:artist": Variant("as", ["voicecoach"]),
        }

    def position_us(self) -> int:
        """Microseconds into the current track; between two publishes (50 ms) the time since the last is added."""
        sample, track, paused, when = self._now()
        played = self._us(sample - track.start)
        if not paused:
            played += int((time.monotonic() - when) * 1_000_000)
        return min(played, self._us(track.end - track.start))

    def can_go_next(self) -> bool:
        return self._now()[1] is not self.tracks[-1]

    def _us(self, samples: int) -> int:
        return samples * 1_000_000 // self.sample_rate

    # ------------------------------------------------------------ other players (--pause-others)

    async def _pause_others(self, bus: MessageBus, ours: str) -> None:
        """Pause every other MPRIS player that is Playing now; remember each by its unique name."""
        names = await _call(bus, *DBUS, "ListNames")
        for name in names[0] if names else ():
            if not name.startswith(NAME_PREFIX) or name == ours:
                continue
            owner = await _call(bus, *DBUS, "GetNameOwner", "s", [name])
            if owner and await _status(bus, owner[0]) == "Playing":
                if await _call(bus, owner[0], OBJECT_PATH, PLAYER, "Pause") is not None:
                    self._paused_others.append(owner[0])

    async def _resume_others(self, bus: MessageBus) -> None:
        """Play again each player we paused that is still paused; one that left the bus is skipped."""
        for owner in self._paused_others:
            if await _status(bus, owner) == "Paused":
                await _call(bus, owner, OBJECT_PATH, PLAYER, "Play")
        self._paused_others = []


async def _call(bus: MessageBus, destination: str, path: str, interface: str, member: str, signature: str = "",
                body: Sequence = ()) -> list | None:
    """One method call; the reply's body, or None for an error reply (a player that left, say) or no reply in time."""
    message = Message(destination=destination, path=path, interface=interface, member=member, signature=signature,
                      body=list(body))
    try:
        reply = await asyncio.wait_for(bus.call(message), CALL_TIMEOUT)
    except asyncio.TimeoutError:
        return None
    return reply.body if reply is not None and reply.message_type == MessageType.METHOD_RETURN else None


async def _status(bus: MessageBus, owner: str) -> str | None:
    reply = await _call(bus, owner, OBJECT_PATH, "org.freedesktop.DBus.Properties", "Get", "ss",
                        [PLAYER, "PlaybackStatus"])
    return reply[0].value if reply else None
