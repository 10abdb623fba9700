"""A routine made ready to sound: speech synthesized, clips levelled, timeline compiled.

This is the edge where the pure core meets the speech engine and the sound
files; play and export both start from a Session, so they render the same samples.
"""
from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from . import background, bed, level, meter, sounds
from .errors import InputError
from .mixer import Mixer
from .mixer import key as key_of
from .routines.model import Routine, expand
from .routines.safety import SHORT_REMINDER
from .timeline import Options, Timeline, compile, phrases, sounds_needed

Progress = Callable[[int, int], None]
SAMPLE_RATE = 22050  # Hz: the session's sample rate unless the caller asks for another
# At settings.DEFAULT_WPM a voice says about 13 characters a second (espeak-ng 13.6, Piper's joe 13.1
# on the morning routine's phrases, first to last sound): an estimate for checks without an engine
ESTIMATED_CHARS_PER_SECOND = 13
# Bump when trim or normalize_speech change, so levelled clips made before are not reused.
LEVELLED_VERSION = 4  # 4: true peak under -1.5 dBFS, room for a ducked bed


def options(sample_rate: int = SAMPLE_RATE, scale: float = 1.0, safety: bool = True, **extra) -> Options:
    """Timeline options as every front end wants them: the spoken safety reminder is on by default."""
    return Options(sample_rate=sample_rate, scale=scale, safety=safety, safety_text=SHORT_REMINDER, **extra)


def options_for(settings, **extra) -> Options:
    """Timeline options from resolved `settings` (settings.resolve): its sample rate, scale, safety and bed."""
    return options(settings.sample_rate, settings.scale, settings.safety, background=settings.to_bed(), **extra)


def bed_choice(name: str | None = None, off: bool = False, duck_db: float | None = None,
               level_db: float | None = None) -> bed.BedChoice:
    """The background a session asks for: `name`, else (at prepare) the routine's own; `off`: none at all."""
    if name is not None and off:
        raise InputError(f"the background {name!r} and no background contradict each other; ask for one of them")
    return bed.BedChoice(name=name, off=off, duck_db=bed.DUCK_DB if duck_db is None else duck_db,
                         level_db=bed.LEVEL_DB if level_db is None else level_db)


def voice_for(routine: Routine | None = None, settings=None, **given):
    """The Voice to speak `routine` with: from `settings` (settings.resolve, which a config file may feed),
    else from the values `given` (voice, rate, volume, tts_command, engine, voice_model) over the
    routine's own and the defaults. Reads no config file.

    The engine, unless named: "command" with a TTS command, "piper" with a voice
    model, else the best installed (piper when the neural extra and a voice are
    there, else pyttsx3 with `note` saying why).
    """
    from .settings import resolve

    if settings is None:
        settings = resolve(None, given)
    elif given:
        raise TypeError("give settings or values, not both")
    return settings.for_routine(routine).to_voice()


def estimated_timeline(routine: Routine, opts: Options | None = None, problems: list | None = None) -> Timeline:
    """The timeline with speech lengths estimated from the text (no engine needed).

    Catches a cue that plainly cannot fit (into `problems`, when given, instead of
    raising), and gives a session's length for planning.
    """
    opts = opts or options()
    rate = opts.sample_rate
    speech = {t: int(len(t) / ESTIMATED_CHARS_PER_SECOND * rate) + 1 for t in phrases(routine, opts)}
    return compile(routine, speech, {n: len(c) for n, c in sound_clips(routine, rate).items()}, opts, problems)


@dataclass
class Session:
    """A routine ready to sound: its timeline and the mixer that renders it."""

    routine: Routine
    timeline: Timeline
    mixer: Mixer

    def render(self, start: int, n: int) -> np.ndarray:
        return self.mixer.render(start, n)


