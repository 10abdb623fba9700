"""The JSON Schema of the routine format, for editors (completion and hover help).

Hand-kept beside routine.py; tests check that it names exactly the keys the
loader accepts, so the two cannot drift apart silently.
"""
from __future__ import annotations

from .model import BREATHE_KEYS, CHIME_ROLES, CUE_KEYS, ROUTINE_KEYS, STEP_KEYS, VOICE_KEYS

_DURATION = {
    "description": "seconds (30, 2.5) or '90s', '2m', '1m30s', '1.5m', '1:30'",
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?|\d+:[0-5]\d(\.\d+)?|(\d+(\.\d+)?h)?(\d+(\.\d+)?m)?(\d+(\.\d+)?s)?)\s*$"},
    ],
}
_OFFSET = {
    "description": "offset from the interval start ('20s'), from its end ('-15s'), or a share ('50%')",
    "anyOf": [{"type": "number"}, {"type": "string"}],
}
_TEXT = {"type": "string", "minLength": 1}


def _object(properties: dict, required: list[str], keys: tuple[str, ...]) -> dict:
    assert set(properties) == set(keys), (sorted(properties), sorted(keys))  # kept in step with routine.py
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def schema() -> dict:
    """The JSON Schema (draft 2020-12) of a routine file."""
    cue = _object({"at": _OFFSET, "say": {**_TEXT, "description": "words spoken at that moment"},
                   "sound": {**_TEXT, "description": "a built-in sound name or a path next to the routine"}},
                  ["at"], CUE_KEYS)
    breathe = _object({
        "in": {**_DURATION, "description": "breathing in"},
        "hold": {**_DURATION, "description": "hold after breathing in"},
        "out": {**_DURATION, "description": "breathing out"},
        "hold_out": {**_DURATION, "description": "hold after breathing out"},
        "spoken": {"type": "integer", "minimum": 0, "description": "cycles spoken in words before tones (default 2)"},
    }, ["in", "out"], BREATHE_KEYS)
    step = _object({
        "name": {**_TEXT, "description": "announced at the step's start"},
        "duration": {**_DURATION, "description": "the timed interval, exact to the sample"},
        "say": {**_TEXT, "description": "spoken before the timer starts; {side}, {duration}, {next} are filled in"},
        "prep": {"description": "silence after the announcement to get into position (default 2s)",
                 "anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}]},
        "cues": {"type": "array", "items": cue, "description": "things said or played inside the interval"},
        "halfway": {"description": "true for a halfway chime, or words spoken at exactly half",
                    "anyOf": [{"type": "boolean"}, _TEXT]},
        "breathe": breathe,
        "countdown": {"type": "integer", "minimum": 0, "description": "ticks in the last N seconds"},
        "sides": {"type": "array", "items": _TEXT, "minItems": 1, "description": "one step per side, in order"},
        "repeat": {"type": "integer", "minimum": 1, "description": "repeat the timed interval N times"},
        "rest": {**_DURATION, "description": "timed rest between repetitions"},
    }, ["name", "duration"], STEP_KEYS)
    include = {"type": "object", "properties": {"include": {**_TEXT, "description": "a built-in id or a path"}},
               "required": ["include"], "additionalProperties": False}
    voice = _object({"voice": _TEXT, "rate": {"type": "integer", "minimum": 40},
                     "volume": {"type": "number", "minimum": 0, "maximum": 1}}, [], VOICE_KEYS)
    chimes = _object({role: _TEXT for role in CHIME_ROLES}, [], CHIME_ROLES)
    progression = {"type": "object", "additionalProperties": False, "required": ["from", "to"],
                   "description": "start each timed step at 'from' and grow by 'step' every 'every' sessions",
                   "properties": {"from": _DURATION, "to": _DURATION, "step": _DURATION,
                                  "every": {"type": "integer", "minimum": 1}}}
    routine = _object({
        "title": _TEXT, "description": _TEXT,
        "intro": {**_TEXT, "description": "spoken first"}, "outro": {**_TEXT, "description": "spoken last"},
        "safety": {"type": "boolean", "description": "speak the short red-flag reminder (default true)"},
        "voice": voice,
        "countdown": {"type": "integer", "minimum": 0, "description": "default ticks before each interval ends"},
        "chimes": chimes,
        "steps": {"type": "array", "minItems": 1, "items": {"anyOf": [step, include]}},
        "progression": progression,
        "background": {**_TEXT, "description": "a bed under the voice, ducked under speech: rain, ocean, pad, "
                                               "or an audio file in the routine's folder"},
    }, ["title", "steps"], ROUTINE_KEYS)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://voicecoach.invalid/routine-v1.schema.json",
            "title": "voicecoach routine (format v1)", **routine}
