"""Intelligibility of the neural voice in an export, by an offline recognizer's word error rate.

    python bench/wer.py                  # every built-in routine (a few minutes)
    python bench/wer.py --quick          # the morning routine
    python bench/wer.py --stages morning # the WER after each stage from Piper to the file

pocketsphinx (its wheel carries the US English model; `pip install
'voicecoach[test]'`, scripts/setup.sh does) transcribes each phrase of a
routine, and the word error rate (edits over the reference's words, over all
the routine's phrases) is reported for:

  alone     the same voice run by Piper alone, at the session's length scale,
            no pause between sentences (the reference);
  export    each phrase cut from the exported session at the place its
            timeline gives, with CONTEXT_S of what surrounds it in the file.

With --stages, also the stages between: Piper alone at its own pace (length
scale 1); the session's length scale with the pause between sentences (the
clip Piper gives the session); that clip trimmed; trimmed and levelled (the
clip the mixer gets). Every stage is padded with CONTEXT_S of silence, so the
recognizer hears each the same way, and resampled to 16 kHz the same way.
Target: export within 0.03 of alone, for every built-in routine. The recognizer
is only a proxy for a listener, but a consistent one: the speech is the same
samples every run (seeded Piper), so the figures repeat exactly.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

PYTHON = sys.executable
CONTEXT_S = 0.3  # of the file (or of silence) on either side of a phrase
ASR_RATE = 16000

_SMALL = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
          "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _number(n: int) -> str:
    if n < 20:
        return _SMALL[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _SMALL[n % 10])
    if n < 1000:
        rest = n % 100
        return _SMALL[n // 100] + " hundred" + ("" if rest == 0 else " " + _number(rest))
    return " ".join(_SMALL[int(d)] for d in str(n))


def words(text: str) -> list[str]:
    """Lower-case words, numbers spelt out as the voice says them, hyphens as spaces."""
    text = re.sub(r"\d+", lambda m: " " + _number(int(m.group())) + " ", text.lower())
    return re.findall(r"[a-z']+", text.replace("-", " "))


def edits(ref: list[str], hyp: list[str]) -> int:
    """Word-level Levenshtein distance."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