# Speech sits half an LU above the -16 LUFS programme target: the chimes, ticks and soft
# breath tones between the words are quieter and count in the gated average too,
# so most sessions integrate to about -16 LUFS with this alone (measured over every built-in).
SPEECH_LUFS = -15.5
PROGRAMME_LUFS = -16.0
# A session with many soft sounds (psoas-release: forty breath tones) or a bed
# under it integrates lower: up to 1 LU with both. Such a session is measured and
# its speech levelled again, in steps of a quarter LU (so the cache serves them).
LOUDNESS_TOLERANCE = 0.25
SPEECH_RANGE = (-18.0, -13.5)


def speech_clip(raw: np.ndarray, rate: int, target_lufs: float = SPEECH_LUFS) -> np.ndarray:
    """An engine's clip as the mixer wants it: padding trimmed, at the speech loudness target."""
    return level.normalize_speech(level.trim(raw, rate), rate, target_lufs=target_lufs).astype(np.float32)


def levelled_key(speaker, rate: int, text: str, target_lufs: float = SPEECH_LUFS) -> str:
    """The cache key of `text`'s levelled clip."""
    target = "" if target_lufs == SPEECH_LUFS else f"|{target_lufs:.2f}"  # the usual level keeps its old keys
    return hashlib.sha256(f"levelled|{LEVELLED_VERSION}|{rate}{target}|{speaker.voice.cache_key(text)}".encode()
                          ).hexdigest()


def levelled_clips(texts: list[str], speaker, rate: int, progress: Progress | None = None,
                   target_lufs: float = SPEECH_LUFS) -> dict[str, np.ndarray]:
    """Speech clips ready for the mixer, kept in the speaker's cache beside the raw clips.

    Levelling (trim, loudness, peak limiting) costs far more than mixing, so a warm
    export only reads files: the levelled clip is cached under its own key.
    """
    cache = getattr(speaker, "cache", None)
    keys = {t: levelled_key(speaker, rate, t, target_lufs) for t in texts}
    out: dict[str, np.ndarray] = {}
    for text in texts:
        hit = cache.load(keys[text]) if cache is not None else None
        if hit is not None and hit[1] == rate:
            out[text] = hit[0]
            # its engine clip counts as used too: the cache's limit keeps both, so levelling
            # again (prepare's second pass) finds the very take the timeline was planned from
            cache.touch(speaker.voice.cache_key(text))
    todo = list(dict.fromkeys(t for t in texts if t not in out))
    if not todo:
        return out
    # Each clip is levelled in a second thread as soon as it is spoken: this process
    # only waits while a speech engine in its own process speaks the next phrase, and
    # levelling a routine's speech (and importing the loudness meter) takes seconds.
    from concurrent.futures import ThreadPoolExecutor

    # Progress counts each clip twice, once spoken (or read) and once levelled: with
    # every clip spoken before (cached) but not at this level, levelling alone takes
    # seconds (7 s for psoas-release under a bed, levelled again to a new target),
    # and a bar that only counted speech sat at 0% as if it hung.
    def report(*_spoken) -> None:
        if progress is not None:
            progress(len(levelling) + sum(job.done() for job in levelling.values()), 2 * len(todo))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="voicecoach-level") as pool:
        levelling = {}
        report()
        speaker.clips(todo, report, each=lambda text, clip: levelling.setdefault(
            text, pool.submit(speech_clip, clip, rate, target_lufs)))
        for text in todo:
            out[text] = levelling[text].result()
            report()
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


def _mixer(timeline: Timeline, clips, sound, bed_of, choice: bed.BedChoice, speech_lufs: float = SPEECH_LUFS) -> Mixer:
    """The mixer for `timeline`, with the bed (if `bed_of`: source, reader) planned against speech at `speech_lufs`."""
    reader = None
    if bed_of is not None:
        source, reader = bed_of
        plan = bed.plan(timeline, source.name, source.kind, reader.length, reader.loud_db, choice, speech_lufs)
        timeline = replace(timeline, background=plan)
    bank = {("speech", t): c for t, c in clips.items()} | {("sound", n): c for n, c in sound.items()}
    return Mixer(timeline, bank, reader)


def loudness(mixer: Mixer, block: int = 1 << 16) -> float:
    """The integrated loudness (LUFS) of everything `mixer` renders, measured in blocks (flat memory)."""
    total, hops = mixer.timeline.total_samples, meter.HopMeter(mixer.timeline.sample_rate)
    for start in range(0, total, block):
        hops.feed(mixer.render(start, min(block, total - start)))
    return hops.integrated()


