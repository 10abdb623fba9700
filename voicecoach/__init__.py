"""voicecoach: voice-guided audio routines, paced exact to the sample.

The library API (what the CLI, the tests and bench/ use)::

    import voicecoach as vc

    routine = vc.load("morning")                      # a built-in id, a routine name or a path
    settings = vc.resolve_settings(vc.load_config(), {"rate": 150}, routine)  # default < config < routine < yours
    settings.rate, settings.origin("rate")            # (150, 'rate'); vc.load_config() is the only file read
    session = vc.prepare(routine, vc.options_for(settings), settings.to_voice())
    session = vc.prepare(routine)                     # speech synthesized, timeline compiled (defaults only)
    session = vc.prepare(routine, vc.options(background=vc.bed_choice("rain")))  # with a bed under the voice
    vc.export_session(session, "m.mp3")                # one audio file, with chapters
    with vc.LivePlay() as live:                       # the sound device, opened at once
        live.play(session.timeline, session.render, on_end=vc.recorder(routine, session.timeline))
        live.play_plan([vc.Part(s.timeline, s.render) for s in sessions])  # a plan: q ends all of it
    vc.todays_plan(datetime.date.today())             # the routine ids the weekly schedule names
    vc.play(["morning", "daily"], settings)           # what `voicecoach play` does: levels, history, one plan

Names are imported on first use, so `import voicecoach` stays fast.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    "load": ("voicecoach.routines", "load"),
    "load_text": ("voicecoach.routines", "load_text"),
    "Routine": ("voicecoach.routines", "Routine"),
    "expand": ("voicecoach.routines", "expand"),
    "timed_seconds": ("voicecoach.routines", "timed_seconds"),
    "Voice": ("voicecoach.speech", "Voice"),
    "load_config": ("voicecoach.config", "load_config"),
    "resolve_settings": ("voicecoach.settings", "resolve"),
    "Settings": ("voicecoach.settings", "Settings"),
    "voice_for": ("voicecoach.session", "voice_for"),
    "options_for": ("voicecoach.session", "options_for"),
    "options": ("voicecoach.session", "options"),
    "bed_choice": ("voicecoach.session", "bed_choice"),
    "prepare": ("voicecoach.session", "prepare_session"),
    "estimated_timeline": ("voicecoach.session", "estimated_timeline"),
    "Session": ("voicecoach.session", "Session"),
    "export_session": ("voicecoach.export", "export_session"),
    "export_routine": ("voicecoach.export", "export_routine"),
    "export_all": ("voicecoach.export", "export_all"),
    "LivePlay": ("voicecoach.player", "LivePlay"),
    "Outcome": ("voicecoach.player", "Outcome"),
    "Part": ("voicecoach.player", "Part"),
    "PlanOutcome": ("voicecoach.player", "PlanOutcome"),
    "Interrupted": ("voicecoach.player", "Interrupted"),
    "recorder": ("voicecoach.practice.history", "recorder"),
    "play": ("voicecoach.practice.live", "play"),
    "DeskMode": ("voicecoach.practice.desk", "DeskMode"),
    "open_phone": ("voicecoach.serve.phone", "open_phone"),
    "serve_phone": ("voicecoach.serve.phone", "serve_phone"),
    "todays_plan": ("voicecoach.practice.plan", "todays_plan"),
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str):
    try:
        module, attr = _API[name]
    except KeyError:
        raise AttributeError(f"module 'voicecoach' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
