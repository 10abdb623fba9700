"""Start-up time: `voicecoach --help` against an empty Python.

    python bench/startup.py            # median of 20 runs of each
    python bench/startup.py --quick    # median of 5 runs of each (CI)

Runs the installed console script (`voicecoach` next to this Python) and
`python -c pass` alternately, each in a fresh process, and prints the median
wall time of each and their difference: the cost of importing voicecoach and
building its command line. Target: `voicecoach --help` within 200 ms.

Both run as an installed copy does, with their .pyc files: PYTHONDONTWRITEBYTECODE
is dropped from their environment, and one run of each, untimed, writes them.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

PYTHON = sys.executable
SCRIPT = Path(PYTHON).parent / "voicecoach"
# a user's install has its .pyc files: let the timed processes write and use them
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def seconds(cmd: list[str]) -> float:
    """Wall time of one run of `cmd` to its exit, output discarded."""
    began = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, for CI")
    args = parser.parse_args()
    if not SCRIPT.exists():
        print(f"bench/startup.py needs the voicecoach console script next to {PYTHON} (pip install -e .)",
              file=sys.stderr)
        return 1
    runs = 5 if args.quick else 20
    bare, helped = [PYTHON, "-c", "pass"], [str(SCRIPT), "--help"]
    seconds(bare), seconds(helped)  # warm the page cache and the .pyc files first
    python_times, help_times = [], []
    for _ in range(runs):  # alternate, so a busy moment costs both alike
        python_times.append(seconds(bare))
        help_times.append(seconds(helped))
    py, vc = statistics.median(python_times), statistics.median(help_times)
    print(f"python -c pass: {1000 * py:.0f} ms (median of {runs})")
    print(f"voicecoach --help: {1000 * vc:.0f} ms (median of {runs}; target <= 200 ms)")
    print(f"voicecoach's own start-up: {1000 * (vc - py):.0f} ms more than an empty Python")
    return 0


if __name__ == "__main__":
    sys.exit(main())
