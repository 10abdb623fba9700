"""Neural speech is reproducible: two cold exports of every built-in routine are bit-identical.

    python bench/reproduce.py            # every built-in routine (about 10 minutes on two cores)
    python bench/reproduce.py --quick    # three routines
    python bench/reproduce.py --speed    # also Piper's own program on the same phrases, for speed

First pass: each routine exported with the neural voice into a cache of its
own (everything synthesized, in the routine's order). Second pass: the same
routines exported backwards into one shared cache, so each export finds the
cache partly filled by the routines before it and synthesizes the rest after
other phrases. Prints, per routine, whether the two WAV files are identical,
and the synthesis speed in phrases per second (the first pass: phrases
synthesized over the export's wall time, voice loading included). With
--speed it also times the phrases of the first pass through one process of the
seeded program and one of ``python -m piper`` (the unseeded speech of before).
Target: every routine identical.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable


def export(routine: str, out: Path, cache: Path, plan: Path | None = None) -> float:
    """Seconds of wall time for one `voicecoach export` with the neural voice in a fresh process."""
    env = {**os.environ, "VOICECOACH_CACHE_DIR": str(cache)}
    env.pop("VOICECOACH_NEURAL", None)
    extra = ["--timeline", str(plan)] if plan else []
    began = time.perf_counter()
    subprocess.run([PYTHON, "-m", "voicecoach", "export", routine, "-o", str(out), "--force", "--engine", "piper",
                    *extra], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def phrases_per_second(command: list[str], texts: list[str], work: Path) -> float:
    """Phrases a second for `texts` through one Piper process of `command`, voice loading included."""
    from voicecoach.speech import pacing
    from voicecoach.speech.piper import find_voices, pace_of, model_id
    from voicecoach.speech.piperbatch import PiperBatch, PiperJob

    nv = find_voices()[0]
    scale, pause = pacing.settings_for(pace_of(model_id(nv), nv), pacing.CALM_WPM)
    batch = PiperBatch(PiperJob(nv.model, nv.config, scale, pause), command, nv.id)
    began = time.perf_counter()
    try:
        for i, text in enumerate(texts):
            batch.speak(text, work / f"{i}.wav", 60.0)
    finally:
        batch.close()
    return len(texts) / (time.perf_counter() - began)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="three routines only")
    parser.add_argument("--speed", action="store_true", help="also time python -m piper on the same phrases")
    args = parser.parse_args()
    from voicecoach.routines import builtin_ids
    from voicecoach.speech.piper import piper_command, unavailable

    os.environ.pop("VOICECOACH_NEURAL", None)
    why = unavailable()
    if why is not None:
        print(f"reproducible neural speech: not measured ({why})")
        return 0
    routines = builtin_ids()
    if args.quick:
        routines = [r for r in ("desk-break", "morning", "kd4") if r in routines]
    digests: dict[str, list[str]] = {r: [] for r in routines}
    all_texts: list[str] = []
    with tempfile.TemporaryDirectory(prefix="vc-reproduce-") as tmp:
        tmp = Path(tmp)
        for routine in routines:
            out, plan = tmp / f"{routine}-1.wav", tmp / f"{routine}.json"
            seconds = export(routine, out, tmp / f"cache-{routine}", plan)
            texts = list(dict.fromkeys(e["text"] for e in json.loads(plan.read_text())["events"] if "text" in e))
            all_texts += texts
            digests[routine].append(hashlib.sha256(out.read_bytes()).hexdigest())
            print(f"{routine}: first cold export {seconds:.1f} s, {len(texts)} phrases = "
                  f"{len(texts) / seconds:.2f} phrases/s", flush=True)
        shared = tmp / "cache-shared"
        for routine in reversed(routines):
            out = tmp / f"{routine}-2.wav"
            export(routine, out, shared)
            digests[routine].append(hashlib.sha256(out.read_bytes()).hexdigest())
        same = [r for r in routines if digests[r][0] == digests[r][1]]
        for routine in routines:
            verdict = "identical" if routine in same else "DIFFERENT"
            print(f"{routine}: second export, cache partly filled by other routines: {verdict} "
                  f"({digests[routine][1][:12]})")
        if args.speed:
            texts = list(dict.fromkeys(all_texts))
            for name, command in (("seeded program", piper_command()), ("python -m piper", [PYTHON, "-m", "piper"])):
                work = tmp / name.replace(" ", "-")
                work.mkdir()
                print(f"synthesis speed, {name}: {phrases_per_second(command, texts, work):.2f} phrases/s "
                      f"({len(texts)} phrases, one process)", flush=True)
    load = os.getloadavg()[0]
    print(f"reproducible exports: {len(same)} of {len(routines)} routines bit-identical (target: all; "
          f"load average {load:.1f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
