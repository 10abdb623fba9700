"""The neural speech engine "piper": Piper voices, run as a separate program.

Piper runs in one child process per session (piperbatch.py); nothing of
piper-tts (GPL-3.0-or-later) is imported here. That process is the small program
piperhelper/seeded_piper.py (GPL-3.0-or-later too, run, never imported): Piper with
its noise drawn from a seed per phrase, so a phrase gives the same samples every time. Voices are found, checked and
named without Piper (pipervoices.py), so a fully cached session plays without it.

Pace: ``--rate`` is words per minute for every engine. Piper has no such
setting, only a length scale on each phoneme, so the engine measures how long
the voice takes to say a fixed passage (pacing.py) and picks the length scale
and the pause between sentences that give the asked-for rate.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import replace
from pathlib import Path

from ..errors import InputError, SpeechEngineMissing
from . import pacing, piperspare
from .piperbatch import NEURAL_HINT, PiperBatch, PiperJob
from .pipervoices import (NeuralVoice, _looks_like_onnx, check_config, find_voices, load_memo, model_id, save_memo,
                          voice_file, voices_dir)
from .voice import Voice, VoiceInfo, register, resolve_voice

__all__ = ["NeuralVoice", "PiperEngine", "find_voices", "missing_runtime", "model_id", "pace_of", "piper_command",
           "prestart", "resolve", "unavailable", "voice_file"]

# What the engine needs in the environment. A test may swap these names for ones that
# do not exist, to see voicecoach without the neural extra.
RUNTIME_MODULES = ("piper", "onnxruntime")
NEURAL_ENV = "VOICECOACH_NEURAL"  # "off": never the default engine (named with --engine piper, it still speaks)


def missing_runtime() -> str | None:
    """The first module the engine needs that is not installed, or None (nothing is imported)."""
    for name in RUNTIME_MODULES:
        try:
            found = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            found = None
        if found is None:
            return name
    return None


# A separate program (GPL-3.0-or-later, shipped beside this package, never imported): Piper
# with its random noise drawn from a seed per phrase, so a phrase always gives the same samples.
HELPER = Path(__file__).resolve().parent / "piperhelper" / "seeded_piper.py"


def piper_command() -> list[str]:
    """How to run Piper: the seeded Piper program (piperhelper/seeded_piper.py), in this interpreter's
    environment. It takes the options of Piper's own command line that voicecoach uses."""
    return [sys.executable, str(HELPER)]


def model_cache() -> Path:
    """Where the Piper program keeps voice models as onnxruntime optimized them (piperhelper/model_cache.py):
    beside the clip folder, with the voices' digests and paces, so a new routine or rate starts sooner."""
    from .cache import cache_dir, models_beside

    return models_beside(cache_dir())


def prestart() -> None:
    """Start the Piper program now, ahead of need, when the neural extra is installed (piperspare.py):
    the next engine's process is that one, its imports done while the caller prepared."""
    if missing_runtime() is None:
        piperspare.start(piper_command())


# ------------------------------------------------------------------ choosing a voice


def _no_voice(query: str | None) -> SpeechEngineMissing:
    """The error for no Piper voice at all: Piper missing too is said first, as the likelier fix."""
    module = missing_runtime()
    if module is not None:
        return SpeechEngineMissing(f"Piper is not installed (no module {module!r}); {NEURAL_HINT}")
    what = f" to speak as {query!r}" if query else ""
    return SpeechEngineMissing(f"no Piper voice is installed{what}; {NEURAL_HINT}, or put a .onnx voice and its "
                               f".onnx.json in {voices_dir()}")


def _pick(query: str, voices: list[NeuralVoice]) -> NeuralVoice:
    if not voices:
        raise _no_voice(query)
    infos = [v.info() for v in voices]
    try:
        wanted = resolve_voice(query, infos)
    except InputError as unknown:
        # espeak-ng says "en-us" where Piper says "en_US"
        try:
            wanted = resolve_voice(query.replace("-", "_"), infos)
        except InputError:
            raise unknown from None
    return next(v for v in voices if v.id == wanted)


