"""Another MPRIS player on the bus (music, a podcast), for the --pause-others tests: `FakePlayer` starts one.

Run as a program: ``python fakeplayer.py NAME [--hung]``. It owns
``org.mpris.MediaPlayer2.NAME``, is Playing, prints ``ready`` once on the bus
and then one line ``<method> <monotonic time>`` for each Play, Pause or
PlayPause it receives; it runs until it is terminated. With ``--hung`` it
never answers again once asked for its PlaybackStatus after it is ready (a
player that froze).
"""
from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

from dbus_fast.aio import MessageBus
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_property, method


class _Playing(ServiceInterface):
    """The player's side on the bus: Playing until told otherwise, each call logged on stdout."""

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


class FakePlayer:
    """This program on the bus as the player NAME, Playing, in a process of its own; it logs the calls it gets.

    `env` is the environment it runs in (its DBUS_SESSION_BUS_ADDRESS names the bus);
    `options` are the program's (``--hung``).
    """

    def __init__(self, env: dict, name: str = "music", *options: str):
        self.env, self.name = env, name
        self.proc = subprocess.Popen([sys.executable, __file__, name, *options], env=env, stdout=subprocess.PIPE,
                                     text=True)
        if self.proc.stdout.readline().strip() != "ready":
            self.proc.kill()
            raise RuntimeError(f"the other player {name!r} did not come up on the bus")
        self.calls: list[tuple[str, float]] = []  # (method, time.monotonic() when it was called)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            method, when = line.split()
            self.calls.append((method, float(when)))

    def methods(self, settle: float = 0.0) -> list[str]:
        """The calls so far; with `settle`, once that many seconds passed without a new one."""
        seen = -1
        while settle and seen != len(self.calls):
            seen = len(self.calls)
            time.sleep(settle)
        return [m for m, _ in self.calls]

    def status(self) -> str:
        """Its PlaybackStatus as playerctl reads it."""
        return subprocess.run(["playerctl", "-p", self.name, "status"], env=self.env, capture_output=True,
                              text=True, timeout=10).stdout.strip()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


async def main(name: str, hung: bool) -> None:
    bus = await MessageBus().connect()
    player = _Playing(hung)
    bus.export("/org/mpris/MediaPlayer2", player)
    await bus.request_name(f"org.mpris.MediaPlayer2.{name}")
    player.ready = True
    print("ready", flush=True)
    await bus.wait_for_disconnect()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], "--hung" in sys.argv[2:]))
