"""First sound: how long `voicecoach play` takes from the command to the first sample heard, cold and warm.

    python bench/firstsound.py            # the morning routine, median of 7 runs per engine and cache
    python bench/firstsound.py --quick    # one run per engine and cache (CI: the bench still runs)
    python bench/firstsound.py --warm     # the warm cache only

Starts the test suite's private PulseAudio server with a null sink, records its
monitor, fills the speech cache once per engine (an export), then runs
`voicecoach play morning --lead-in 0` in a fresh process and notes when the
first sound reaches the sink (the first recorded sample above -40 dBFS, to the
null sink's ~10 ms block), and stops the player there. Cold: an empty speech
cache for every run (every phrase is synthesized; the first step plays as soon
as its own phrases exist). Engines: pyttsx3, and the neural voice as a user
gets it by default (no --engine) when installed. Prints the machine's load
average with each figure. Targets, neural voice: cold <= 1.5 s, warm <= 0.3 s.

The timed processes run as a user's install does: with the .pyc files Python
writes (PYTHONDONTWRITEBYTECODE is dropped from their environment, and one
warm play of each kind, not timed, writes them first). With
PYTHONDONTWRITEBYTECODE=1 an editable install compiles its ~85 modules again
on every run, about 90 ms that no installed copy pays.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the private sound server

import numpy as np  # noqa: E402

from support.pulse import PulseServer  # noqa: E402

PYTHON = sys.executable
ROUTINE = "morning"
LOUD = 10 ** (-40 / 20)


def first_sound(server: PulseServer, env: dict, engine_args: list[str], work: Path) -> float:
    """Seconds from starting `voicecoach play` to its first sound at the sink."""
    rec = server.record(work / "first.wav")
    began = time.monotonic()
    proc = subprocess.Popen([PYTHON, "-m", "voicecoach", "play", ROUTINE, "--lead-in", "0", *engine_args],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd=work)  # not the project folder: `-m` would import the package found there first
    start = rec.now_index()
    heard = None
    deadline = began + 180.0  # a cold start of an older version, on a busy machine
    while heard is None and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
        got = rec.now_index()
        if got > start:
            loud = np.flatnonzero(np.abs(rec.so_far(start)) > LOUD)
            if len(loud):
                heard = rec.time_of(start + int(loud[0]))
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    rec.stop()
    if heard is None:
        raise SystemExit(f"bench/firstsound.py: no sound from play {' '.join(engine_args)}: "
                         f"{err.decode(errors='replace').strip()[-300:]}")
    return heard - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run of each, for CI")
    parser.add_argument("--warm", action="store_true", help="only the warm start (no cold runs)")
    parser.add_argument("--baseline", metavar="DIR", help="also time another version's voicecoach package "
                        "(a folder holding voicecoach/, e.g. `git archive OLD voicecoach | tar -x -C DIR`), "
                        "neural voice, alternating with this one")
    parser.add_argument("--keep-models", action="store_true", help="cold runs keep what the voice's first run left "
                        "(its optimized model and digest): a new routine or --rate, not a new voice")
    args = parser.parse_args()
    for tool in ("pulseaudio", "parec"):
        if not shutil.which(tool):
            print(f"bench/firstsound.py needs {tool} on PATH", file=sys.stderr)
            return 1
    # Quick keeps the bench runnable, it does not measure (docs/performance.md): one run of each kind is
    # every code path, and the suite's bench test waits on it (three runs took half a minute more).
    runs = 1 if args.quick else 7
    # a user's install has its .pyc files: let the timed processes write and use them
    env_base = {k: v for k, v in os.environ.items() if k not in ("VOICECOACH_NEURAL", "PYTHONDONTWRITEBYTECODE")}
    os.environ.pop("VOICECOACH_NEURAL", None)
    from voicecoach.speech.piper import unavailable

    why = unavailable()
    engines: dict[str, tuple[list[str], dict]] = {"pyttsx3": (["--engine", "pyttsx3"], {})}
    if why is None:
        engines["neural (default)"] = ([], {})
        if args.baseline:
            engines["neural (default), baseline"] = ([], {"PYTHONPATH": str(Path(args.baseline).resolve())})
    with tempfile.TemporaryDirectory(prefix="vc-bench-") as tmp, PulseServer() as server:
        work = Path(tmp)
        env = {**env_base, **server.env, "VOICECOACH_CACHE_DIR": str(work / "cache"),
               "VOICECOACH_DATA": str(work / "data"), "VOICECOACH_CONFIG": str(work / "config.yaml")}
        times: dict[tuple[str, str], list[float]] = {}
        loads: dict[tuple[str, str], list[float]] = {}
        for name, (extra, more) in engines.items():  # fill the cache once: the warm figure is for a full cache
            subprocess.run([PYTHON, "-m", "voicecoach", "export", ROUTINE, "-o", str(work / "warm.wav"),
                            "--force", *extra], env=env, check=True, stdout=subprocess.DEVNULL, cwd=work)
            first_sound(server, {**env, **more}, extra, work)  # not timed: writes the .pyc files the play imports
        if args.keep_models:  # the voice's first run above saved its optimized model
            deadline = time.monotonic() + 60  # it saves after the export has ended
            while time.monotonic() < deadline and not list((work / "cache" / "piper-models").glob("[!.]*.onnx")):
                time.sleep(0.2)
        for n in range(runs):  # alternate, so a busy moment costs every kind alike
            for name, (extra, more) in engines.items():
                cold_dir = work / f"cold-{n}-{name.replace(' ', '-')}"
                cold = {**env, **more, "VOICECOACH_CACHE_DIR": str(cold_dir)}
                for kind, run_env in (("cold", cold), ("warm", {**env, **more}))[args.warm:]:
                    if kind == "cold" and args.keep_models:
                        cold_dir.mkdir(parents=True)
                        for kept in ("piper-models", "piper-voices.json"):
                            if (work / "cache" / kept).exists():
                                (cold_dir / kept).symlink_to(work / "cache" / kept)
                    loads.setdefault((name, kind), []).append(os.getloadavg()[0])
                    times.setdefault((name, kind), []).append(first_sound(server, run_env, extra, work))
                    if kind == "cold" and name.startswith("neural") and not args.keep_models:
                        # the voice's first run saves its optimized model after the sound has begun: let it
                        # finish, or its writing is timed as part of the warm run that comes next
                        deadline = time.monotonic() + 60
                        while time.monotonic() < deadline and not list((cold_dir / "piper-models").glob("[!.]*.onnx")):
                            time.sleep(0.2)
                        time.sleep(0.5)
                    shutil.rmtree(cold_dir, ignore_errors=True)
    for (name, kind), values in times.items():
        print(f"first sound, {kind} cache, {name}: {1000 * statistics.median(values):.0f} ms "
              f"(median of {runs}, {min(values) * 1000:.0f}-{max(values) * 1000:.0f} ms; "
              f"load average {statistics.median(loads[name, kind]):.1f})")
    if why is not None:
        print(f"first sound, neural: not measured ({why})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
