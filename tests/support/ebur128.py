"""Loudness and true peak of an audio file as ffmpeg's ``ebur128`` filter measures them.

The export promises -16 LUFS (within a quarter LU) and true peaks below
-1 dBFS. voicecoach levels with its own meter (voicecoach/level.py), so the
tests judge the files with another one: ffmpeg decodes the file with its own
decoders and measures it per EBU R128 (integrated loudness, and the true peak
from 4x oversampling after its resampling to 48 kHz). Its summary gives both
to a tenth of a unit, which is fine enough for a quarter-LU bound.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path


def measure(path: str | Path) -> tuple[float, float]:
    """Return (integrated loudness in LUFS, true peak in dBFS) of the file, as ffmpeg measures them."""
    if shutil.which("ffmpeg") is None:
        raise AssertionError("ffmpeg is not installed (scripts/setup.sh installs it): it judges loudness")
    done = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128=peak=true",
                           "-f", "null", "-"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = done.stderr.rsplit("Summary:", 1)[1]
    lufs = float(re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary).group(1))
    peak = float(re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))
    return lufs, peak
