"""How a live play ended: one routine's Outcome, a plan's PlanOutcome, and the Interrupted that carries either."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Outcome:
    """How a play ended: samples heard, whether it reached the end, and where it stopped.

    `signal` is the signal that ended it (SIGINT for Ctrl-C, SIGHUP, SIGTERM),
    `started` when its sound began (local time with its offset), `warnings` what
    went wrong after it ended without stopping anything (the history not written).
    """

    position: int
    total: int
    finished: bool
    signal: int | None = None
    started: datetime | None = None
    warnings: tuple[str, ...] = ()
    # the session's timeline as it played (a growing one's final state), for the history
    timeline: object | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class PlanOutcome:
    """How a plan of routines ended: one Outcome per routine that played (the last may be unfinished).

    `position` and `total` are on the plan's clock: the planned lengths of the
    routines before the last one played, plus how far that one got.
    """

    outcomes: tuple[Outcome, ...]
    totals: tuple[int, ...]  # every routine's length in samples, played or not
    signal: int | None = None
    warnings: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        return (self.signal is None and len(self.outcomes) == len(self.totals)
                and all(o.finished for o in self.outcomes))

    @property
    def part(self) -> int:
        """The routine (0-based) the plan ended in."""
        return max(0, len(self.outcomes) - 1)

    @property
    def position(self) -> int:
        last = self.outcomes[-1].position if self.outcomes else 0
        return sum(self.totals[:self.part]) + last

    @property
    def total(self) -> int:
        return sum(self.totals)



class Interrupted(KeyboardInterrupt):
    """Ctrl-C, SIGHUP or SIGTERM during play, after the sound was stopped.

    `outcome` says how far it got (an Outcome, or a PlanOutcome for a plan);
    its `signal` says which signal it was.
    """

    def __init__(self, outcome):
        super().__init__()
        self.outcome = outcome

