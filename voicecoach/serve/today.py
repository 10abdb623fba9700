"""Today's plan as one episode: several prepared sessions joined into one session (steps renumbered, events moved)."""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass
class _Joined:
    """Several prepared sessions played one after another, as one session (Today)."""

    timeline: object
    parts: list

    def render(self, start: int, n: int):
        import numpy as np

        out = np.zeros(n, dtype=np.float32)
        offset = 0
        for session in self.parts:
            length = session.timeline.total_samples
            lo, hi = max(start, offset), min(start + n, offset + length)
            if lo < hi:
                out[lo - start:hi - start] = session.render(lo - offset, hi - lo)
            offset += length
        return out


def joined(sessions: list, title: str, routine_id: str) -> _Joined:
    """One session from several: steps and events moved to where each part starts, renumbered in order."""
    steps, events, offset, index = [], [], 0, 0
    for session in sessions:
        tl = session.timeline
        for step in tl.steps:
            steps.append(replace(step, index=index + step.index, announce_sample=step.announce_sample + offset,
                                 start_sample=step.start_sample + offset, end_sample=step.end_sample + offset))
        events.extend(replace(e, sample=e.sample + offset, step=None if e.step is None else e.step + index)
                      for e in tl.events)
        index += len(tl.steps)
        offset += tl.total_samples
    first = sessions[0].timeline
    timeline = replace(first, routine=routine_id, title=title, total_samples=offset, steps=tuple(steps),
                       events=tuple(events), background=None)
    return _Joined(timeline, sessions)
