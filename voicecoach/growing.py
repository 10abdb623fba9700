"""A live session that starts before all its speech exists: the timeline grows step by step.

The first step plays as soon as its own phrases are spoken and levelled; a
thread speaks the later steps' phrases while the earlier ones play. A step's
events depend only on what comes before it, so the samples before the first
step whose phrases are missing (the frontier) never change, and the sink
plays no further than that. When speech falls behind (a loaded machine) the
wait goes into the silence before that step's announcement (`Options.waits`),
never into a hold. Export and serve prepare everything first (session.py).
"""
from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np

from . import wording
from .mixer import Mixer
from .routines.model import expand
from .session import (ESTIMATED_CHARS_PER_SECOND, SPEECH_LUFS, Progress, Session, levelled_clips, levelled_key,
                      sound_clips)
from .timeline import Options, Timeline, compile, opening, phrases

AHEAD_S = 1.0  # a wait is added when the frontier is this close to the sample heard: inside the sink's queue
WAIT_STEP_S = 0.25  # added at a time, so the wait ends soon after the speech comes


def blocks(routine, options: Options) -> list[tuple[int | None, list[str]]]:
    """The session's phrases in the order they sound, by where a wait may go before them.

    (None, the first opening words), (-k, the k-th opening words) for the rest of
    them, then (step index, the phrases of that step and the steps that continue
    it without a word) for each announced step, then (the step count, the closing
    words): the keys of `Options.waits`. The words come from the routine's one
    walk (wording.turns), as the timeline's do.
    """
    steps = expand(routine)
    said_first = ([wording.GET_READY] if options.lead_in > 0 else []) + opening(routine, options)
    # each opening phrase on its own: the first sounds as soon as it is spoken
    out: list[tuple[int | None, list[str]]] = [(None, said_first[:1])]
    out += [(-k, [t]) for k, t in enumerate(said_first[1:], 1)]
    for turn in wording.turns(steps, options.start_step):
        if not turn.continued:
            out.append((turn.index, []))
        out[-1][1].extend(turn.texts())
    out.append((len(steps), [routine.outro or wording.DEFAULT_OUTRO]))
    return [(where, list(dict.fromkeys(said))) for where, said in out]


