"""Export speed and memory, against a shell pipeline doing the same job.

    python bench/export.py            # the Sunday routine and a 60-minute routine (a few minutes)
    python bench/export.py --quick    # the morning routine and a 20-minute routine (CI)
    python bench/export.py --memory   # only the memory with a bed: 60 minutes, every format (ten minutes)
    python bench/export.py --memory --quick   # the same for 20 minutes

Prints, for one routine: cold-cache and warm-cache export speed as multiples
of real time, with pyttsx3 (espeak-ng) and with the neural voice (Piper, when
the neural extra is installed); the time of a pipeline that does the same job
the way a shell script would (espeak-ng once per phrase, sox to pad every
sound to its place and mix them); and the peak memory of exporting a long
routine. Targets: warm >= 300x real time and >= 10x faster than the pipeline,
cold >= 30x with pyttsx3 and >= 20x with Piper, a 60-minute routine in <= 150 MB.

With --memory: the peak memory of exporting a long routine with a background
file as long, speech cached, in every format, the first time (the speech is
levelled again under the bed) and again; and of a cold export with the neural
voice, voicecoach's own peak apart from the Piper process's. Target: <= 120 MB
the first time and every time, in every format.
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
PYTHON = sys.executable


def run_export(routine: str, out: Path, cache: Path, extra: tuple[str, ...] = (), engine: str = "pyttsx3") -> float:
    """Seconds of wall time for one `voicecoach export` with `engine` in a fresh process."""
    env = {**os.environ, "VOICECOACH_CACHE_DIR": str(cache)}
    extra = ("--engine", engine, *extra)
    began = time.perf_counter()
    subprocess.run([PYTHON, "-m", "voicecoach", "export", routine, "-o", str(out), "--force", *extra], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def peak_rss_mb(routine: str, out: Path, cache: Path) -> float:
    """Peak resident memory (MB) of one export process, from the kernel's own accounting."""
    env = {**os.environ, "VOICECOACH_CACHE_DIR": str(cache)}
    code = ("import resource, runpy, sys; sys.argv = ['voicecoach', 'export', %r, '-o', %r, '--engine', 'pyttsx3'];\n"
            "try:\n    runpy.run_module('voicecoach', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)") % (routine, str(out))
    result = subprocess.run([PYTHON, "-c", code], env=env, check=True, capture_output=True, text=True)
    return int(result.stdout.strip().splitlines()[-1]) / 1024