# Bump when the mix changes (mixer, limiter, meter), so loudness measured before is not reused.
MEASURED_VERSION = 1


def measured(mixer: Mixer, cache=None) -> float:
    """The mix's integrated loudness, kept in the speech cache under a digest of everything that sounds.

    Measuring is most of a warm session's preparation (0.09 s of 0.15 s for
    morning), and a live play waits for it before its first sample. The key
    covers every event and every clip's samples, so any change measures again; a
    session with a bed (read from a file) is always measured.
    """
    if cache is None or mixer.bed is not None:
        return loudness(mixer)
    digest = hashlib.sha256(f"measured|{MEASURED_VERSION}|{mixer.timeline.total_samples}".encode())
    for event in mixer.events:
        digest.update(f"|{event.sample}|{event.kind}|".encode())
        digest.update(mixer.clips[key_of(event)].tobytes())
    key = digest.hexdigest()
    hit = cache.load(key)
    if hit is not None and len(hit[0]) == 1:
        return float(hit[0][0])
    value = float(np.float32(loudness(mixer)))  # as stored, so the first play decides as every later one
    if math.isfinite(value):
        cache.store(key, np.array([value], dtype=np.float32), mixer.timeline.sample_rate)
    return value


def prepare_with(routine: Routine, options: Options, speaker, progress: Progress | None = None) -> Session:
    """Synthesize what is missing (progress(done, total) per phrase), then compile the timeline.

    `speaker` is a speech.Speaker (anything with `clips(texts, progress)`). The
    background (see `bed_choice`) is checked before any speech is made, so a
    mistyped bed costs nothing, and decoded once the session's length is known.
    """
    rate = options.sample_rate
    source = background.choose(routine, options.background)
    texts = phrases(routine, options)
    clips = levelled_clips(texts, speaker, rate, progress)
    sound = sound_clips(routine, rate)
    # levelling keeps a clip's length, so the timeline holds whatever the speech's level
    timeline = compile(routine, {t: len(c) for t, c in clips.items()}, {n: len(c) for n, c in sound.items()},
                       options)
    bed_of = (source, background.open_reader(timeline, source)) if source is not None else None
    mixer = _mixer(timeline, clips, sound, bed_of, options.background, SPEECH_LUFS)
    # Measured, not guessed: the mix is pure and fast (about 0.03 s a minute of session).
    error = PROGRAMME_LUFS - measured(mixer, getattr(speaker, "cache", None))
    if abs(error) > LOUDNESS_TOLERANCE and math.isfinite(error):
        low, high = SPEECH_RANGE
        target = min(max(SPEECH_LUFS + round(error * 4) / 4, low), high)
        again = levelled_clips(texts, speaker, rate, progress, target)
        if any(len(again[t]) != len(c) for t, c in clips.items()):
            # An engine clip had left the cache (evicted, deleted) and was spoken again: a neural
            # voice's new take is a few hundred samples longer or shorter, so plan for what will sound.
            timeline = compile(routine, {t: len(c) for t, c in again.items()}, {n: len(c) for n, c in sound.items()},
                               options)
            bed_of = (source, background.open_reader(timeline, source)) if source is not None else None
        mixer = _mixer(timeline, again, sound, bed_of, options.background, target)  # the bed keeps its distance
    return Session(routine, mixer.timeline, mixer)


def prepare_session(routine: Routine, opts: Options | None = None, voice=None,
                    progress: Progress | None = None, limit: int | None = None) -> Session:
    """Synthesize with `voice` (default: `voice_for(routine)`) and compile with `opts` (default: `options()`).

    `limit` is the speech cache's size in bytes (default: the speech cache's own, 500 MB)."""
    from .speech import Speaker

    opts = opts or options()
    with Speaker(voice or voice_for(routine), opts.sample_rate, cache_limit=limit) as speaker:
        return prepare_with(routine, opts, speaker, progress)
