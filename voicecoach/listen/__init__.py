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


def for_settings(settings, log=None) -> tuple[Listener | None, str | None]:
    """The listener `settings.listen` asks for (None when it does not) and why there is none.

    `log(line)` gets each word heard when `settings.listen_log` is on.
    """
    if not settings.listen:
        return None, None
    return open_listener(settings.sample_rate, settings.listen_device, settings.backend, settings.device,
                         log if settings.listen_log else None)


__all__ += ["open_listener", "for_settings"]
