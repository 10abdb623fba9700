"""The microphone check (`voicecoach listen-test`): every command word heard, with its score, nothing else.

It runs the capture and the spotter the live listener runs, without a session:
no echo canceller, no gate. Nothing is recorded: each block is spotted and dropped.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from .spotter import RATE, Heard

READ_S = 0.02


def listen_test(on_word: Callable[[Heard], None], mic: str | None = None,
                until: Callable[[], bool] = lambda: False) -> None:
    """Call `on_word(heard)` for each command word heard on `mic` until `until()` or Ctrl-C.

    Raises errors.EnvironmentProblem when there is nothing to listen on.
    """
    from ..errors import EnvironmentProblem
    from .capture import Capture, MicrophoneGone
    from .spotter import Spotter

    try:
        capture = Capture(mic)
    except MicrophoneGone as exc:
        raise EnvironmentProblem(str(exc)) from None
    try:
        spotter = Spotter()
        while not until():
            time.sleep(READ_S)
            for heard in spotter.feed(capture.read()):  # an empty read (nothing new) finds nothing
                on_word(heard)
    except MicrophoneGone as exc:
        raise EnvironmentProblem(str(exc)) from None
    finally:
        capture.close()


def describe(heard: Heard) -> str:
    """'  3.21 s  "pause"  score 1e-12  alone' for one word heard."""
    alone = "alone" if heard.alone else "in speech (would not act)"
    return f'{heard.end / RATE:7.2f} s  "{heard.word}"  score {heard.score:g}  {alone}'
