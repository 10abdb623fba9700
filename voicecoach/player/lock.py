"""The session lock: one live session of a user at a time."""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from ..errors import EnvironmentProblem

LOCK_FILE = "live.lock"


class SessionBusy(EnvironmentProblem):
    """Another live session of this user is playing (exit code 3)."""


def lock_path() -> Path:
    """The live-session lock file, beside the speech cache: one per user (and per test home)."""
    from ..speech.cache import cache_dir

    return cache_dir().parent / LOCK_FILE


class SessionLock:
    """One live session at a time: an exclusive flock on `lock_path()`, held while a LivePlay is open.

    The kernel drops an flock when the process ends, however it ends (kill -9
    included), so a lock never outlives its session. The file says who holds it
    (pid and what plays), for the message the next session gives. Where the file
    cannot be made (a read-only cache folder) there is no lock and play goes on.
    """

    def __init__(self, path: Path | None = None):
        self.path = path or lock_path()
        self._fd: int | None = None

    def take(self, what: str = "getting ready") -> None:
        """Hold the lock, saying `what` this session does; SessionBusy when another process holds it."""
        try:
            import fcntl
        except ImportError:  # not a Unix: no lock
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(fd)
            os.close(fd)
            raise SessionBusy(f"another live session is playing ({holder}); stop it first, or wait for it to end")
        self._fd = fd
        self.note(what)

    def note(self, what: str) -> None:
        """Say in the lock file what this session plays now."""
        if self._fd is None:
            return
        text = json.dumps({"pid": os.getpid(), "playing": what}).encode()
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, text, 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def _holder(fd: int) -> str:
    """Who holds the lock, as the lock file says: 'Morning routine, pid 1234'."""
    try:
        found = json.loads(os.pread(fd, 4096, 0) or b"{}")
        pid, what = int(found["pid"]), str(found["playing"])
    except (OSError, ValueError, KeyError, TypeError):
        return "its process is not known"
    return f"{what}, pid {pid}"
