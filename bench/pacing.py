"""Live pacing: voicecoach against a player timed by sleeping, on the same sound server.

    python bench/pacing.py            # tests/data/play/pacing.yaml, two runs of each player (a few minutes)
    python bench/pacing.py --quick    # a 15-second routine, one run with miniaudio and one naive (CI)

Starts a private PulseAudio server with a null sink (the test suite's own, from
tests/support/pulse.py), records its monitor, and plays one routine three ways:
`voicecoach play --lead-in 0` with miniaudio, with simpleaudio where it runs,
and a naive player built the way simple tools do it: espeak-ng speaks each
phrase (blocking), `time.sleep` waits until the event's planned time, and a new
`paplay` process plays each chime. Every start and end chime is found in the
recording to the sample, and each timed interval (start chime to end chime) is
compared with its planned length.
Targets: voicecoach's worst interval error <= 2 ms, and >= 100x smaller than the naive player's.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the private sound server and the tone finder

from support.audiofind import find  # noqa: E402
from support.pulse import PulseServer  # noqa: E402

PYTHON = sys.executable
ROUTINE = HERE.parent / "tests" / "data" / "play" / "pacing.yaml"
QUICK_ROUTINE = """\
title: Quick pacing
safety: false
countdown: 1
steps:
  - name: Hold
    duration: 3s
    prep: 0.5s
  - name: Press
    duration: 2s
    prep: 0.5s
    repeat: 2
    rest: 1.5s
