"""The spoken commands: each word, the player command it gives, and its spotting thresholds.

The thresholds are pocketsphinx's keyword-spotting thresholds (the lower, the
more easily a word is heard). They were tuned on the tuning voices of
bench/listen.py (espeak-ng en-us and en-us+f3, flite slt and rms) against
sentences of the built-in routines; the figures in docs/performance.md are of
other voices. Short words need a high threshold: "back" and "stop" match
pieces of many words.
"""
from __future__ import annotations

# word -> the Player's command (player.KEYS values, plus "play" and "pause": never toggles the wrong way)
COMMANDS = {
    "pause": "pause",
    "continue": "play",
    "resume": "play",
    "next": "next",
    "repeat": "restart",
    "back": "restart",
    "stop": "quit",
}
# While the coach speaks only these are accepted (barge-in), and only at BARGE_FACTOR's stricter threshold.
BARGE_IN = ("pause", "stop")

THRESHOLDS = {
    "pause": 1e-20,
    "continue": 1e-25,
    "resume": 1e-16,
    "next": 1e-20,
    "repeat": 1e-20,
    "back": 1e-10,
    "stop": 1e-14,
}
# Words of the coach that the spotter takes for a barge-in word: while the coach says one of them,
# that command never acts (as if the coach said the command itself). "Press" was heard as
# "pause" through a live room, at the strict threshold, with the canceller on.
SOUNDS_LIKE = {
    "pause": ("press", "presses", "pose", "poses", "paws", "pass", "pauses", "paused", "cause", "because",
              "pulse", "pours", "prone", "push", "pushes"),
    "stop": ("step", "steps", "stops", "stopped", "top", "stomp", "drop", "shop", "slow", "still"),
}
BARGE_FACTOR = 1e12  # the barge-in spotter's threshold is this many times the quiet one (higher: stricter)


def keyword_list(words: dict[str, float]) -> str:
    """The keyword file pocketsphinx reads: one `word /threshold/` a line."""
    return "".join(f"{word} /{threshold:g}/\n" for word, threshold in words.items())
