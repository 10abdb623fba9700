"""Spoken commands ("pause", "next", ...) for live play: offline, and deaf to the coach's own voice.

`Listener` is what the player talks to; `Hearing` is the streaming pipeline
(echo canceller, spotter, gate) that the listener and the bench both run.
"""
from __future__ import annotations

from .capture import MicrophoneGone
from .hearing import Hearing
from .listener import Listener
from .words import COMMANDS

__all__ = ["COMMANDS", "Hearing", "Listener", "MicrophoneGone"]
