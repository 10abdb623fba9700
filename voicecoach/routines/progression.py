"""Safe progression, from the guide's framework: start short and light, grow towards 2 minutes.

A routine with `progression: {from: 30s, to: 2m, step: 15s, every: 3}` starts each
timed step at `from`, and after every `every` finished sessions moves one level
up, adding `step`, until it reaches `to`. The level is derived from history
(side effects stay in history.py); this module only does the arithmetic.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

PROGRESSION_KEYS = ("from", "to", "step", "every")


@dataclass(frozen=True)
class Progression:
    start: float  # seconds per timed step at level 1
    target: float  # seconds per timed step at the top level
    step: float = 15.0  # seconds added per level
    every: int = 3  # finished sessions needed to move up one level

    @property
    def levels(self) -> int:
        """How many levels there are, from `start` to `target` inclusive."""
        return 1 + math.ceil((self.target - self.start) / self.step - 1e-9)

    def seconds(self, level: int) -> float:
        """Seconds per timed step at `level` (1-based; clamped to the valid range)."""
        level = min(max(level, 1), self.levels)
        return min(self.target, self.start + (level - 1) * self.step)

    def level_after(self, finished: int) -> int:
        """The level a person is at after `finished` completed sessions."""
        return min(self.levels, 1 + finished // self.every)


def parse_progression(builder, node) -> Progression:
    """Read the `progression` mapping of a routine (errors at their line, via the builder)."""
    fields = builder.mapping(node, "a progression like {from: 30s, to: 2m, step: 15s, every: 3}")
    builder.keys(node, PROGRESSION_KEYS, "progression")
    for key in ("from", "to"):
        if key not in fields:
            raise builder.fail(node, f"missing '{key}' in progression; expected e.g. {{from: 30s, to: 2m}}")
    start = builder.seconds(fields["from"], "progression 'from'")
    target = builder.seconds(fields["to"], "progression 'to'")
    if target < start:
        raise builder.fail(fields["to"], f"progression 'to' ({target:g} s) is shorter than 'from' ({start:g} s)")
    step = builder.seconds(fields["step"], "progression 'step'") if "step" in fields else 15.0
    every = builder.whole(fields["every"], "progression 'every'", 1) if "every" in fields else 3
    return Progression(start, target, step, every)


def at_level(routine, level: int):
    """The routine with every timed step (not rests) set to the level's duration."""
    prog = routine.progression
    if prog is None:
        return routine
    seconds = prog.seconds(level)
    return replace(routine, steps=tuple(replace(s, duration=seconds) for s in routine.steps))
