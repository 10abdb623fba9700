"""MPRIS: voicecoach as a media player on the D-Bus session bus while a session plays.

`service.py` runs the bus in its own thread (`Mpris`: commands in, where the
session is out) and `interfaces.py` holds the two D-Bus interfaces it exports.
"""
from .service import Mpris, Track, session_address, tracks

__all__ = ["Mpris", "Track", "session_address", "tracks"]
