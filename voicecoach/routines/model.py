"""The routine model: what a loaded routine is, and its steps in playing order.

Pure values: no file, YAML or sound is touched here, so the timing core can use it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import RoutineError

ROUTINE_KEYS = ("title", "description", "intro", "outro", "safety", "voice", "countdown", "chimes", "steps",
                "progression", "background")
STEP_KEYS = ("name", "duration", "say", "prep", "cues", "halfway", "breathe", "countdown", "sides", "repeat",
             "rest")
CUE_KEYS = ("at", "say", "sound")
BREATHE_KEYS = ("in", "hold", "out", "hold_out", "spoken")
VOICE_KEYS = ("voice", "rate", "volume")
CHIME_ROLES = ("start", "end", "halfway", "complete", "tick", "breath-in", "breath-out", "rest")
DEFAULT_PREP = 2.0
DEFAULT_COUNTDOWN = 3
DEFAULT_SPOKEN_BREATHS = 2
# Bounds that keep a typo from compiling for hours; far beyond any real routine.
MAX_COUNTDOWN = 60
MAX_REPEAT = 1000
MAX_TIMED_HOURS = 24
MIN_BREATH_PHASE = 0.5  # seconds: shorter is no breath anyone can follow


@dataclass(frozen=True)
class Where:
    """A place in a routine file, to point errors at."""

    source: str
    line: int
    col: int

    def error(self, message: str) -> RoutineError:
        return RoutineError(self.source, self.line, self.col, message)


@dataclass(frozen=True)
class VoiceSettings:
    voice: str | None = None
    rate: int | None = None
    volume: float | None = None


@dataclass(frozen=True)
class Cue:
    """Something said or played inside a timed interval, at an offset."""

    anchor: str  # "start", "end" or "share"
    offset: float  # seconds, or a fraction for "share"
    say: str | None
    sound: str | None
    where: Where


@dataclass(frozen=True)
class Breathe:
    inhale: float
    exhale: float
    hold: float = 0.0
    hold_out: float = 0.0
    spoken: int = DEFAULT_SPOKEN_BREATHS
    where: Where | None = None

    @property
    def cycle(self) -> float:
        return self.inhale + self.hold + self.exhale + self.hold_out


@dataclass(frozen=True)
class Step:
    name: str
    duration: float
    where: Where
    say: str | None = None
    prep: float = DEFAULT_PREP
    cues: tuple[Cue, ...] = ()
    halfway: bool | str = False
    breathe: Breathe | None = None
    countdown: int | None = None
    sides: tuple[str, ...] = ()
    repeat: int = 1
    rest: float = 0.0
    folder: Path | None = None  # where the step's own sound files are looked up
    duration_where: Where | None = None  # where `duration` and `rest` were written, for errors about them
    rest_where: Where | None = None


@dataclass(frozen=True)
class Routine:
    id: str
    title: str
    steps: tuple[Step, ...]
    where: Where
    description: str | None = None
    intro: str | None = None
    outro: str | None = None
    safety: bool = True
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    countdown: int = DEFAULT_COUNTDOWN
    chimes: tuple[tuple[str, str], ...] = ()
    source: Path | None = None
    progression: object | None = None
    background: str | None = None  # a built-in bed name or a file in the routine's folder
    background_where: Where | None = None  # where it was named, for errors found when it is decoded

    @property
    def folder(self) -> Path | None:
        return self.source.parent if self.source else None


@dataclass(frozen=True)
class Expanded:
    """One step as it will be timed: a side, one repetition, or a rest between repetitions."""

    step: Step
    side: str | None
    repetition: int
    repetitions: int
    rest: bool = False

    @property
    def name(self) -> str:
        return "Rest" if self.rest else self.step.name

    @property
    def duration(self) -> float:
        return self.step.rest if self.rest else self.step.duration

    @property
    def title(self) -> str:
        title = f"{self.name} ({self.side})" if self.side else self.name
        if self.repetitions > 1 and not self.rest:
            title += f" {self.repetition}/{self.repetitions}"
        return title


def expand(routine: Routine) -> list[Expanded]:
    """The steps in playing order: one per side, repetitions unrolled, rests between them."""
    out: list[Expanded] = []
    for step in routine.steps:
        for side in step.sides or (None,):
            for rep in range(1, step.repeat + 1):
                if rep > 1 and step.rest > 0:
                    out.append(Expanded(step, side, rep - 1, step.repeat, rest=True))
                out.append(Expanded(step, side, rep, step.repeat))
    return out


def timed_seconds(routine: Routine) -> float:
    """The routine's timed work (holds and rests), without announcements."""
    return sum(e.duration for e in expand(routine))


def pick_step(routine: Routine, text: str) -> int:
    """The expanded step to start `from`: a 1-based step number, or the start of a step's title (case
    ignored), as its index; SettingError("from", ...) otherwise."""
    from ..errors import SettingError

    titles = [e.title for e in expand(routine)]
    if text.isdigit():
        if 1 <= int(text) <= len(titles):
            return int(text) - 1
        raise SettingError("from", text, f"this routine has steps 1 to {len(titles)}")
    for i, title in enumerate(titles):
        if title.lower().startswith(text.lower()):
            return i
    raise SettingError("from", text, "no step starts with that; steps: " + "; ".join(titles))
