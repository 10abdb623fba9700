"""Another MPRIS player on the bus (music, a podcast), for the --pause-others tests.

Run as a program: ``python fakeplayer.py NAME``. It owns
``org.mpris.MediaPlayer2.NAME``, is Playing, prints ``ready`` once on the bus
and then one line ``<method> <monotonic time>`` for each Play, Pause or
PlayPause it receives; it runs until it is terminated.
"""
from __future__ import annotations

import asyncio
import sys
import time

from dbus_fast.aio import MessageBus
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_property, method


class FakePlayer(ServiceInterface):
    def __init__(self):
        super().__init__("org.mpris.MediaPlayer2.Player")
        self.status = "Playing"

    def _log(self, what: str, status: str) -> None:
        self.status = status
        print(what, time.monotonic(), flush=True)

    @method()
    def Play(self):
        self._log("Play", "Playing")

    @method()
    def Pause(self):
        self._log("Pause", "Paused")

    @method()
    def PlayPause(self):
        self._log("PlayPause", "Paused" if self.status == "Playing" else "Playing")

    @dbus_property(PropertyAccess.READ)
    def PlaybackStatus(self) -> "s":
        return self.status

    @dbus_property(PropertyAccess.READ)
    def CanControl(self) -> "b":
        return True

    @dbus_property(PropertyAccess.READ)
    def CanPlay(self) -> "b":
        return True

    @dbus_property(PropertyAccess.READ)
    def CanPause(self) -> "b":
        return True


async def main(name: str) -> None:
    bus = await MessageBus().connect()
    bus.export("/org/mpris/MediaPlayer2", FakePlayer())
    await bus.request_name(f"org.mpris.MediaPlayer2.{name}")
    print("ready", flush=True)
    await bus.wait_for_disconnect()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