class Recognizer:
    def __init__(self):
        from pocketsphinx import Decoder

        self.decoder = Decoder(samprate=ASR_RATE, logfn=os.devnull)
        # pocketsphinx carries its running cepstral mean from one utterance to the next, so a phrase's
        # transcript depended on what was transcribed before it (sunday: 0.347 after quad-sweep, 0.350
        # first); every phrase starts from the same mean instead, and a figure no longer depends on order
        self.fresh = self.decoder.get_cmn()

    def __call__(self, audio: np.ndarray, rate: int) -> str:
        import soxr

        x = soxr.resample(np.asarray(audio, dtype=np.float32), rate, ASR_RATE)
        pcm = (np.clip(x, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        self.decoder.set_cmn(self.fresh)
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return hyp.hypstr if hyp is not None else ""


def wer(recognize: Recognizer, clips: dict[str, np.ndarray], rate: int) -> float:
    """Word error rate over every phrase in `clips` ({text: audio})."""
    total = wrong = 0
    for text, audio in clips.items():
        ref = words(text)
        total += len(ref)
        wrong += edits(ref, words(recognize(audio, rate)))
    return wrong / max(1, total)


def padded(audio: np.ndarray, rate: int) -> np.ndarray:
    pad = np.zeros(int(CONTEXT_S * rate), dtype=np.float32)
    return np.concatenate([pad, np.asarray(audio, dtype=np.float32), pad])


def export(routine: str, out: Path, plan: Path, cache: Path) -> None:
    env = {**os.environ, "VOICECOACH_CACHE_DIR": str(cache)}
    env.pop("VOICECOACH_NEURAL", None)
    subprocess.run([PYTHON, "-m", "voicecoach", "export", routine, "-o", str(out), "--force", "--engine", "piper",
                    "--timeline", str(plan)], env=env, check=True, stdout=subprocess.DEVNULL)


def speak(texts: list[str], length_scale: float, pause: float, work: Path) -> tuple[dict[str, np.ndarray], int]:
    """Every text spoken by one Piper process with these settings: ({text: samples}, rate)."""
    import soundfile as sf

    from voicecoach.speech.piper import find_voices, piper_command
    from voicecoach.speech.piperbatch import PiperBatch, PiperJob

    nv = find_voices()[0]
    batch = None
    out, rate = {}, 0
    try:
        for text in texts:
            # seeded Piper: the same text and settings give the same samples, so a file kept
            # from an earlier run (--work) is the take this run would make
            name = hashlib.sha256(f"{nv.id}|{length_scale!r}|{pause!r}|{text}".encode()).hexdigest()[:20]
            path = work / "alone" / f"{name}.wav"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                if batch is None:
                    batch = PiperBatch(PiperJob(nv.model, nv.config, length_scale, pause), piper_command(), nv.id)
                batch.speak(text, path.with_suffix(".part.wav"), 60.0)
                path.with_suffix(".part.wav").rename(path)
            out[text], rate = sf.read(str(path), dtype="float32")
    finally:
        if batch is not None:
            batch.close()
    return out, rate


def session_settings() -> tuple[float, float]:
    """The length scale and sentence pause a session at the calm pace uses."""
    from voicecoach.speech import pacing
    from voicecoach.speech.piper import find_voices, model_id, pace_of

    nv = find_voices()[0]
    return pacing.settings_for(pace_of(model_id(nv), nv), pacing.CALM_WPM)


def routine_figures(routine: str, recognize: Recognizer, work: Path, stages: bool) -> dict[str, float]:
    import soundfile as sf

    from voicecoach import level, session

    out, plan = work / f"{routine}.wav", work / f"{routine}.json"
    export(routine, out, plan, work / "cache")
    timeline = json.loads(plan.read_text())
    audio, rate = sf.read(str(out), dtype="float32")
    first: dict[str, dict] = {}
    for event in timeline["events"]:
        if "text" in event and any(words(event["text"])):
            first.setdefault(event["text"], event)
    texts = list(first)
    context = int(CONTEXT_S * rate)
    cut = {t: audio[max(0, e["sample"] - context):e["sample"] + e["samples"] + context] for t, e in first.items()}
    scale, pause = session_settings()
    alone, piper_rate = speak(texts, scale, 0.0, work)
    figures = {"alone": wer(recognize, {t: padded(a, piper_rate) for t, a in alone.items()}, piper_rate)}
    if stages:
        own, _ = speak(texts, 1.0, 0.0, work)
        figures["own pace"] = wer(recognize, {t: padded(a, piper_rate) for t, a in own.items()}, piper_rate)
        figures["alone"] = figures.pop("alone")
        batch, _ = speak(texts, scale, pause, work)
        figures["pauses"] = wer(recognize, {t: padded(a, piper_rate) for t, a in batch.items()}, piper_rate)
        trimmed = {t: level.trim(a, piper_rate, session.TRIM_DB, session.TRIM_KEEP_S) for t, a in batch.items()}
        figures["trimmed"] = wer(recognize, {t: padded(a, piper_rate) for t, a in trimmed.items()}, piper_rate)
        levelled = {t: session.speech_clip(a, piper_rate) for t, a in batch.items()}
        figures["levelled"] = wer(recognize, {t: padded(a, piper_rate) for t, a in levelled.items()}, piper_rate)
        tight = {t: audio[e["sample"]:e["sample"] + e["samples"]] for t, e in first.items()}
        figures["export, no context"] = wer(recognize, {t: padded(a, rate) for t, a in tight.items()}, rate)
    figures["export"] = wer(recognize, cut, rate)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("routines", nargs="*", help="these routines (default: every built-in one)")
    parser.add_argument("--quick", action="store_true", help="the morning routine only")
    parser.add_argument("--stages", nargs="*", metavar="ROUTINE", help="the WER after each stage, for these routines")
    parser.add_argument("--work", type=Path, metavar="DIR",
                        help="keep the speech cache and the voice-alone clips here between runs (default: a temporary folder)")
    args = parser.parse_args()
    try:
        recognize = Recognizer()
    except ImportError:
        print("word error rate: not measured (pocketsphinx is not installed: pip install voicecoach)")
        return 0
    from voicecoach.routines import builtin_ids
    from voicecoach.speech.piper import unavailable

    os.environ.pop("VOICECOACH_NEURAL", None)
    why = unavailable()
    if why is not None:
        print(f"word error rate: not measured ({why})")
        return 0
    routines = args.stages or args.routines or (["morning"] if args.quick else builtin_ids())
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="vc-wer-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for routine in routines:
            figures = routine_figures(routine, recognize, work, args.stages is not None)
            gap = figures["export"] - figures["alone"]
            worst = max(worst, gap)
            shown = ", ".join(f"{name} {value:.3f}" for name, value in figures.items())
            print(f"{routine}: word error rate {shown} (export - alone {gap:+.3f})", flush=True)
    print(f"word error rate, export against the voice alone: worst {worst:+.3f} over {len(routines)} routines "
          f"(target <= +0.030; load average {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
