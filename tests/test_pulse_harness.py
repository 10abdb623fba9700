"""The private sound server of the live tests, when it ends between two tests."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from support.pulse import PulseServer


@pytest.mark.audio
def test_a_server_that_ended_says_how_and_starts_again_on_the_same_socket(tmp_path):
    with PulseServer() as server:
        assert server.death() is None
        env = dict(server.env)
        os.kill(server._proc.pid, signal.SIGKILL)
        server._proc.wait(5)
        died = server.death()
        assert died.startswith("pulseaudio ended (killed by signal 9); its log ends:")
        assert "main.c" in died  # the log's last lines come with it
        server.restart()
        assert server.death() is None and server.env == env
        rec = server.record(tmp_path / "after.wav")
        time.sleep(0.3)
        heard = rec.stop()
        assert len(heard) > 0.1 * server.rate and not np.any(heard)  # the null sink's silence, recorded


@pytest.mark.audio
def test_the_kernel_does_not_cap_the_realtime_time_of_the_server():
    # Capped (pulseaudio's default, 200 ms), a server held still for 7 minutes is
    # killed by the kernel as its realtime thread catches up (see PulseServer._launch).
    with PulseServer() as server:
        limits = Path(f"/proc/{server._proc.pid}/limits").read_text().splitlines()
        rttime = next(line for line in limits if line.startswith("Max realtime timeout"))
        assert rttime.split()[3:5] == ["unlimited", "unlimited"], rttime
