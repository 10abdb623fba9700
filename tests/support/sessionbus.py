"""A private D-Bus session bus, for the hands-free (MPRIS) tests.

``SessionBus`` starts its own ``dbus-daemon --session`` (forked, so it is not
our child: it is ended by the pid it printed), never the user's bus. ``env``
holds what a client needs to find it. ``refusing`` gives a bus whose policy
forbids voicecoach's MPRIS name, as a locked-down desktop could.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

SESSION_CONF = Path("/usr/share/dbus-1/session.conf")


class BusUnavailable(RuntimeError):
    """dbus-daemon is missing or did not start (message says why)."""


class SessionBus:
    """A private session bus; use as a context manager. ``address``, ``pid`` and ``env`` once started."""

    def __init__(self, refuse_prefix: str | None = None):
        self.refuse_prefix = refuse_prefix
        self.address = ""
        self.pid = 0
        self.folder: Path | None = None

    def __enter__(self) -> "SessionBus":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def env(self) -> dict[str, str]:
        return {"DBUS_SESSION_BUS_ADDRESS": self.address}

    def start(self) -> None:
        if shutil.which("dbus-daemon") is None:
            raise BusUnavailable("'dbus-daemon' is not installed (Debian/Ubuntu: apt install dbus)")
        self.folder = Path(tempfile.mkdtemp(prefix="vc-dbus-"))
        config = ["--session"]
        if self.refuse_prefix:
            config = [f"--config-file={self._refusing_config()}"]
        try:
            out = subprocess.run(["dbus-daemon", *config, "--fork", "--print-address=1", "--print-pid=1",
                                  f"--address=unix:dir={self.folder}"],
                                 capture_output=True, text=True, timeout=10, check=True,
                                 env={**os.environ, "HOME": str(self.folder)})
        except (subprocess.SubprocessError, OSError) as exc:
            raise BusUnavailable(f"dbus-daemon did not start: {exc}") from None
        address, pid = out.stdout.split()
        self.address, self.pid = address, int(pid)

    def _refusing_config(self) -> Path:
        text = SESSION_CONF.read_text()
        start = text.index('<policy context="default">')
        end = text.index("</policy>", start)
        # a deny after the default policy's `allow own="*"` wins over it
        rule = f'  <deny own_prefix="{self.refuse_prefix}"/>\n  '
        path = self.folder / "refusing.conf"
        path.write_text(text[:end] + rule + text[end:])
        return path

    def kill(self) -> None:
        """End the daemon now (as a bus that dies mid-session); safe to call twice."""
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and _alive(self.pid):
                time.sleep(0.02)
            self.pid = 0

    def stop(self) -> None:
        self.kill()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie left for a parent that does not reap counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