class GrowingSession:
    """A Session whose `timeline` and `render` grow as speech comes; `ready()` tells a sink how far to play.

    `speaker` is an open speech.Speaker, closed here once every phrase is spoken
    (or at `close()`). The speech is levelled to the usual target, without the
    whole-mix correction a prepared session gets (it needs the whole mix).
    """

    def __init__(self, routine, options: Options, speaker, progress: Progress | None = None):
        self.routine, self.options, self.speaker = routine, options, speaker
        rate = options.sample_rate
        self.sound = sound_clips(routine, rate)
        # every phrase's length until it is spoken: the same guess at every compile, so made once
        self._estimate = {t: int(len(t) / ESTIMATED_CHARS_PER_SECOND * rate) + 1 for t in phrases(routine, options)}
        self._blocks = blocks(routine, options)
        # the blocks spoken before the play starts: the first words, or with none (--from) the first step's
        self.initial = 1 if self._blocks[0][1] else 2
        self._clips: dict[str, np.ndarray] = {}
        self._known = 0  # blocks whose clips are all here
        self._waits: dict[int, int] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._closed = False
        self.error: BaseException | None = None
        self.waiting = False  # speech is behind: the silence before the next announcement is growing
        self._integrated = 0
        self._thread = threading.Thread(target=self._speak, args=(progress,), name="voicecoach-speech", daemon=True)
        self._compose()
        self._thread.start()

    # --- the speaking thread ---------------------------------------------------

    def _speak(self, progress: Progress | None) -> None:
        try:
            for k, (_, texts) in enumerate(self._blocks):
                if self._closed:
                    return
                report = progress if k < self.initial else None  # what the play waits for, only
                clips = levelled_clips(texts, self.speaker, self.options.sample_rate, report)
                with self._changed:
                    self._clips.update(clips)
                    self._known = k + 1
                    self._changed.notify_all()
        except BaseException as exc:  # noqa: BLE001 - raised in the player's thread by until()/advance()
            with self._changed:
                self.error = exc
                self._changed.notify_all()
        finally:
            self.speaker.close()

    # --- the growing timeline --------------------------------------------------

    def _compose(self) -> None:
        """Compile with the lengths known (estimates for the rest) and the waits so far; called under the lock."""
        speech = self._estimate | {t: len(c) for t, c in self._clips.items()}
        opts = replace(self.options, waits=tuple(sorted(self._waits.items())))
        complete = self._known == len(self._blocks)
        problems = None if complete else []  # steps not spoken yet may not fit on an estimate: no error for them
        timeline = compile(self.routine, speech, {n: len(c) for n, c in self.sound.items()}, opts, problems)
        clips = {t: self._clips.get(t, None) for t in speech}
        bank = {("speech", t): (c if c is not None else np.zeros(speech[t], np.float32)) for t, c in clips.items()}
        bank |= {("sound", n): c for n, c in self.sound.items()}
        self.mixer = Mixer(timeline, bank)
        self.timeline: Timeline = timeline
        self.final = timeline.total_samples if complete else self._frontier(timeline)
        self.complete = complete

    def _frontier(self, timeline: Timeline) -> int:
        """The first sample of the first block not spoken yet: everything before it is final."""
        where = self._blocks[self._known][0]
        if where is None:
            return 0
        if where < 0:  # the opening words: the first events of the session without a step
            return sorted(e.sample for e in timeline.events if e.text is not None and e.step is None)[-where]
        for span in timeline.steps:
            if span.index == where:
                return span.announce_sample
        outro = self._blocks[-1][1][0]
        return max(e.sample for e in timeline.events if e.text == outro and e.step is None)

    def _integrate(self) -> None:
        if self.error is not None:
            raise self.error
        if self._known != self._integrated:
            self._compose()
            self._integrated = self._known

    def render(self, start: int, n: int) -> np.ndarray:
        return self.mixer.render(start, n)

    def ready(self) -> tuple[int, int | None]:
        """(samples final from the start, the session's length once every phrase is spoken, else None)."""
        return self.final, (self.timeline.total_samples if self.complete else None)

    def advance(self, heard: int) -> None:
        """Take in the speech that came; when the frontier is near the sample heard, wait before it."""
        with self._changed:
            self._integrate()
            while not self.complete and self.final - heard < AHEAD_S * self.options.sample_rate:
                where = self._blocks[self._known][0]
                if where is None:
                    break  # never: the first words are spoken before the play starts
                self._waits[where] = self._waits.get(where, 0) + int(WAIT_STEP_S * self.options.sample_rate)
                self._compose()
            self.waiting = not self.complete and self._blocks[self._known][0] in self._waits

    def until(self, block: int) -> None:
        """Block until the first `block` blocks are spoken (or every block, when more)."""
        block = min(block, len(self._blocks))
        with self._changed:
            while self._known < block and self.error is None:
                self._changed.wait(0.1)
            self._integrate()

    def until_step(self, index: int) -> None:
        """Block until step `index` (expanded) and everything before it is spoken."""
        k = max((k for k, (where, _) in enumerate(self._blocks) if where is not None and where <= index), default=1)
        self.until(k + 1)

    def until_complete(self) -> None:
        self.until(len(self._blocks))

    def close(self) -> None:
        """Stop speaking after the phrase in hand (the speaker closes with the thread)."""
        self._closed = True


def speak_ahead(engine: str | None) -> None:
    """Start the speech engine's process now, before the routine is planned, when `engine` is the neural
    voice's: a cold play's first sound waits for its imports (a quarter second or more). `prepare_live`
    takes it over, or ends it when every phrase is cached."""
    if engine == "piper":
        from .speech.piper import prestart

        prestart()


def prepare_live(routine, opts: Options, voice=None, progress: Progress | None = None, limit: int | None = None,
                 progressive: bool = True):
    """A Session for live play: prepared at once when its speech is all in the cache (the same samples
    as an export), else a GrowingSession that plays its first step as soon as that step's phrases exist.

    A session with a background is prepared first: the bed is planned against the whole session."""
    from .background import choose as bed_source
    from .session import prepare_with, voice_for
    from .speech import Speaker
    from .speech.piperspare import discard as discard_spare

    speaker = Speaker(voice or voice_for(routine), opts.sample_rate, cache_limit=limit)
    try:
        texts = phrases(routine, opts)
        warm = all(speaker.cache.has(levelled_key(speaker, opts.sample_rate, t, SPEECH_LUFS)) for t in texts)
        if warm:
            discard_spare()  # a neural voice's process started ahead (speak_ahead): not needed
        if warm or not progressive or bed_source(routine, opts.background) is not None:
            with speaker:
                return prepare_with(routine, opts, speaker, progress)
        session = GrowingSession(routine, opts, speaker, progress)
    except BaseException:
        speaker.close()
        raise
    session.until(session.initial)
    return session


__all__ = ["GrowingSession", "Session", "blocks", "prepare_live", "speak_ahead"]
