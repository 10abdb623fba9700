"""A routine made ready to sound: speech synthesized, clips levelled, timeline compiled.

This is the edge where the pure core meets the speech engine and the sound
files; play and export both start from a Session, so they render the same samples.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import level, sounds
from .mixer import Mixer
from .routine import Routine, expand
from .timeline import Options, Timeline, compile, phrases, sounds_needed

Progress = Callable[[int, int], None]
# Bump when trim or normalize_speech change, so levelled clips made before are not reused.
LEVELLED_VERSION = 3


@dataclass
class Session:
    routine: Routine
    timeline: Timeline
    mixer: Mixer

    def render(self, start: int, n: int) -> np.ndarray:
        return self.mixer.render(start, n)


# Speech sits half an LU above the -16 LUFS programme target: the chimes, ticks and soft
# breath tones between the words are quieter and count in the gated average too,
# so a whole session integrates to about -16 LUFS (measured over every built-in).
SPEECH_LUFS = -15.5


def speech_clip(raw: np.ndarray, rate: int) -> np.ndarray:
    """An engine's clip as the mixer wants it: padding trimmed, at the speech loudness target."""
    return level.normalize_speech(level.trim(raw, rate), rate, target_lufs=SPEECH_LUFS).astype(np.float32)


def levelled_clips(texts: list[str], speaker, rate: int, progress: Progress | None = None) -> dict[str, np.ndarray]:
    """Speech clips ready for the mixer, kept in the speaker's cache beside the raw clips.

    Levelling (trim, loudness, peak limiting) costs far more than mixing, so a warm
    export only reads files: the levelled clip is cached under its own key.
    """
    cache = getattr(speaker, "cache", None)
    keys = {t: hashlib.sha256(f"levelled|{LEVELLED_VERSION}|{rate}|{speaker.voice.cache_key(t)}".encode()).hexdigest()
            for t in texts}
    out: dict[str, np.ndarray] = {}
    for text in texts:
        hit = cache.load(keys[text]) if cache is not None else None
        if hit is not None and hit[1] == rate:
            out[text] = hit[0]
    todo = [t for t in texts if t not in out]
    raw = speaker.clips(todo, progress) if todo else {}
    for text in todo:
        out[text] = speech_clip(raw[text], rate)
        if cache is not None:
            cache.store(keys[text], out[text], rate)
    return out


def sound_clips(routine: Routine, rate: int) -> dict[str, np.ndarray]:
    """Every sound the routine may play, loaded at `rate` (routine paths from their own folders)."""
    folders = {name: routine.folder for name in sounds_needed(routine)}
    for exp in expand(routine):
        for cue in exp.step.cues:
            if cue.sound:
                folders[cue.sound] = exp.step.folder
    return {name: sounds.load(name, rate, folder) for name, folder in folders.items()}


def prepare(routine: Routine, options: Options, speaker, progress: Progress | None = None) -> Session:
    """Synthesize what is missing (progress(done, total) per phrase), then compile the timeline.

    `speaker` is a speech.Speaker (anything with `clips(texts, progress)`).
    """
    rate = options.sample_rate
    clips = levelled_clips(phrases(routine, options), speaker, rate, progress)
    sound = sound_clips(routine, rate)
    timeline = compile(routine, {t: len(c) for t, c in clips.items()}, {n: len(c) for n, c in sound.items()},
                       options)
    bank = {("speech", t): c for t, c in clips.items()} | {("sound", n): c for n, c in sound.items()}
    return Session(routine, timeline, Mixer(timeline, bank))
