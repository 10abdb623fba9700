"""Every exception voicecoach raises on purpose.

The library never prints and never exits; the CLI turns these into one line
on stderr and an exit code (1 for bad input, 3 for the environment).
"""
from __future__ import annotations

from pathlib import Path

from voicecoach.text import one_line


class VoicecoachError(Exception):
    """Base class: a problem the user can act on, shown as one line."""

    exit_code = 1


class InputError(VoicecoachError):
    """Bad input that is not a routine file (an option, a routine name)."""


class SettingError(InputError):
    """A value given for a setting cannot be used: `setting` names it, so a front end can name its own option.

    `value` is None when the setting is missing; `instead` is a (setting, value)
    that would do what was asked, for the front end to name in its own words.
    """

    def __init__(self, setting: str, value: str | None, problem: str, instead: tuple[str, str] | None = None):
        given = f"{setting} {value!r}" if value is not None else setting
        better = f"; use {instead[0]} {instead[1]!r} instead" if instead else ""
        super().__init__(f"{given}: {problem}{better}")
        self.setting, self.value, self.problem, self.instead = setting, value, problem, instead


class RoutineError(InputError):
    """A routine file is wrong at a known place: shown as FILE:LINE:COL: message."""

    def __init__(self, source: str | Path, line: int, col: int, message: str):
        self.source = str(source)
        self.line = line
        self.col = col
        # one line, always: an author's key or words may hold a newline
        self.message = one_line(message)
        super().__init__(f"{self.source}:{line}:{col}: {self.message}")


class EnvironmentProblem(VoicecoachError):
    """Something outside voicecoach is missing or broken (exit code 3)."""

    exit_code = 3


class SpeechEngineMissing(EnvironmentProblem):
    """The speech engine cannot be started; the message says what to install."""


class SpeechError(VoicecoachError):
    """The speech engine failed or hung on one phrase; the message names it."""

    exit_code = 3


class NoAudioDevice(EnvironmentProblem):
    """No sound server or audio device could be opened for live playback."""


class ExportError(VoicecoachError):
    """An export could not be written (disk full, bad folder); nothing partial is left."""


class NotReplaced(ExportError):
    """A file to be written exists and replacing it was not asked for (the `force` setting); `path` names it."""

    setting = "force"

    def __init__(self, path: str | Path):
        self.path = str(path)
        super().__init__(f"{self.path} exists already; choose another name or allow it to be replaced")


class RoutineProblems(RoutineError):
    """Every problem found in one pass over a routine file; it reads as the first of them.

    `problems` holds them all (possibly none, when the ones that stopped a value
    were already counted), each a RoutineError for its own FILE:LINE:COL line.
    """

    def __init__(self, problems: list[RoutineError]):
        self.problems = tuple(problems)
        first = self.problems[0] if self.problems else RoutineError("<routine>", 1, 1, "invalid routine")
        super().__init__(first.source, first.line, first.col, first.message)
