"""What the coach says and plays for a routine, apart from when: the wording of every phrase.

Pure: the timeline places these phrases and sounds on the sample clock; the
session asks for them to know what to synthesize and which files to read.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .duration import spoken

if TYPE_CHECKING:
    from .timeline import Options

# Which built-in sound marks which moment, unless a routine's `chimes:` says otherwise.
DEFAULT_CHIMES: dict[str, str] = {
    "start": "bell",
    "end": "bell-double",
    "halfway": "halfway",
    "complete": "complete",
    "tick": "tick",
    "breath-in": "breath-in",
    "breath-out": "breath-out",
    "rest": "rest",
    "prompt": "prompt",
}

BREATH_WORDS = {"in": "Breathe in", "hold": "Hold", "out": "and out", "hold_out": "Hold"}
BREATH_TONES = {"in": "breath-in", "out": "breath-out"}
BREATHE_WITH_CHIME = "Start breathing in at the chime."
GET_READY = "Get ready. Find your position."
DEFAULT_OUTRO = "Session complete. Well done."
END_OF_SESSION = "the end of the session"


def fill(text: str, exp, nxt) -> str:
    # str.replace, not str.format: an author's stray brace must not become an error
    side = exp.side or ""
    return (text.replace("{side}", side)
            .replace("{duration}", spoken(exp.duration))
            .replace("{next}", next_title(nxt)))


def next_title(nxt) -> str:
    if nxt is None:
        return END_OF_SESSION
    return f"{nxt.name}, {nxt.side} side" if nxt.side else nxt.name


def announcement(exp, nxt) -> list[str]:
    if exp.rest:  # only when a session starts at a rest (play --from)
        return [f"Rest. {spoken(exp.duration)}."]
    head = f"{exp.step.name}, {exp.side} side." if exp.side else f"{exp.step.name}."
    if exp.repetitions > 1:
        head += f" {exp.repetitions} rounds of {spoken(exp.step.duration)}."
    else:
        head += f" {spoken(exp.duration)}."
    said = [head] + ([fill(exp.step.say, exp, nxt)] if exp.step.say else [])
    if exp.step.breathe:
        said.append(BREATHE_WITH_CHIME)  # the first inhale starts with the chime, which speech must not cover
    return said


def rest_words(nxt) -> str:
    if nxt is None:
        return "Rest."
    round_ = f"round {nxt.repetition} of {nxt.repetitions}" if nxt.repetitions > 1 else next_title(nxt)
    return f"Rest. Next, {round_}."


def chimes(routine) -> dict[str, str]:
    return {**DEFAULT_CHIMES, **dict(routine.chimes)}


def continues(prev, exp) -> bool:
    """A rest or a later repetition starts exactly where the interval before it ended."""
    return prev is not None and prev.step is exp.step and prev.side == exp.side and (
        exp.rest or exp.repetition > 1)


def phrases(routine, options: "Options") -> list[str]:
    """Every text the timeline may speak, in order of first use (what to synthesize)."""
    from .routines.model import expand

    out: list[str] = []
    if options.lead_in > 0:
        out.append(GET_READY)
    steps = expand(routine)
    if options.start_step == 0:
        out += [t for t in (routine.intro, safety(routine, options)) if t]
    for i in range(options.start_step, len(steps)):
        exp, nxt = steps[i], steps[i + 1] if i + 1 < len(steps) else None
        prev = steps[i - 1] if i > options.start_step else None
        if not continues(prev, exp):
            out += announcement(exp, nxt)
        if exp.rest:
            out.append(rest_words(nxt))
            continue
        out += [fill(c.say, exp, nxt) for c in exp.step.cues if c.say]
        if isinstance(exp.step.halfway, str):
            out.append(fill(exp.step.halfway, exp, nxt))
        if exp.step.breathe:
            out += [BREATH_WORDS[p] for p in ("in", "hold", "out", "hold_out")
                    if getattr(exp.step.breathe, BREATH_FIELDS[p]) > 0]
    out.append(routine.outro or DEFAULT_OUTRO)
    return list(dict.fromkeys(out))


def sounds_needed(routine) -> list[str]:
    """Every sound name the timeline may play (chimes by role, and the cues' own sounds)."""
    from .routines.model import expand

    names = list(chimes(routine).values())
    names += [c.sound for e in expand(routine) for c in e.step.cues if c.sound]
    return list(dict.fromkeys(names))


def safety(routine, options: "Options") -> str | None:
    return options.safety_text if routine.safety and options.safety and options.safety_text else None


BREATH_FIELDS = {"in": "inhale", "hold": "hold", "out": "exhale", "hold_out": "hold_out"}
