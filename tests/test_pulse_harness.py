"""The private sound server of the live tests, when it ends between two tests."""
from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from pulse import PulseServer


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
