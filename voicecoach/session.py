"""A routine made ready to sound: speech synthesized, clips levelled, timeline compiled.

This is the edge where the pure core meets the speech engine and the sound
files; play and export both start from a Session, so they render the same samples.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import level, sounds
from .mixer import Mixer
from .routine import Routine, expand
from .timeline import Options, Timeline, compile, phrases, sounds_needed

Progress = Callable[[int, int], None]


@dataclass
class Session:
    routine: Routine
    timeline: Timeline
    mixer: Mixer

    def render(self, start: int, n: int) -> np.ndarray:
        return self.mixer.render(start, n)


def speech_clip(raw: np.ndarray, rate: int) -> np.ndarray:
    """An engine's clip as the mixer wants it: padding trimmed, at the speech loudness target."""
    return level.normalize_speech(level.trim(raw, rate), rate).astype(np.float32)


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
    texts = phrases(routine, options)
    raw = speaker.clips(texts, progress)
    clips = {text: speech_clip(raw[text], rate) for text in texts}
    sound = sound_clips(routine, rate)
    timeline = compile(routine, {t: len(c) for t, c in clips.items()}, {n: len(c) for n, c in sound.items()},
                       options)
    bank = {("speech", t): c for t, c in clips.items()} | {("sound", n): c for n, c in sound.items()}
    return Session(routine, timeline, Mixer(timeline, bank))
