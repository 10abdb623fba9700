"""A history that cannot be written: the session plays and finishes, then one warning line, exit 0.

The data folder is made read-only with a read-only bind mount in a private
mount namespace, which stops root too (permissions would not).
"""
from __future__ import annotations

import os
import sys

import pytest

from support.mounts import run_read_only

pytestmark = [pytest.mark.audio, pytest.mark.slow]

def test_an_unwritable_history_is_a_warning_after_the_finished_line(pulse_server, short_routine, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    history = data / "history.jsonl"
    before = ('{"routine": "kd4", "title": "KD4", "started": "2026-01-05T07:30:00+01:00", "seconds": 70.0, '
              '"total": 70.0, "finished": true}\n')
    history.write_text(before)
    routine = short_routine
    env = {**os.environ, **pulse_server.env, "VOICECOACH_CACHE_DIR": str(tmp_path / "cache"),
           "VOICECOACH_DATA": str(data), "VOICECOACH_CONFIG": str(tmp_path / "config.yaml")}
    result = run_read_only([data], [sys.executable, "-m", "voicecoach", "play", str(routine), "--lead-in", "0"],
                           env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Finished Short check (0:") and result.stdout.count("\n") == 1
    assert result.stderr == f"voicecoach: warning: cannot write the history {history}: read-only file system\n"
    assert history.read_text() == before  # really not written: the mount stopped root
