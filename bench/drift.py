"""Twelve minutes of live play through a private sound server: does the audio clock drift?

Runs tests/test_long_session.py at full length (the suite plays it at a quarter)
and prints what it measured: every chime and tick found in the recording
against the plan, after aligning the first.

    .venv/bin/python bench/drift.py          # about thirteen minutes
    .venv/bin/python bench/drift.py --quick  # the suite's four minutes
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the timed lengths, as the suite plays it")
    args = parser.parse_args()
    scale = "0.25" if args.quick else "1"
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "drift.xml"
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              str(ROOT / "tests" / "test_long_session.py"), "-o", "junit_family=xunit1",
                              f"--junitxml={report}"], cwd=ROOT,
                             env={**os.environ, "VOICECOACH_DRIFT_SCALE": scale})
        props = {p.get("name"): p.get("value") for p in ET.parse(report).iter("property")} if report.exists() else {}
    for name in ("session_seconds", "sounds_checked", "last_sound_error_ms", "worst_onset_error_ms",
                 "worst_interval_error_ms"):
        print(f"{name.replace('_', ' ')}: {props.get(name, '?')}")
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
