"""The sieve on standard error: speexdsp's own warning kept off the user's terminal.

speexdsp prints "warning: The echo canceller started acting funny and got
slapped (reset)..." with fprintf(stderr) from C whenever its filter diverges
and resets itself (after an echo path changes, or a clipped frame); it has no
control to silence it. Sending file descriptor 2 to /dev/null around each call
would also swallow whatever else the process says meanwhile (the listener runs
beside the player), so while listening fd 2 goes through a pipe instead, and
a thread passes every line on except speexdsp's.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading

SPEEX_RESET = b"warning: The echo canceller started acting funny"


class Sieve:
    """While open, every line written to fd 2 reaches it unchanged, except those starting with `drop`."""

    def __init__(self, drop: tuple[bytes, ...] = (SPEEX_RESET,)):
        self.drop = drop
        sys.stderr.flush()
        self._out = os.dup(2)
        read, write = os.pipe()
        os.dup2(write, 2)
        os.close(write)
        self._thread = threading.Thread(target=self._pump, args=(read, self._out), name="voicecoach-stderr", daemon=True)
        self._thread.start()

    def _maybe_dropped(self, start: bytes) -> bool:
        """Whether a line beginning `start` may still turn out to be one to drop."""
        return any(d.startswith(start[:len(d)]) for d in self.drop)

    def _pump(self, read: int, out: int) -> None:
        pending = b""
        with contextlib.suppress(OSError):
            while chunk := os.read(read, 65536):
                *lines, pending = (pending + chunk).split(b"\n")
                kept = b"".join(line + b"\n" for line in lines if not line.startswith(self.drop))
                if pending and not self._maybe_dropped(pending):  # a prompt without its newline yet: now
                    kept, pending = kept + pending, b""
                if kept:
                    os.write(out, kept)
            if pending and not pending.startswith(self.drop):
                os.write(out, pending)
        os.close(read)

    def close(self) -> None:
        """fd 2 as it was; the rest of the pipe is passed on (a child still holding it keeps it open: not waited for)."""
        out, self._out = self._out, None
        if out is None:
            return
        sys.stderr.flush()
        os.dup2(out, 2)  # the pipe's last write end here: the pump sees its end
        self._thread.join(1.0)
        if not self._thread.is_alive():  # else a child holds the pipe, and the pump still passes on what it says
            os.close(out)

    def __enter__(self) -> Sieve:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