"""
CHIMES = ("bell", "bell-double")  # the start and end of every timed interval


def plan(routine: Path, env: dict, work: Path) -> dict:
    """The timeline, from `voicecoach export --timeline`, checked equal to what `play --lead-in 0` compiles.

    Export has no lead-in, and play with `--lead-in 0` builds the same session;
    both are compiled here so that a difference stops the bench instead of
    skewing it. Also fills the speech cache, so every player starts at once.
    """
    out = work / "plan.json"
    subprocess.run([PYTHON, "-m", "voicecoach", "export", str(routine), "-o", str(work / "plan.wav"),
                    "--timeline", str(out)], env=env, check=True, stdout=subprocess.DEVNULL)
    exported = json.loads(out.read_text())
    os.environ.update({k: env[k] for k in ("VOICECOACH_CACHE_DIR", "VOICECOACH_CONFIG")})
    from voicecoach.session import options, prepare_session, voice_for
    from voicecoach.routines import load_file

    r = load_file(routine)
    played = prepare_session(r, options(lead_in=0.0), voice_for(r)).timeline
    if json.loads(json.dumps(played.to_dict())) != exported:
        raise SystemExit("bench/pacing.py: play --lead-in 0 and export compile different timelines")
    return exported


def play_voicecoach(routine: Path, env: dict, backend: str) -> None:
    """`voicecoach play` as a person runs it, minus the 5-second lead-in."""
    subprocess.run([PYTHON, "-m", "voicecoach", "play", str(routine), "--lead-in", "0", "--backend", backend],
                   env=env, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def play_naive(timeline: dict, env: dict, voice_rate: int) -> None:
    """The session as a shell script would play it: speak, sleep until the planned time, paplay each chime."""
    from voicecoach import sounds

    rate = timeline["sample_rate"]
    chimes = []
    began = time.monotonic()
    for event in timeline["events"]:
        if "text" in event:
            # blocking, as `espeak-ng "..."` in a script is
            speak = subprocess.Popen(["espeak-ng", "-s", str(voice_rate), "--stdout", event["text"]], env=env,
                                     stdout=subprocess.PIPE)
            subprocess.run(["paplay"], stdin=speak.stdout, env=env, check=True)
            speak.stdout.close()
            speak.wait()
            continue
        delay = began + event["sample"] / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        chimes.append(subprocess.Popen(["paplay", str(sounds.resolve(event["sound"]))], env=env))
    for proc in chimes:
        proc.wait()


def interval_errors(recording, timeline: dict) -> list[int] | str:
    """Each timed interval's measured length minus its planned length, in samples.

    The chimes are found in the recording (bell starts, bell-double ends) and
    paired in order with the plan's boundaries; returns a message instead when
    the count differs, since then no pairing is honest.
    """
    from voicecoach import sounds

    rate = timeline["sample_rate"]
    found = sorted(i for name in CHIMES for i in find(recording, sounds.load(name, rate), threshold=0.6))
    boundaries = sorted({s["start_sample"] for s in timeline["steps"]} | {s["end_sample"] for s in timeline["steps"]})
    if len(found) != len(boundaries):
        return f"found {len(found)} chimes, planned {len(boundaries)}"
    at = dict(zip(boundaries, found))
    return [(at[s["end_sample"]] - at[s["start_sample"]]) - (s["end_sample"] - s["start_sample"])
            for s in timeline["steps"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a shorter routine, one run with miniaudio and one naive, for CI")
    args = parser.parse_args()
    for tool in ("espeak-ng", "paplay", "pulseaudio", "parec"):
        if not shutil.which(tool):
            print(f"bench/pacing.py needs {tool} on PATH", file=sys.stderr)
            return 1
    from voicecoach import sinks
    from voicecoach.settings import DEFAULT_WPM as DEFAULT_RATE

    runs = 1 if args.quick else 2
    backends = ("miniaudio",) if args.quick else ("miniaudio", "simpleaudio")
    players = [f"voicecoach {b}" for b in backends if b in sinks.available_backends()]
    players.append("naive")
    worst: dict[str, list[int]] = {p: [] for p in players}
    with tempfile.TemporaryDirectory(prefix="vc-bench-") as tmp, PulseServer() as server:
        tmp = Path(tmp)
        routine = ROUTINE
        if args.quick:
            routine = tmp / "quick.yaml"
            routine.write_text(QUICK_ROUTINE)
        env = {**os.environ, **server.env, "VOICECOACH_CACHE_DIR": str(tmp / "cache"),
               "VOICECOACH_DATA": str(tmp / "data"), "VOICECOACH_CONFIG": str(tmp / "config.yaml"),
               "VOICECOACH_ROUTINES": str(tmp / "routines")}
        timeline = plan(routine, env, tmp)
        rate = timeline["sample_rate"]
        for run in range(runs):
            for player in players:
                rec = server.record(tmp / f"{player.replace(' ', '-')}-{run}.wav")
                try:
                    if player == "naive":
                        play_naive(timeline, env, DEFAULT_RATE)
                    else:
                        play_voicecoach(routine, env, player.split()[1])
                    time.sleep(0.3)  # the sink's last block reaches the monitor
                finally:
                    recording = rec.stop()
                errors = interval_errors(recording, timeline)
                if isinstance(errors, str):
                    print(f"{player}, run {run + 1}: {errors}; no interval measured", file=sys.stderr)
                    continue
                worst[player].append(max(abs(e) for e in errors))
    seconds = timeline["total_samples"] / rate

    def figure(samples: int) -> str:
        if samples == 0:  # the finder resolves whole samples: 0 means less than half of one
            return f"0 samples (< {500 / rate:.3f} ms)"
        return f"{samples} samples = {1000 * samples / rate:.3f} ms"

    print(f"routine: {routine.name if not args.quick else 'quick'}, {seconds:.1f} s, "
          f"{len(timeline['steps'])} timed intervals, {runs} run(s) of each player")
    naive = max(worst["naive"]) if worst["naive"] else None
    for player in players:
        if not worst[player]:
            print(f"{player}: no run could be measured")
            continue
        target = "" if player == "naive" else " (target <= 2 ms)"
        print(f"{player}: worst interval error {figure(max(worst[player]))}{target}")
    for player in players[:-1]:
        if worst[player] and naive is not None:
            samples = max(worst[player])
            if samples == 0:
                ratio = f"> {naive / 0.5:.0f}x"  # against half a sample: the finder's resolution
            else:
                ratio = f"{naive / samples:.0f}x"
            print(f"naive / {player}: {figure(naive)} vs {figure(samples)}, "
                  f"ratio {ratio} (target >= 100x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
