"""The rule that lets a live-play test replay once: one late jump, nothing else."""
from __future__ import annotations

import pytest

from stall import one_stall, replay_once


def test_a_single_late_jump_is_a_stall():
    assert one_stall([0, 1, 0, 440, 441, 440], 2) == (3, 440)


@pytest.mark.parametrize("offsets", [
    [0, 0, 0, 0],  # on time
    [0, 10, 20, 30, 40],  # drift is the player's fault
    [0, 0, 440, 440, 900],  # two jumps
    [0, 0, -440, -440],  # early: samples lost, not a stall
    [0, 50, 0, 0],  # one sound misplaced
])
def test_anything_else_is_not(offsets):
    assert one_stall(offsets, 2) is None


def test_replay_happens_once_and_says_why():
    with pytest.warns(UserWarning, match=r"stalled the stream \(20 ms of silence before sound 3 of 4\)"):
        assert replay_once([0, 0, 441, 441], 2, 22050, 0, "play")
    assert not replay_once([0, 0, 441, 441], 2, 22050, 1, "play")
    assert not replay_once([0, 1, 0, 1], 2, 22050, 0, "play")
