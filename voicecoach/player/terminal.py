"""The terminal around live play: single keypresses, and quiet while a device is probed."""
from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def keyboard(enabled: bool) -> Iterator[Callable[[], str | None]]:
    """Single keypresses from a terminal stdin (cbreak mode, restored on exit); None when no key."""
    if not enabled:
        yield lambda: None
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)

        gone = False  # the terminal was closed: it reads as ready, then fails (EIO) or ends, forever

        def read() -> str | None:
            nonlocal gone
            if gone:
                return None
            try:
                ready, _, _ = select.select([fd], [], [], 0)
                data = os.read(fd, 1) if ready else None
            except OSError:
                data = b""
            if data == b"":
                gone = True  # no more keys; the hang-up signal that comes with it ends the session
                return None
            return data.decode(errors="ignore") if data else None

        yield read
    finally:
        with contextlib.suppress(termios.error, OSError):  # a closed terminal (SIGHUP) has no mode to restore
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for a moment.

    ALSA's C library prints its own complaints ("ALSA lib pcm.c: Unknown PCM")
    while a device is probed; voicecoach reports the failure in one line itself.
    Two threads may open devices at once (the listener's acknowledgement beside
    the player's next stream): the first one in sends fd 2 away, the last one
    out brings it back, so neither restores the other's /dev/null for good.
    """
    with _QUIET_LOCK:
        if _QUIET[0] == 0:
            sys.stderr.flush()
            _QUIET[1] = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        _QUIET[0] += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _QUIET[0] -= 1
            if _QUIET[0] == 0:
                os.dup2(_QUIET[1], 2)
                os.close(_QUIET[1])


_QUIET_LOCK = threading.Lock()
_QUIET: list = [0, None]  # how many are inside quiet_stderr, and fd 2 as it was before the first

