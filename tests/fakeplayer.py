"""Another MPRIS player on the bus (music, a podcast), for the --pause-others tests.

Run as a program: ``python fakeplayer.py NAME [--hung]``. It owns
``org.mpris.MediaPlayer2.NAME``, is Playing, prints ``ready`` once on the bus
and then one line ``<method> <monotonic time>`` for each Play, Pause or
PlayPause it receives; it runs until it is terminated. With ``--hung`` it
never answers again once asked for its PlaybackStatus after it is ready (a
player that froze).
"""
from __future__ import annotations

import asyncio
import sys
import time

from dbus_fast.aio import MessageBus
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_property, method


class FakePlayer(ServiceInterface):
    def __init__(self, hung: bool = False):
        super().__init__("org.mpris.MediaPlayer2.Player")
        self.status = "Playing"
        self.hung = hung
        self.ready = False  # dbus_fast reads every property once when the object is exported

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
        if self.hung and self.ready:
            time.sleep(3600)  # blocks the whole loop: no call is answered any more
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


async def main(name: str, hung: bool) -> None:
    bus = await MessageBus().connect()
    player = FakePlayer(hung)
    bus.export("/org/mpris/MediaPlayer2", player)
    await bus.request_name(f"org.mpris.MediaPlayer2.{name}")
    player.ready = True
    print("ready", flush=True)
    await bus.wait_for_disconnect()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], "--hung" in sys.argv[2:]))
