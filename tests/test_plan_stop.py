"""A plan stopped between two routines: the resume hint and the history, with a stand-in sink.

What is tested is what play_plan reports and records, not the sound: the sink
"plays" a routine the moment it starts, and opening the next stream is where the
Ctrl-C or the SIGTERM comes (the gap between two routines).
"""
from __future__ import annotations

import os
import signal

import pytest

from support.rules import build
from voicecoach import routines as rt
from voicecoach.cli.live import summary
from voicecoach.duration import clock
from voicecoach.player import Interrupted, LivePlay, Part


def routine(title: str, steps: int):
    body = "".join(f"  - name: Step {i + 1}\n    duration: 2s\n" for i in range(steps))
    return rt.load_text(f"title: {title}\nsafety: false\nsteps:\n{body}")


class DoneSink:
    """Plays everything in no time: a routine started is a routine finished."""

    def __init__(self):
        self.total = 0

    def start(self, source, total, rate, from_sample=0):
        self.total = total

    def position(self):
        return self.total

    def pause(self):
        pass

    def resume(self):
        pass

    def stop(self):
        pass

    def wait(self, timeout=None):
        return True

    def finished(self):
        return True


class GapPlay(LivePlay):
    """A LivePlay whose second stream opening is interrupted by `gap()`."""

    def __init__(self, gap):
        self.opened = 0
        self.gap = gap
        super().__init__(mpris=False, lock=False)

    def _open(self):
        self.opened += 1
        if self.opened == 2:
            self.gap()
        return DoneSink()


def ctrl_c():
    raise KeyboardInterrupt


def sigterm():
    os.kill(os.getpid(), signal.SIGTERM)  # noted by play_plan's handler before _open returns


@pytest.mark.parametrize("gap, signum", [(ctrl_c, signal.SIGINT), (sigterm, signal.SIGTERM)],
                         ids=["ctrl-c", "sigterm"])
def test_a_stop_between_two_routines_resumes_with_the_next_and_records_only_the_first(gap, signum):
    daily, psoas = routine("Daily", 3), routine("Psoas release", 2)
    recorded = []
    parts = [Part(build(r), lambda *a: None, lambda outcome, title=r.title: recorded.append((title, outcome)))
             for r in (daily, psoas)]
    with GapPlay(gap) as live:
        with pytest.raises(Interrupted) as stop:
            live.play_plan(parts)
    plan = stop.value.outcome
    assert plan.signal == signum
    assert [(title, o.finished) for title, o in recorded] == [("Daily", True)]  # the second never started
    text = summary(plan, parts, ["daily", "psoas-release"], "Stopped")
    first = parts[0].timeline
    assert text.splitlines() == [
        f"Stopped after {clock(first.total_samples / first.sample_rate)} of "
        f"{clock(sum(p.timeline.total_samples for p in parts) / first.sample_rate)}, "
        "before routine 2 of 2 (Psoas release).",
        "Continue with: voicecoach play psoas-release"]
