"""The two D-Bus interfaces of an MPRIS2 player, as dbus_fast services.

`Root` is org.mpris.MediaPlayer2 and `Player` org.mpris.MediaPlayer2.Player;
dbus_fast adds org.freedesktop.DBus.Properties and introspection. Both only
put commands into the session's queue and read what `service.Mpris` knows:
nothing here acts on the session. dbus_fast reads each D-Bus type from the
string annotation; methods have no return annotation at all (with postponed
annotations "-> None" arrives as the string "None", which it rejects).
"""
from __future__ import annotations

import queue

from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_property, method, signal

READ = PropertyAccess.READ
PLAYER = "org.mpris.MediaPlayer2.Player"


class Root(ServiceInterface):
    def __init__(self, commands: queue.SimpleQueue):
        super().__init__("org.mpris.MediaPlayer2")
        self.commands = commands

    @method()
    def Raise(self):
        pass  # CanRaise is false: a terminal program has no window to raise

    @method()
    def Quit(self):
        self.commands.put("quit")

    @dbus_property(READ)
    def CanQuit(self) -> "b":
        return True

    @dbus_property(READ)
    def CanRaise(self) -> "b":
        return False

    @dbus_property(READ)
    def HasTrackList(self) -> "b":
        return False

    @dbus_property(READ)
    def Identity(self) -> "s":
        return "voicecoach"

    @dbus_property(READ)
    def SupportedUriSchemes(self) -> "as":
        return []

    @dbus_property(READ)
    def SupportedMimeTypes(self) -> "as":
        return []


class Player(ServiceInterface):
    def __init__(self, mpris):
        super().__init__(PLAYER)
        self.mpris = mpris

    @method()
    def PlayPause(self):
        self.mpris.commands.put("toggle")

    @method()
    def Play(self):
        self.mpris.commands.put("play")

    @method()
    def Pause(self):
        self.mpris.commands.put("pause")

    @method()
    def Next(self):
        self.mpris.commands.put("next")

    @method()
    def Previous(self):
        self.mpris.commands.put("restart")

    @method()
    def Stop(self):
        self.mpris.commands.put("quit")

    @method()
    def Seek(self, offset: "x"):
        pass  # CanSeek is false: the pacing is the routine's

    @method()
    def SetPosition(self, track_id: "o", position: "x"):
        pass

    @method()
    def OpenUri(self, uri: "s"):
        pass

    @signal()
    def Seeked(self, position: "x") -> "x":
        return position

    @dbus_property(READ)
    def PlaybackStatus(self) -> "s":
        return self.mpris.status()

    @dbus_property(READ)
    def Metadata(self) -> "a{sv}":
        return self.mpris.metadata()

    @dbus_property(READ)
    def Position(self) -> "x":
        return self.mpris.position_us()

    @dbus_property(READ)
    def CanGoNext(self) -> "b":
        return self.mpris.can_go_next()

    @dbus_property(READ)
    def CanGoPrevious(self) -> "b":
        return True

    @dbus_property(READ)
    def CanPlay(self) -> "b":
        return True

    @dbus_property(READ)
    def CanPause(self) -> "b":
        return True

    @dbus_property(READ)
    def CanSeek(self) -> "b":
        return False

    @dbus_property(READ)
    def CanControl(self) -> "b":
        return True

    @dbus_property(READ)
    def Rate(self) -> "d":
        return 1.0

    @dbus_property(READ)
    def MinimumRate(self) -> "d":
        return 1.0

    @dbus_property(READ)
    def MaximumRate(self) -> "d":
        return 1.0

    @dbus_property()
    def Volume(self) -> "d":
        return 1.0

    @Volume.setter
    def Volume(self, value: "d"):
        pass  # the loudness is the listener's to set in the system mixer
