"""What every sink shares: the interface, the sample conversion, the device errors."""
from __future__ import annotations

import os
from typing import Callable, Protocol

import numpy as np

from ..errors import NoAudioDevice

Source = Callable[[int, int], np.ndarray]

# A sink opens its device before the stream's rate is known; the session
# default is the likeliest, and start() reopens if the stream differs.
DEFAULT_RATE = 22050
HINT = "to listen anyway, write the session to a file with `voicecoach export`"


class Sink(Protocol):
    """Plays one stream of samples on a sound device."""

    def start(self, source: Source, total: int, rate: int, from_sample: int = 0) -> None:
        """Start playing samples ``from_sample .. total`` of ``source`` at ``rate``."""

    def position(self) -> int:
        """Return the stream sample the listener is hearing now (exact while paused where the backend says so)."""

    def pause(self) -> None:
        """Silence the output, keeping the stream position (may block until it is silent)."""

    def resume(self) -> None:
        """Continue at the sample where the stream stopped."""

    def stop(self) -> None:
        """Stop playing and release the device; the sink cannot be restarted."""

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every sample up to ``total`` has been played; False on timeout."""

    @property
    def finished(self) -> bool:
        """True once every sample up to ``total`` has been played."""


def to_int16(block: np.ndarray) -> np.ndarray:
    """Return float samples in [-1, 1] as int16 (clipped, rounded)."""
    return np.rint(np.clip(block, -1.0, 1.0) * 32767.0).astype("<i2")


def render(source: Source, start: int, n: int) -> np.ndarray:
    """Return exactly ``n`` float32 samples of ``source`` from ``start``."""
    block = np.asarray(source(start, n), dtype=np.float32).reshape(-1)
    if len(block) != n:
        raise ValueError(f"source returned {len(block)} samples for a block of {n}")
    return block


def prefer_realtime() -> bool:
    """Ask the OS to run the calling thread (the audio callback) ahead of ordinary work.

    A device callback that waits behind busy programs for longer than the
    device's buffer leaves a gap, and everything after it is late. Sound
    servers run their own threads this way; where the OS allows it (Linux,
    with RLIMIT_RTPRIO above zero or as root) the thread that feeds them
    should too. Elsewhere nothing changes. Returns whether it worked.
    """
    if not hasattr(os, "sched_setscheduler"):
        return False
    try:
        # pid 0 is the calling thread on Linux; a low priority stays below the sound server's.
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(min(3, os.sched_get_priority_max(os.SCHED_RR))))
    except (OSError, AttributeError):
        return False
    return True


def no_device(backend: str, detail: object, *more: str) -> NoAudioDevice:
    """The one-line error for a device or sound server that cannot be opened.

    ``more`` adds what other backends said ("name: detail"); the error keeps
    every part in ``parts``, so a caller that tried several can list them all.
    """
    parts = [f"{backend}: {detail}", *more]
    error = NoAudioDevice(f"no audio device or sound server could be opened ({'; '.join(parts)}); {HINT}")
    error.parts = parts
    return error


def device_stopped() -> NoAudioDevice:
    """The one-line error for a device that stopped playing in the middle of a session."""
    return NoAudioDevice(f"the audio device stopped playing; {HINT}")
