"""The benchmarks stay runnable: bench/run_quick.sh runs each in its quick mode.

Only that they run and print their figures is checked here; whether a figure
meets its target depends on the machine and is read from the output
(docs/performance.md), not asserted.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"

# One pattern per figure line each bench prints.
FIGURES = [
    r"^cold export: [\d.]+ s = \d+x real time",
    r"^warm export: [\d.]+ s = \d+x real time",
    r"^neural cold export: [\d.]+ s = \d+x real time",
    r"^neural warm export: [\d.]+ s = \d+x real time",
    r"^shell pipeline \(espeak-ng \+ sox\): [\d.]+ s",
    r"^warm export vs pipeline: [\d.]+x faster",
    r"^peak memory exporting [\d.]+ minutes: \d+ MB",
    r"^voicecoach miniaudio: worst interval error \d+ samples",
    r"^naive: worst interval error \d+ samples",
    r"^naive / voicecoach miniaudio: .* ratio >? ?\d+x",
    r"^python -c pass: \d+ ms",
    r"^voicecoach --help: \d+ ms",
    r"^first sound, warm cache, pyttsx3: \d+ ms",
    r"^first sound, warm cache, neural \(default\): \d+ ms",
]


@pytest.mark.audio
@pytest.mark.slow
def test_quick_benchmarks_run_and_print_every_figure():
    result = subprocess.run([str(BENCH / "run_quick.sh")], env={**os.environ, "PYTHON": sys.executable},
                            capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    missing = [p for p in FIGURES if not re.search(p, result.stdout, re.MULTILINE)]
    assert not missing, f"figure lines missing: {missing}\n{result.stdout}"
