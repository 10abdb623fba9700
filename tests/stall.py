"""Tell a stalled test machine from a pacing fault in a recorded live play.

A live-play test records the sound server and compares where each sound
landed with the plan (after aligning the first). A player that keeps time
wrongly shows as drift or scattered errors. But when the whole test machine
stops running the player for longer than the device buffer (seen on a shared
two-core machine, about once in an hour of playing), the server plays
silence until the samples arrive: every sound after that moment is late by
the same amount and every interval not spanning it is exact. That shape is
the machine's, not the player's, so a test may play once more when it sees
it, and only then; it says so, with the size and place of the gap.
"""
from __future__ import annotations

import warnings


def one_stall(offsets: list[int], tolerance: int) -> tuple[int, int] | None:
    """Return (index, delay) when ``offsets`` show exactly one late jump, else None.

    ``offsets[i]`` is how far sound ``i`` landed from its plan, in samples,
    after aligning the first (so ``offsets[0] == 0``). One stall means: the
    offsets before some index agree within ``tolerance``, the ones from it on
    agree within ``tolerance`` too, and they are later by more than that.
    """
    for i in range(1, len(offsets)):
        before, after = offsets[:i], offsets[i:]
        delay = after[0] - before[-1]
        if (delay > tolerance and max(before) - min(before) <= tolerance
                and max(after) - min(after) <= tolerance):
            return i, delay
    return None


def replay_once(offsets: list[int], tolerance: int, rate: int, attempt: int, what: str) -> bool:
    """True when a first attempt failed only by one stall: warn, and let the test play again."""
    if attempt > 0 or max(abs(x) for x in offsets) <= tolerance:
        return False
    stall = one_stall(offsets, tolerance)
    if stall is None:
        return False
    index, delay = stall
    warnings.warn(f"{what}: the test machine stalled the stream ({1000 * delay / rate:.0f} ms of silence "
                  f"before sound {index + 1} of {len(offsets)}); playing once more", stacklevel=2)
    return True
