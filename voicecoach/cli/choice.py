"""The voice and the background a rendering command asks for: what export and serve make of their shared options."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path



def sound_choice(cfg, voice: str | None, wpm: int | None, volume: float | None, tts_command: str | None,
                 engine: str | None, voice_model: Path | None, background: str | None, no_background: bool,
                 duck: float | None, background_level: float | None) -> tuple[Callable, object]:
    """(pick, bed): `pick(routine)` gives the Voice for a routine, `bed` the BedChoice, both from the loaded `cfg`.

    The engine is settled here, once (finding the best installed one looks for Piper):
    `pick` reads no file and prints nothing, so serve's worker threads may call it for
    every episode on every feed request. Each Voice carries the engine's note (why this
    engine); the caller says it, with `noted`, in its own thread.
    """
    from dataclasses import replace

    from ..session import bed_choice, voice_for

    model = str(voice_model) if voice_model else None
    first = voice_for(None, voice, wpm, volume, tts_command, cfg, engine=engine, voice_model=model)

    def pick(routine):
        chosen = voice_for(routine, voice, wpm, volume, tts_command, cfg, engine=first.engine, voice_model=model)
        return replace(chosen, note=first.note)

    return pick, bed_choice(background, no_background, duck, background_level, config=cfg)
