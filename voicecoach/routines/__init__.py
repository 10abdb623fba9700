"""Routines: the model, finding them by name, the located-YAML loader and its validator, the schema, progression, the built-ins."""
from .loader import load, load_file, load_text
from .names import builtin_ids, find, library_dir, near_misses, routine_ids, user_dir, user_routines
from .validator import Validator
from .model import (CHIME_ROLES, DEFAULT_COUNTDOWN, DEFAULT_SPOKEN_BREATHS, Breathe, Cue, Expanded, Routine, Step, VoiceSettings, Where, expand, pick_step,
                    timed_seconds)

__all__ = ["CHIME_ROLES", "DEFAULT_COUNTDOWN", "DEFAULT_SPOKEN_BREATHS", "Breathe", "Cue", "Expanded", "Routine", "Step", "Validator", "VoiceSettings", "Where", "builtin_ids",
           "expand", "find", "library_dir", "load", "load_file", "load_text", "near_misses", "pick_step", "routine_ids", "timed_seconds", "user_dir", "user_routines"]
