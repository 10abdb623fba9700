"""Live play: one continuous stream to a sink, with keys, MPRIS and a display around it.

One module a noun: the play loop (loop.py), how a play ended (outcome.py), the
panel's words (panel.py), the terminal (terminal.py), the stop signals
(signals.py), the one-session lock (lock.py), and LivePlay (live.py), the one
live-play path, plans of several routines included.
"""
from .live import LivePlay, Part
from .lock import LOCK_FILE, SessionBusy, SessionLock, lock_path
from .loop import KEYS, POLL, Player
from .outcome import Interrupted, Outcome, PlanOutcome
from .panel import Place, next_step, status, step_at, timed_done
from .signals import STOP_SIGNALS, StopSignals
from .terminal import keyboard, quiet_stderr

__all__ = ["KEYS", "LOCK_FILE", "POLL", "STOP_SIGNALS", "Interrupted", "LivePlay", "Outcome", "Part", "Place",
           "PlanOutcome", "Player", "SessionBusy", "SessionLock", "StopSignals", "keyboard", "lock_path",
           "next_step", "quiet_stderr", "status", "step_at", "timed_done"]
