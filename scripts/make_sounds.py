#!/usr/bin/env python3
"""Make the built-in chimes, ticks, breath tones and background beds in sounds/.

Every sound is synthesized from a few sine partials with exponential decay
(a struck bell or bowl), so the files are pleasant, small and reproducible:
no randomness, numpy for the arithmetic and the standard `wave` module for the
file, so running this twice gives byte-identical files.

    python scripts/make_sounds.py            # (re)write sounds/*.wav and the beds, sounds/*.flac
    python scripts/make_sounds.py --check    # exit 1 if sounds/ is not what this makes
    python scripts/make_sounds.py --out DIR  # write (or check) another folder

Design rules, because playback tests find these sounds in a recording by
normalized cross-correlation:
- every chime and the tick start with a 1 ms attack, so the onset is sharp;
- each sound has its own fundamental, partials and rhythm, so no sound
  correlates strongly with another (the start and end chimes most of all:
  different pitch and timbre, and the end chime is struck twice);
- every file peaks at -3 dBFS, but the soft breath tones at -15 dBFS.

The background beds (rain, ocean, pad) are seamless noise and tone loops made
in beds.py and stored as FLAC. Their bytes depend on the FLAC encoder's
version, so --check compares their decoded samples, which do not.
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import wave
from pathlib import Path

import numpy as np

import beds  # beside this script

SAMPLE_RATE = 22050
PEAK_DBFS = -3.0
# A steady tone is far louder than a struck one at the same peak (-10 LUFS
# against -17 to -20 here), so the breath tones peak 12 dB lower: a soft
# background cue under speech at -16 LUFS, not the loudest thing in a session.
SOFT_PEAK_DBFS = -15.0
SOFT_NAMES = ("breath-in", "breath-out")
ATTACK_S = 0.001  # sharp onset: the chime can be located to the sample
FADE_S = 0.04  # end every file on silence, never on a cut-off partial


def timbre(ratios, tau: float, energy_ratio: float = 0.8):
    """Partials (ratio, amplitude, decay) for the given frequency ratios.

    Partial k decays with tau * 0.72**k (higher partials die away first, as on
    a struck bowl) and carries energy_ratio**k of the fundamental's energy
    (amplitude**2 * decay), so the energy is spread over all partials. With
    inharmonic ratios that spread is what gives each sound one sharp
    autocorrelation peak: shifted by a period of any one partial, the others
    no longer line up, so a detector cannot slip by a cycle. The ratios were
    picked by searching bowl-like ratio sets for the lowest autocorrelation
    side lobe (0.5 to 0.8 of the peak; a plain harmonic tone gives 0.99).
    """
    partials = []
    for k, ratio in enumerate(ratios):
        decay = tau * 0.72 ** k
        partials.append((ratio, (energy_ratio ** k / (decay / tau)) ** 0.5, decay))
    return tuple(partials)


BOWL = timbre((1.0, 1.624, 2.447, 3.994, 6.136, 6.917), 0.5)
GONG = timbre((1.0, 2.483, 4.313, 5.018, 6.782, 7.407), 0.5)
GLASS = timbre((1.0, 3.046, 4.971, 5.944, 6.595), 0.35)
WOOD = timbre((1.0, 1.781, 3.084, 4.24, 6.017), 0.025, 1.0)
# Breath tones: warm and soft, fundamental and two quiet harmonics.
SOFT = ((1.0, 1.0), (2.0, 0.18), (3.0, 0.05))

# Pitches (equal temperament, A4 = 440 Hz).
C4, G3, D4, G4 = 261.63, 196.00, 293.66, 392.00
C5, D5, E5, F5, G5, A5, B5 = 523.25, 587.33, 659.26, 698.46, 783.99, 880.00, 987.77
C6, D6, E6, F6, FS6 = 1046.50, 1174.66, 1318.51, 1396.91, 1479.98


def _time(length_s: float) -> np.ndarray:
    return np.arange(int(round(length_s * SAMPLE_RATE)), dtype=np.float64) / SAMPLE_RATE


def strike(f0: float, partials, length_s: float) -> np.ndarray:
    """One struck note: decaying partials with a 1 ms raised-cosine attack."""
    t = _time(length_s)
    out = np.zeros_like(t)
    for ratio, amp, tau in partials:
        freq = f0 * ratio
        if freq >= SAMPLE_RATE / 2:
            continue  # above Nyquist it would alias into a harsh tone
        out += amp * np.sin(2.0 * np.pi * freq * t) * np.exp(-t / tau)
    n_attack = int(round(ATTACK_S * SAMPLE_RATE))
    out[:n_attack] *= np.sin(0.5 * np.pi * np.arange(n_attack) / n_attack) ** 2
    return out


def sequence(notes, length_s: float) -> np.ndarray:
    """Several strikes in one file: notes are (onset s, f0, partials, gain)."""
    out = np.zeros(len(_time(length_s)))
    for onset, f0, partials, gain in notes:
        start = int(round(onset * SAMPLE_RATE))
        note = gain * strike(f0, partials, length_s - start / SAMPLE_RATE)
        out[start:start + len(note)] += note[: len(out) - start]
    return out


def glide(f_from: float, f_to: float, length_s: float) -> np.ndarray:
    """A soft tone gliding (exponentially, so evenly in pitch) from f_from to f_to.

    Its envelope swells in and out (sin^2), because a breath has no strike.
    """
    t = _time(length_s)
    # Phase is the integral of the instantaneous frequency f(t) = f_from * k**(t / T).
    k = f_to / f_from
    phase = 2.0 * np.pi * f_from * length_s / np.log(k) * (k ** (t / length_s) - 1.0)
    out = sum(amp * np.sin(ratio * phase) for ratio, amp in SOFT)
    envelope = np.sin(np.pi * t / length_s) ** 2
    return out * envelope


def finish(samples: np.ndarray, peak_dbfs: float = PEAK_DBFS) -> np.ndarray:
    """Fade the tail to silence and scale to the given peak level."""
    n_fade = int(round(FADE_S * SAMPLE_RATE))
    samples = samples.copy()
    samples[-n_fade:] *= np.cos(0.5 * np.pi * np.arange(1, n_fade + 1) / n_fade) ** 2
    return samples * (10.0 ** (peak_dbfs / 20.0) / np.max(np.abs(samples)))


def build() -> dict[str, np.ndarray]:
    """Every built-in sound by name, as float64 samples at SAMPLE_RATE."""
    sounds = {
        # Start of a timed interval: one bowl strike, E5.
        "bell": strike(E5, BOWL, 0.8),
        # End: a lower gong, C5, struck twice, so it never reads as a start.
        "bell-double": sequence([(0.0, C5, GONG, 1.0), (0.28, C5, GONG, 0.85)], 1.0),
        # Halfway: one light, high glass ping.
        "halfway": strike(D6, GLASS, 0.6),
        # Session complete: a rising F major arpeggio that rings on as a chord.
        "complete": sequence(
            [(0.0, F5, BOWL, 1.0), (0.14, A5, BOWL, 0.85), (0.28, C6, BOWL, 0.75), (0.42, F6, BOWL, 0.7)],
            1.5,
        ),
        # Countdown tick: a short woodblock knock.
        "tick": strike(FS6, WOOD, 0.1),
        "breath-in": glide(G3, D4, 1.0),
        "breath-out": glide(G4, C4, 1.2),
        # Entering a rest: two soft descending gong notes.
        "rest": sequence([(0.0, G5, GONG, 1.0), (0.22, D5, GONG, 1.0)], 0.9),
        # Desk reminder: three quick glass notes, up and back down, to catch attention.
        "prompt": sequence([(0.0, B5, GLASS, 1.0), (0.12, E6, GLASS, 0.9), (0.24, B5, GLASS, 0.8)], 0.9),
    }
    return {name: finish(samples, SOFT_PEAK_DBFS if name in SOFT_NAMES else PEAK_DBFS)
            for name, samples in sounds.items()}


def wav_bytes(samples: np.ndarray) -> bytes:
    """The bytes of a mono 16-bit PCM WAV file at SAMPLE_RATE."""
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return buf.getvalue()


def flac_bytes(pcm: np.ndarray, rate: int) -> bytes:
    """The bytes of a mono 16-bit FLAC file."""
    import soundfile

    buf = io.BytesIO()
    soundfile.write(buf, pcm, rate, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def same(path: Path, data: bytes) -> bool:
    """Whether the file holds `data`: the same bytes, or for FLAC the same samples at the same rate."""
    if path.suffix != ".flac":
        return path.read_bytes() == data
    import soundfile

    try:
        have, have_rate = soundfile.read(str(path), dtype="int16")
    except (soundfile.LibsndfileError, RuntimeError):
        return False
    want, want_rate = soundfile.read(io.BytesIO(data), dtype="int16")
    return have_rate == want_rate and np.array_equal(have, want)


def check(folder: Path, files: dict[str, bytes]) -> list[str]:
    """The problems that make `folder` differ from `files` (empty if it matches)."""
    problems = []
    for name, data in files.items():
        path = folder / name
        if not path.exists():
            problems.append(f"missing: {path}")
        elif not same(path, data):
            problems.append(f"differs: {path}")
    for path in sorted([*folder.glob("*.wav"), *folder.glob("*.flac")]):
        if path.name not in files:
            problems.append(f"not made by this script: {path}")
    return problems


def write(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        tmp = folder / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, folder / name)  # a reader never sees half a file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the files differ from what this script makes")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "sounds",
                        help="folder of the WAV files (default: the repository's sounds/)")
    args = parser.parse_args(argv)
    files = {f"{name}.wav": wav_bytes(samples) for name, samples in build().items()}
    files.update({f"{name}.flac": flac_bytes(pcm, rate) for name, (pcm, rate) in beds.build().items()})
    if args.check:
        problems = check(args.out, files)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run scripts/make_sounds.py to regenerate them", file=sys.stderr)
            return 1
        print(f"{len(files)} sounds up to date in {args.out}")
        return 0
    write(args.out, files)
    print(f"wrote {len(files)} sounds to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
