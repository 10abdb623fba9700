"""The README's Python example runs as written, with real speech."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.slow
def test_the_use_from_python_example_runs(tmp_path):
    section = README.read_text(encoding="utf-8").split("## Use from Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    env = {**os.environ, "VOICECOACH_CACHE_DIR": str(tmp_path / "cache"), "VOICECOACH_CONFIG": str(tmp_path / "none.yaml"),
           "XDG_DATA_HOME": str(tmp_path / "data")}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("wrote kd4.wav (")
    assert lines[1].startswith("[") and "'" in lines[1]
    info = soundfile.info(str(tmp_path / "kd4.wav"))
    assert info.duration > 70  # the routine's 1:10 of timed work, plus its announcements
