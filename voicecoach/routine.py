"""The routine model: loading, validation and `include`, each error at its file:line:col."""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

from . import document
from .document import Node
from .duration import parse_duration, parse_offset, _seconds, DURATION_HELP
from .errors import InputError, RoutineError

ROUTINE_KEYS = ("title", "description", "intro", "outro", "safety", "voice", "countdown", "chimes", "steps",
                "progression")
STEP_KEYS = ("name", "duration", "say", "prep", "cues", "halfway", "breathe", "countdown", "sides", "repeat",
             "rest")
CUE_KEYS = ("at", "say", "sound")
BREATHE_KEYS = ("in", "hold", "out", "hold_out", "spoken")
VOICE_KEYS = ("voice", "rate", "volume")
CHIME_ROLES = ("start", "end", "halfway", "complete", "tick", "breath-in", "breath-out", "rest")
DEFAULT_PREP = 2.0
DEFAULT_COUNTDOWN = 3
DEFAULT_SPOKEN_BREATHS = 2
# Bounds that keep a typo from compiling for hours; far beyond any real routine.
MAX_COUNTDOWN = 60
MAX_REPEAT = 1000
MAX_TIMED_HOURS = 24
MIN_BREATH_PHASE = 0.5  # seconds: shorter is no breath anyone can follow


@dataclass(frozen=True)
class Where:
    """A place in a routine file, to point errors at."""

    source: str
    line: int
    col: int

    def error(self, message: str) -> RoutineError:
        return RoutineError(self.source, self.line, self.col, message)


@dataclass(frozen=True)
class VoiceSettings:
    voice: str | None = None
    rate: int | None = None
    volume: float | None = None


@dataclass(frozen=True)
class Cue:
    """Something said or played inside a timed interval, at an offset."""

    anchor: str  # "start", "end" or "share"
    offset: float  # seconds, or a fraction for "share"
    say: str | None
    sound: str | None
    where: Where


@dataclass(frozen=True)
class Breathe:
    inhale: float
    exhale: float
    hold: float = 0.0
    hold_out: float = 0.0
    spoken: int = DEFAULT_SPOKEN_BREATHS
    where: Where | None = None

    @property
    def cycle(self) -> float:
        return self.inhale + self.hold + self.exhale + self.hold_out


@dataclass(frozen=True)
class Step:
    name: str
    duration: float
    where: Where
    say: str | None = None
    prep: float = DEFAULT_PREP
    cues: tuple[Cue, ...] = ()
    halfway: bool | str = False
    breathe: Breathe | None = None
    countdown: int | None = None
    sides: tuple[str, ...] = ()
    repeat: int = 1
    rest: float = 0.0
    folder: Path | None = None  # where the step's own sound files are looked up


@dataclass(frozen=True)
class Routine:
    id: str
    title: str
    steps: tuple[Step, ...]
    where: Where
    description: str | None = None
    intro: str | None = None
    outro: str | None = None
    safety: bool = True
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    countdown: int = DEFAULT_COUNTDOWN
    chimes: tuple[tuple[str, str], ...] = ()
    source: Path | None = None
    progression: object | None = None

    @property
    def folder(self) -> Path | None:
        return self.source.parent if self.source else None


@dataclass(frozen=True)
class Expanded:
    """One step as it will be timed: a side, one repetition, or a rest between repetitions."""

    step: Step
    side: str | None
    repetition: int
    repetitions: int
    rest: bool = False

    @property
    def name(self) -> str:
        return "Rest" if self.rest else self.step.name

    @property
    def duration(self) -> float:
        return self.step.rest if self.rest else self.step.duration

    @property
    def title(self) -> str:
        title = f"{self.name} ({self.side})" if self.side else self.name
        if self.repetitions > 1 and not self.rest:
            title += f" {self.repetition}/{self.repetitions}"
        return title


def expand(routine: Routine) -> list[Expanded]:
    """The steps in playing order: one per side, repetitions unrolled, rests between them."""
    out: list[Expanded] = []
    for step in routine.steps:
        for side in step.sides or (None,):
            for rep in range(1, step.repeat + 1):
                if rep > 1 and step.rest > 0:
                    out.append(Expanded(step, side, rep - 1, step.repeat, rest=True))
                out.append(Expanded(step, side, rep, step.repeat))
    return out


def timed_seconds(routine: Routine) -> float:
    """The routine's timed work (holds and rests), without announcements."""
    return sum(e.duration for e in expand(routine))


# ---------------------------------------------------------------- finding routines

