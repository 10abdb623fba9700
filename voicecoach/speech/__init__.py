"""Speech: engines that turn a phrase into a clip, the worker they run in, and the clip cache.

`Speaker(voice)` hands out clips; engines register through `register()`.
"""
from . import engines as _engines  # noqa: F401  (registers the built-in engines)
from . import piper as _piper  # noqa: F401  (registers the neural engine; imports nothing of Piper)
from .cache import CACHE_FORMAT, cache_dir
from .speaker import Speaker, all_voices
from .voice import Engine, Voice, VoiceInfo, engine_names, parse_command, register, resolve_voice

__all__ = ["CACHE_FORMAT", "Engine", "Speaker", "Voice", "VoiceInfo", "all_voices", "cache_dir", "engine_names",
           "parse_command", "register", "resolve_voice"]
