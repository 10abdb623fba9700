"""The README's Python example runs as written, with real speech, and prints what the README says."""
from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile

README = Path(__file__).resolve().parent.parent / "README.md"
PIPER_SPREAD_S = 2  # Piper says a phrase a little differently each time: the session's length moves by a second


def weekly_plan_in_readme(text: str) -> dict[str, list[str]]:
    """The routine ids per weekday from the README's `voicecoach week` output."""
    block = text.split("$ voicecoach week\n", 1)[1].split("$ ", 1)[0]
    plan = {}
    for line in block.splitlines():
        day, *ids = line.split("<-")[0].split()[:-1]  # the last column is the time
        plan[day] = [i for i in ids if i != "+"]
    return plan


@pytest.mark.slow
def test_the_use_from_python_example_runs(tmp_path):
    text = README.read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text.split("## Use from Python", 1)[1], re.S).group(1)
    shown = re.search(r"print\(vc\.export_session.*# (wrote .*)", code).group(1)
    env = {**os.environ, "VOICECOACH_CACHE_DIR": str(tmp_path / "cache"), "VOICECOACH_CONFIG": str(tmp_path / "none.yaml"),
           "XDG_DATA_HOME": str(tmp_path / "data")}
    env.pop("VOICECOACH_NEURAL")  # the README's user hears the default voice (joe, when the extra is installed)
    today = datetime.date.today()
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    wrote, plan = result.stdout.splitlines()
    # What the README shows, but for a second or two of Piper's phrasing; the length is the file's own.
    pattern = r"wrote kd4\.wav \((\d+):(\d\d), 4 steps\)"
    m, s = map(int, re.fullmatch(pattern, shown).groups())
    got = re.fullmatch(pattern, wrote)
    assert got, wrote
    seconds = 60 * int(got.group(1)) + int(got.group(2))
    assert abs(seconds - (60 * m + s)) <= PIPER_SPREAD_S, f"printed {wrote!r}, the README shows {shown!r}"
    assert round(soundfile.info(str(tmp_path / "kd4.wav")).duration) == seconds
    # today's routine ids, as the README's weekly plan lists them for today
    if datetime.date.today() == today:  # not run across midnight
        assert plan == str(weekly_plan_in_readme(text)[today.strftime("%A")])