def library_dir() -> Path:
    return Path(str(resources.files("voicecoach.library")))


def builtin_ids() -> list[str]:
    return sorted(p.stem for p in library_dir().glob("*.yaml") if p.stem != "schedule")


def user_dir() -> Path:
    """The user's routine folder ($VOICECOACH_ROUTINES, else the platform config folder)."""
    override = os.environ.get("VOICECOACH_ROUTINES")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir("voicecoach")) / "routines"


def find(ref: str | Path) -> Path:
    """The file a ROUTINE argument names: a path, a built-in id, or a routine in the user's folder."""
    text = str(ref)
    path = Path(text).expanduser()
    if path.suffix in (".yaml", ".yml") or os.sep in text or "/" in text:
        return path
    builtin = library_dir() / f"{text}.yaml"
    if builtin.is_file() and text != "schedule":
        return builtin
    for suffix in (".yaml", ".yml"):
        mine = user_dir() / f"{text}{suffix}"
        if mine.is_file():
            return mine
    if path.is_file():
        return path
    choices = ", ".join(builtin_ids())
    hint = difflib.get_close_matches(text, builtin_ids(), n=1)
    near = f" (did you mean '{hint[0]}'?)" if hint else ""
    raise InputError(f"no routine '{text}'{near}: give a file path, a routine in {user_dir()}, or one of: {choices}")


def load(ref: str | Path) -> Routine:
    """Load a routine by built-in id, user routine name or path, with includes spliced in."""
    return load_file(find(ref))


def load_file(path: Path, _stack: tuple[str, ...] = ()) -> Routine:
    root = document.read(path)
    return _Builder(path, _stack).routine(root)


def load_text(text: str, source: str = "<routine>", folder: Path | None = None) -> Routine:
    """Load a routine from text (tests, stdin); includes resolve relative to `folder`."""
    root = document.parse(text.encode("utf-8"), source)
    fake = (folder or Path.cwd()) / source
    return _Builder(fake, (), source_name=source).routine(root)


