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


def open_listener(rate: int, mic: str | None = None, backend: str | None = None, device: str | None = None,
                  log=None) -> tuple[Listener | None, str | None]:
    """A started Listener, or None and one line saying why there is nothing to listen with.

    The session plays on either way: listening is never a reason not to play.
    """
    try:
        return Listener(rate, mic, backend, device, log=log), None
    except MicrophoneGone as exc:
        return None, f"not listening: {exc}"
    except (OSError, ImportError) as exc:  # libspeexdsp or pocketsphinx missing from this install
        return None, f"not listening: {exc}"


__all__.append("open_listener")
