"""The stop signals: SIGHUP and SIGTERM end a live session the way q does."""
from __future__ import annotations

import signal
import threading

# Besides Ctrl-C (SIGINT), what ends a session from outside: closing its terminal
# and `kill`. Each stops the sound, resumes paused players and is recorded, as q is.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGHUP", "SIGTERM") if hasattr(signal, name))


class StopSignals:
    """While entered, SIGHUP and SIGTERM only note that they came; the play loop stops on its next look.

    A note, not an exception raised wherever the main thread happens to be, so the
    stop goes the way q goes: sound stopped, players resumed, the session recorded.
    Handlers can only be set from the main thread; elsewhere nothing changes.
    """

    def __init__(self):
        self.received: int | None = None
        self._saved: dict[int, object] = {}

    def _note(self, signum, _frame) -> None:
        if self.received is None:
            self.received = signum

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._saved[signum] = signal.signal(signum, self._note)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._saved.items():
            if handler is not None:  # None: set outside Python, cannot be put back
                signal.signal(signum, handler)
        self._saved.clear()