class _Builder:
    def __init__(self, path: Path, stack: tuple[str, ...], source_name: str | None = None):
        self.path = path
        self.source = source_name or str(path)
        self.stack = stack + (str(path.resolve()),)

    def at(self, node: Node) -> Where:
        return Where(self.source, node.line, node.col)

    def fail(self, node: Node, message: str) -> RoutineError:
        return self.at(node).error(message)

    def key_fail(self, mapping: Node, key: str, message: str) -> RoutineError:
        line, col = mapping.keys.get(key, (mapping.line, mapping.col))
        return RoutineError(self.source, line, col, message)

    def check_keys(self, mapping: Node, allowed: tuple[str, ...], what: str) -> None:
        for key in mapping.value:
            if key not in allowed:
                near = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean '{near[0]}'? " if near else ""
                raise self.key_fail(mapping, key, f"unknown key '{key}' in {what}; {hint}expected one of: "
                                    + ", ".join(allowed))

    def mapping(self, node: Node, what: str) -> dict[str, Node]:
        if not isinstance(node.value, dict):
            raise self.fail(node, f"expected {what} (a mapping of key: value), found {document.describe(node.value)}")
        return node.value

    def text(self, node: Node, what: str) -> str:
        if isinstance(node.value, bool) or not isinstance(node.value, (str, int, float)):
            raise self.fail(node, f"expected {what} as text, found {document.describe(node.value)}")
        text = str(node.value).strip()
        if not text:
            raise self.fail(node, f"expected {what} as text, found only blank space")
        if "\0" in text:
            raise self.fail(node, f"expected {what} as text, found a NUL character in it")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a "\ud800" escape: no file name, no speech engine takes it
            raise self.fail(node, f"expected {what} as text, found an escape that is not a character") from None
        return text

    def flag(self, node: Node, what: str) -> bool:
        if not isinstance(node.value, bool):
            raise self.fail(node, f"expected true or false for {what}, found {document.describe(node.value)}")
        return node.value

    def whole(self, node: Node, what: str, low: int, high: int = 10_000) -> int:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            found = document.describe(value) if not isinstance(value, int) or abs(value) < 10**12 else "a huge number"
            raise self.fail(node, f"expected a whole number from {low} to {high} for {what}, found {found}")
        return value

    def countdown(self, node: Node) -> int:
        return self.whole(node, "countdown (ticks in the last seconds)", 0, MAX_COUNTDOWN)

    def volume(self, node: Node) -> float:
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise self.fail(node, f"expected a volume from 0 to 1, found {v!r}")
        return float(v)

    def seconds(self, node: Node, what: str, zero_ok: bool = False) -> float:
        if zero_ok:
            value = _seconds(node.value)
            if value is None or value < 0:
                raise self.fail(node, f"{what}: expected {DURATION_HELP}, found {node.value!r}")
            return value
        try:
            return parse_duration(node.value)
        except ValueError as exc:
            raise self.fail(node, f"{what}: {exc}") from None

    # -- the routine ---------------------------------------------------------------
    def routine(self, root: Node) -> Routine:
        fields = self.mapping(root, "a routine")
        self.check_keys(root, ROUTINE_KEYS, "the routine")
        if "title" not in fields:
            raise self.fail(root, "missing 'title': expected the routine's title, e.g. 'title: Morning routine'")
        if "steps" not in fields:
            raise self.fail(root, "missing 'steps': expected a list of steps")
        opt = {k: self.text(fields[k], k) for k in ("description", "intro", "outro") if k in fields}
        voice = self.voice(fields["voice"]) if "voice" in fields else VoiceSettings()
        routine = Routine(
            id=self.path.stem,  # a built-in's id and a user routine's name alike
            title=self.text(fields["title"], "the title"),
            steps=self.steps(fields["steps"]),
            where=self.at(root),
            safety=self.flag(fields["safety"], "safety") if "safety" in fields else True,
            voice=voice,
            countdown=self.countdown(fields["countdown"]) if "countdown" in fields else DEFAULT_COUNTDOWN,
            chimes=self.chimes(fields["chimes"]) if "chimes" in fields else (),
            source=self.path,
            progression=self.progression(fields["progression"]) if "progression" in fields else None,
            **opt,
        )
        if timed_seconds(routine) > MAX_TIMED_HOURS * 3600:
            raise self.fail(root, f"the routine's timed work adds up to more than {MAX_TIMED_HOURS} hours; "
                                  "expected a session a person can do")
        return routine

    def voice(self, node: Node) -> VoiceSettings:
        fields = self.mapping(node, "voice settings")
        self.check_keys(node, VOICE_KEYS, "voice")
        rate = self.whole(fields["rate"], "the speaking rate (words per minute)", 40) if "rate" in fields else None
        volume = self.volume(fields["volume"]) if "volume" in fields else None
        name = self.text(fields["voice"], "the voice") if "voice" in fields else None
        return VoiceSettings(voice=name, rate=rate, volume=volume)

    def chimes(self, node: Node) -> tuple[tuple[str, str], ...]:
        fields = self.mapping(node, "chimes")
        self.check_keys(node, CHIME_ROLES, "chimes")
        return tuple((role, self.sound(value, f"the {role} chime")) for role, value in fields.items())

    def sound(self, node: Node, what: str) -> str:
        name = self.text(node, what)
        from . import sounds  # sounds reads files; only needed when a routine names one

        try:
            sounds.resolve(name, self.path.parent)
        except InputError as exc:
            raise self.fail(node, str(exc)) from None
        return name

    def progression(self, node: Node) -> object:
        from .progression import parse_progression

        return parse_progression(self, node)

    # -- steps -------------------------------------------------------------------
    def steps(self, node: Node) -> tuple[Step, ...]:
        if not isinstance(node.value, list) or not node.value:
            found = "an empty list" if node.value == [] else document.describe(node.value)
            raise self.fail(node, f"expected a list of at least one step, found {found}")
        out: list[Step] = []
        for item in node.value:
            fields = self.mapping(item, "a step")
            if "include" in fields:
                out.extend(self.include(item))
            else:
                out.append(self.step(item))
        return tuple(out)

    def include(self, node: Node) -> tuple[Step, ...]:
        fields = node.value
        if len(fields) > 1:
            other = next(k for k in fields if k != "include")
            raise self.key_fail(node, other, f"'include' stands alone in its step; found '{other}' beside it")
        ref_node = fields["include"]
        ref = self.text(ref_node, "the routine to include (a built-in id or a relative path)")
        if ref.endswith((".yaml", ".yml")) or "/" in ref:
            target = self.path.parent / ref
        else:
            target = library_dir() / f"{ref}.yaml"
            if not target.is_file():
                choices = ", ".join(builtin_ids())
                raise self.fail(ref_node, f"no built-in routine '{ref}' to include; expected a path ending in "
                                          f".yaml or one of: {choices}")
        key = str(target.resolve())
        if key in self.stack:
            names = [Path(s).name for s in self.stack[self.stack.index(key):]] + [target.name]
            raise self.fail(ref_node, "include cycle: " + " -> ".join(names))
        if not target.is_file():
            raise self.fail(ref_node, f"cannot include '{ref}': no such file {target}")
        return load_file(target, self.stack).steps

    def step(self, node: Node) -> Step:
        fields = node.value
        self.check_keys(node, STEP_KEYS, "a step")
        if "name" not in fields:
            raise self.fail(node, "missing 'name': every step needs a name (or 'include' alone)")
        if "duration" not in fields:
            raise self.fail(node, "missing 'duration': expected the timed interval, e.g. 'duration: 30s'")
        step = Step(
            name=self.text(fields["name"], "the step's name"),
            duration=self.seconds(fields["duration"], "'duration'"),
            where=self.at(node),
            folder=self.path.parent,
        )
        values: dict = {}
        if "say" in fields:
            values["say"] = self.text(fields["say"], "'say'")
        if "prep" in fields:
            values["prep"] = self.seconds(fields["prep"], "'prep'", zero_ok=True)
        if "countdown" in fields:
            values["countdown"] = self.countdown(fields["countdown"])
        if "halfway" in fields:
            h = fields["halfway"]
            values["halfway"] = h.value if isinstance(h.value, bool) else self.text(h, "'halfway' (true or text)")
        if "sides" in fields:
            values["sides"] = self.sides(fields["sides"])
        if "repeat" in fields:
            values["repeat"] = self.whole(fields["repeat"], "repeat", 1, MAX_REPEAT)
        if "rest" in fields:
            if values.get("repeat", 1) < 2:
                raise self.key_fail(node, "rest", "'rest' needs 'repeat' of 2 or more: it is the pause between "
                                                  "repetitions")
            values["rest"] = self.seconds(fields["rest"], "'rest'")
        if "breathe" in fields:
            values["breathe"] = self.breathe(fields["breathe"])
        if "cues" in fields:
            values["cues"] = self.cues(fields["cues"])
        return replace(step, **values)

    def sides(self, node: Node) -> tuple[str, ...]:
        if not isinstance(node.value, list) or not node.value:
            raise self.fail(node, "expected a list of side names, e.g. 'sides: [right, left]'")
        return tuple(self.text(item, "a side name") for item in node.value)

    def breathe(self, node: Node) -> Breathe:
        fields = self.mapping(node, "a breathing pattern like {in: 4s, out: 6s}")
        self.check_keys(node, BREATHE_KEYS, "breathe")
        for key in ("in", "out"):
            if key not in fields:
                raise self.fail(node, f"missing '{key}' in breathe; expected e.g. {{in: 4s, out: 6s}}")
        for key in ("in", "out"):
            if self.seconds(fields[key], f"breathing {key}") < MIN_BREATH_PHASE:
                raise self.fail(fields[key], f"breathing {key}: expected at least {MIN_BREATH_PHASE:g} s")
        return Breathe(
            inhale=self.seconds(fields["in"], "breathing in"),
            exhale=self.seconds(fields["out"], "breathing out"),
            hold=self.seconds(fields["hold"], "'hold'", zero_ok=True) if "hold" in fields else 0.0,
            hold_out=self.seconds(fields["hold_out"], "'hold_out'", zero_ok=True) if "hold_out" in fields else 0.0,
            spoken=self.whole(fields["spoken"], "spoken breaths", 0) if "spoken" in fields else DEFAULT_SPOKEN_BREATHS,
            where=self.at(node),
        )

    def cues(self, node: Node) -> tuple[Cue, ...]:
        if not isinstance(node.value, list):
            raise self.fail(node, "expected a list of cues like '- {at: 20s, say: Keep breathing.}'")
        out = []
        for item in node.value:
            fields = self.mapping(item, "a cue like {at: 20s, say: ...}")
            self.check_keys(item, CUE_KEYS, "a cue")
            if "at" not in fields:
                raise self.fail(item, "missing 'at' in a cue; expected e.g. {at: 20s, say: Keep breathing.}")
            if ("say" in fields) == ("sound" in fields):
                raise self.fail(item, "a cue needs exactly one of 'say' or 'sound'")
            try:
                anchor, offset = parse_offset(fields["at"].value)
            except ValueError as exc:
                raise self.fail(fields["at"], str(exc)) from None
            say = self.text(fields["say"], "the cue's words") if "say" in fields else None
            sound = self.sound(fields["sound"], "the cue's sound") if "sound" in fields else None
            out.append(Cue(anchor, offset, say, sound, self.at(item)))
        return tuple(out)
