"""What the coach says and plays for a routine, apart from when: the wording of every phrase.

Pure: the timeline places these phrases and sounds on the sample clock (and
lists them for the session to synthesize); `turns` is the one walk of a routine
both use.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .duration import spoken

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


@dataclass(frozen=True)
class Turn:
    """One expanded step of a session and what is said in it, apart from when.

    The one walk of a routine: the timeline places these words on the clock and
    lists them for synthesis, so both always agree on what a step says.
    """

    index: int
    exp: Any  # routines.model.Expanded
    nxt: Any  # the step after it, None for the last
    continued: bool  # starts where the interval before it ended: no announcement, no start chime
    continues: bool  # the next step starts where this one ends

    @property
    def announcement(self) -> list[str]:
        return [] if self.continued else announcement(self.exp, self.nxt)

    @property
    def rest_words(self) -> str | None:
        return rest_words(self.nxt) if self.exp.rest else None

    @property
    def cues(self) -> list[tuple[Any, str | None]]:
        """Each cue with its words filled in (None for a sound); a rest is not the step: its cues stay out."""
        if self.exp.rest:
            return []
        return [(c, fill(c.say, self.exp, self.nxt) if c.say else None) for c in self.exp.step.cues]

    @property
    def halfway(self) -> str | bool | None:
        """The halfway words filled in, True for the halfway chime, None for nothing (or a rest)."""
        halfway = self.exp.step.halfway
        if self.exp.rest or not halfway:
            return None
        return fill(halfway, self.exp, self.nxt) if isinstance(halfway, str) else True

    @property
    def breathe(self):
        """The breathing pattern of the interval, None for none (or a rest)."""
        return None if self.exp.rest else self.exp.step.breathe

    def texts(self) -> list[str]:
        """Every text this step may speak, in order of first use."""
        out = self.announcement
        if self.exp.rest:
            return out + [self.rest_words]
        out += [text for _, text in self.cues if text is not None]  # filled words may be empty ("{side}" alone)
        if isinstance(self.halfway, str):
            out.append(self.halfway)
        if self.breathe:
            out += [BREATH_WORDS[p] for p in BREATH_FIELDS if getattr(self.breathe, BREATH_FIELDS[p]) > 0]
        return out


def turns(steps: list, start_step: int = 0) -> list[Turn]:
    """The session's turns from `start_step` of the expanded steps (routines.model.expand) to the end."""
    out = []
    for i in range(start_step, len(steps)):
        exp, nxt = steps[i], steps[i + 1] if i + 1 < len(steps) else None
        prev = steps[i - 1] if i > start_step else None
        out.append(Turn(i, exp, nxt, continues(prev, exp), nxt is not None and continues(exp, nxt)))
    return out


BREATH_FIELDS = {"in": "inhale", "hold": "hold", "out": "exhale", "hold_out": "hold_out"}