# Run in the measured process: the export, then its own peak (VmHWM: ru_maxrss of a fresh
# interpreter would do too, but VmHWM is the process's alone wherever it is started) and the
# largest peak of the processes it started and waited for (the Piper process), in kB.
MEASURED = """import resource, runpy, sys
sys.argv = ['voicecoach', 'export', *sys.argv[1:]]
try:
    runpy.run_module('voicecoach', run_name='__main__')
except SystemExit as e:
    assert not e.code, e.code
own = [line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')][0]
print(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peaks_mb(cache: Path, *args: str) -> tuple[float, float]:
    """(voicecoach's own peak, its largest child's peak) in MB, for `voicecoach export *args` in a fresh process."""
    env = {**os.environ, "VOICECOACH_CACHE_DIR": str(cache)}
    result = subprocess.run([PYTHON, "-c", MEASURED, *args, "--force"], env=env, check=True, capture_output=True,
                            text=True)
    own, child = result.stdout.split()[-2:]
    return int(own) / 1024, int(child) / 1024


def bed_file(path: Path, minutes: int) -> Path:
    """A 44.1 kHz stereo FLAC of `minutes`: a swelling 220 Hz tone, written ten seconds at a time."""
    import numpy as np
    import soundfile

    loop = 0.2 * np.sin(2 * np.pi * 220 * np.arange(441000) / 44100) * np.linspace(0.5, 1, 441000)
    with soundfile.SoundFile(str(path), "w", samplerate=44100, channels=2, subtype="PCM_16") as f:
        for _ in range(minutes * 6):
            f.write(np.stack([loop, loop * 0.9], axis=1))
    return path


def held_routine(folder: Path, minutes: int) -> Path:
    """A routine of `minutes` in ten-minute holds (as the hour-long memory test's)."""
    path = folder / f"held-{minutes}.yaml"
    holds = "".join(f"  - {{name: Hold {i + 1}, duration: 10m, say: Stay with it.}}\n" for i in range(minutes // 10))
    path.write_text("title: A long hold\nsafety: false\ncountdown: 0\nintro: Slow release.\nsteps:\n" + holds)
    return path


def memory(minutes: int) -> int:
    """Print the peak memory of long exports with a bed, per format, first and again; and of a cold neural export."""
    from voicecoach.encoding import FORMATS
    from voicecoach.speech.piper import unavailable

    why = unavailable()
    engine = ("--engine", "piper" if why is None else "pyttsx3")
    with tempfile.TemporaryDirectory(prefix="vc-bench-") as tmp:
        tmp = Path(tmp)
        routine, bed = str(held_routine(tmp, minutes)), str(bed_file(tmp / "bed.flac", minutes))
        warm = tmp / "cache"
        cold = peaks_mb(warm, routine, "-o", str(tmp / "cold.wav"), "--no-background", *engine)
        cold_bed = peaks_mb(tmp / "cold-cache", routine, "-o", str(tmp / "cold-bed.wav"), "--background", bed, *engine)
        rows = []
        for suffix in FORMATS:
            cache = tmp / f"cache{suffix}"
            shutil.copytree(warm, cache)  # the speech as the plain export left it: not yet levelled under a bed
            out = str(tmp / f"bed{suffix}")
            first = peaks_mb(cache, routine, "-o", out, "--background", bed, *engine)[0]
            again = peaks_mb(cache, routine, "-o", out, "--background", bed, *engine)[0]
            plain = peaks_mb(cache, routine, "-o", str(tmp / f"plain{suffix}"), "--no-background", *engine)[0]
            rows.append((suffix, first, again, plain))
    load = os.getloadavg()[0]
    voice = "the neural voice" if why is None else f"pyttsx3 (no neural voice: {why})"
    print(f"memory: {minutes}-minute routine with a {minutes}-minute 44.1 kHz stereo FLAC bed, {voice} "
          f"(load average {load:.1f} on {os.cpu_count()} cores)")
    for suffix, first, again, plain in rows:
        print(f"peak memory with a bed, {suffix[1:]}: first {first:.0f} MB, again {again:.0f} MB, "
              f"without the bed {plain:.0f} MB (target <= 120 MB)")
    print(f"peak memory, empty speech cache, no bed: voicecoach {cold[0]:.0f} MB, the speech engine's process "
          f"{cold[1]:.0f} MB")
    print(f"peak memory, empty speech cache, with the bed: voicecoach {cold_bed[0]:.0f} MB, the speech engine's "
          f"process {cold_bed[1]:.0f} MB")
    worst = max(max(first, again) for _, first, again, _ in rows)
    print(f"worst peak with a bed: {worst:.0f} MB ({'meets' if worst <= 120 else 'misses'} <= 120 MB)")
    return 0


def pipeline(timeline: dict, work: Path, sounds_dir: Path) -> float:
    """The same session built by espeak-ng and sox, as a shell script would; returns seconds."""
    rate = timeline["sample_rate"]
    began = time.perf_counter()
    parts = []
    for i, event in enumerate(timeline["events"]):
        clip = work / f"clip{i}.wav"
        if "text" in event:
            subprocess.run(["espeak-ng", "-s", "160", "-w", str(clip), event["text"]], check=True)
        else:
            clip = sounds_dir / f"{event['sound']}.wav"
        placed = work / f"placed{i}.wav"
        subprocess.run(["sox", "-V1", str(clip), "-r", str(rate), "-c", "1", str(placed), "pad",
                        f"{event['sample']}s"], check=True)
        parts.append(str(placed))
    # sox mixes at most a few hundred inputs at once (open files): mix in rounds
    while len(parts) > 1:
        rounds = []
        for j in range(0, len(parts), 64):
            group = parts[j:j + 64]
            if len(group) == 1:
                rounds.append(group[0])
                continue
            mixed = work / f"mix{len(rounds)}-{len(parts)}.wav"
            subprocess.run(["sox", "-V1", "-m", *group, str(mixed), "pad", "0", "0"], check=True)
            rounds.append(str(mixed))
        parts = rounds
    final = work / "session.wav"
    total = timeline["total_samples"]
    subprocess.run(["sox", "-V1", parts[0], str(final), "pad", "0", f"{total}s", "trim", "0", f"{total}s"], check=True)
    return time.perf_counter() - began


def long_routine(folder: Path, minutes: int) -> Path:
    """A routine of about `minutes` of timed work, made of the Sunday routine included again and again."""
    path = folder / f"long-{minutes}.yaml"
    times = max(1, round(minutes / 15))  # Sunday lasts about 15 minutes with its announcements
    path.write_text("title: Long session\nsafety: false\nsteps:\n" + "  - include: sunday\n" * times)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for CI")
    parser.add_argument("--memory", action="store_true", help="only the peak memory of long exports with a bed")
    args = parser.parse_args()
    if args.memory:
        return memory(20 if args.quick else 60)
    routine, minutes = ("morning", 20) if args.quick else ("sunday", 60)
    for tool in ("espeak-ng", "sox"):
        if not shutil.which(tool):
            print(f"bench/export.py needs {tool} on PATH", file=sys.stderr)
            return 1
    with tempfile.TemporaryDirectory(prefix="vc-bench-") as tmp:
        tmp = Path(tmp)
        cache = tmp / "cache"
        plan = tmp / "plan.json"
        cold = run_export(routine, tmp / "cold.wav", cache, ("--timeline", str(plan)))
        warm = min(run_export(routine, tmp / "warm.wav", cache) for _ in range(3))
        timeline = json.loads(plan.read_text())
        seconds = timeline["total_samples"] / timeline["sample_rate"]
        work = tmp / "pipeline"
        work.mkdir()
        sounds_dir = HERE.parent / "sounds"
        shell = pipeline(timeline, work, sounds_dir)
        long_path = long_routine(tmp, minutes)
        run_export(str(long_path), tmp / "long-warmup.wav", cache)  # synthesize once, measure warm
        rss = peak_rss_mb(str(long_path), tmp / "long.wav", cache)
        import soundfile

        long_seconds = soundfile.info(str(tmp / "long.wav")).duration
        from voicecoach.speech.piper import unavailable

        os.environ.pop("VOICECOACH_NEURAL", None)
        why = unavailable()
        if why is None:
            neural_cache = tmp / "neural-cache"
            neural_plan = tmp / "neural-plan.json"
            neural_cold = run_export(routine, tmp / "neural-cold.wav", neural_cache, ("--timeline", str(neural_plan)),
                                     engine="piper")
            neural_warm = min(run_export(routine, tmp / "neural-warm.wav", neural_cache, engine="piper")
                              for _ in range(3))
            plan_n = json.loads(neural_plan.read_text())
            neural_seconds = plan_n["total_samples"] / plan_n["sample_rate"]
    load = os.getloadavg()[0]
    print(f"routine: {routine}, {seconds:.1f} s of audio, {len(timeline['events'])} events "
          f"(load average {load:.1f} on {os.cpu_count()} cores)")
    print(f"cold export: {cold:.2f} s = {seconds / cold:.0f}x real time (target >= 30x)")
    print(f"warm export: {warm:.2f} s = {seconds / warm:.0f}x real time (target >= 300x)")
    if why is None:
        print(f"neural cold export: {neural_cold:.2f} s = {neural_seconds / neural_cold:.0f}x real time "
              f"({neural_seconds:.1f} s of audio; target >= 20x)")
        print(f"neural warm export: {neural_warm:.2f} s = {neural_seconds / neural_warm:.0f}x real time")
    else:
        print(f"neural export: not measured ({why})")
    print(f"shell pipeline (espeak-ng + sox): {shell:.2f} s = {seconds / shell:.0f}x real time")
    print(f"warm export vs pipeline: {shell / warm:.1f}x faster (target >= 10x)")
    print(f"peak memory exporting {long_seconds / 60:.1f} minutes: {rss:.0f} MB (target <= 150 MB for 60 minutes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