def neural_voice(voice: Voice) -> NeuralVoice:
    """The Piper voice a Voice names: its model file, else its voice name, else the first installed."""
    if voice.model:
        return voice_file(voice.model)
    voices = find_voices()
    if voice.voice:
        return _pick(voice.voice, voices)
    if not voices:
        raise _no_voice(None)
    return voices[0]


def resolve(voice: Voice) -> Voice:
    """`voice` with its model file and `model_id` filled in (so its cache keys name the voice's
    content); InputError for a missing or malformed voice file. Starts no process."""
    nv = neural_voice(voice)
    check_config(nv.config)
    return replace(voice, voice=None, model=str(nv.model), model_id=model_id(nv))


def unavailable() -> str | None:
    """Why the piper engine cannot be the default here (one phrase), or None when it can:
    the neural extra is installed and a voice is found whose files look whole.
    With VOICECOACH_NEURAL=off in the environment it is "" (not the default, nothing to say)."""
    if os.environ.get(NEURAL_ENV, "").strip().lower() == "off":
        return ""
    module = missing_runtime()
    if module is not None:
        return f"the neural extra is not installed (no module {module!r})"
    voices = find_voices()
    if not voices:
        return "no Piper voice is installed"
    v = voices[0]
    if not _looks_like_onnx(v.model):
        return f"the Piper voice {v.id} cannot be loaded ({v.model} is not an ONNX model)"
    try:
        check_config(v.config)
    except InputError as exc:
        return str(exc)
    return None


def pace_of(mid: str, nv: NeuralVoice) -> pacing.Pace:
    """The voice's measured pace: known, remembered, or measured now (two Piper runs) and remembered."""
    if mid in pacing.KNOWN:
        return pacing.KNOWN[mid]
    memo = load_memo()
    known = memo["paces"].get(mid)
    if isinstance(known, list) and len(known) == 2 and all(isinstance(x, (int, float)) for x in known):
        return pacing.Pace(float(known[0]), float(known[1]))
    pace = pacing.measure(nv.model, nv.config, piper_command(), nv.id)
    memo = load_memo()  # another process may have written it meanwhile
    memo["paces"][mid] = [pace.fixed, pace.scaled]
    save_memo(memo)
    return pace


# ------------------------------------------------------------------ the engine


class PiperEngine:
    """Speaks with a Piper voice through one Piper process per session (see piperbatch.py)."""

    def __init__(self, voice: Voice):
        self.voice = voice
        self._batch: PiperBatch | None = None

    @staticmethod
    def _require_runtime() -> None:
        module = missing_runtime()
        if module is not None:
            raise SpeechEngineMissing(f"Piper is not installed (no module {module!r}); {NEURAL_HINT}")

    def voices(self) -> list[VoiceInfo]:
        self._require_runtime()
        return [v.info() for v in find_voices()]

    def _open(self) -> PiperBatch:
        self._require_runtime()
        voice = self.voice if self.voice.model_id else resolve(self.voice)
        nv = voice_file(voice.model)
        check_config(nv.config)
        pace = pace_of(voice.model_id, nv)
        length_scale, pause = pacing.settings_for(pace, voice.rate or pacing.CALM_WPM)
        job = PiperJob(nv.model, nv.config, length_scale, pause, voice.volume, model_cache(), voice.model_id)
        return PiperBatch(job, piper_command(), nv.id)

    def synthesize(self, text: str, out: Path, timeout: float) -> None:
        if self._batch is None:
            self._batch = self._open()
        self._batch.speak(text, out, timeout)

    @property
    def pid(self) -> int | None:
        """The running Piper's process id, or None."""
        return self._batch.pid if self._batch is not None else None

    @property
    def processes_started(self) -> int:
        """How many Piper processes this engine has started (one per session)."""
        return self._batch.started if self._batch is not None else 0

    def close(self) -> None:
        if self._batch is not None:
            self._batch.close()


register("piper", PiperEngine, resolve)
