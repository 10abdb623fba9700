"""Loading routines: finding a ROUTINE argument, building the model from located YAML, `include`.

Every error points at its file:line:col (see document.py for the located YAML).
"""
from __future__ import annotations

import difflib
import os
from dataclasses import replace
from importlib import resources
from pathlib import Path

from . import document
from .document import Node
from .model import (BREATHE_KEYS, CHIME_ROLES, CUE_KEYS, DEFAULT_COUNTDOWN, DEFAULT_SPOKEN_BREATHS, MAX_COUNTDOWN,
                    MAX_REPEAT, MAX_TIMED_HOURS, MIN_BREATH_PHASE, ROUTINE_KEYS, STEP_KEYS, VOICE_KEYS, Breathe, Cue,
                    Routine, Step, VoiceSettings, Where, timed_seconds)
from ..duration import parse_duration, parse_offset, _seconds, DURATION_HELP
from ..errors import InputError, RoutineError

# ---------------------------------------------------------------- finding routines

def library_dir() -> Path:
    return Path(str(resources.files("voicecoach.routines.library")))


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
    return Validator(path, _stack).routine(root)


def load_text(text: str, source: str = "<routine>", folder: Path | None = None) -> Routine:
    """Load a routine from text (tests, stdin); includes resolve relative to `folder`."""
    root = document.parse(text.encode("utf-8"), source)
    fake = (folder or Path.cwd()) / source
    return Validator(fake, (), source_name=source).routine(root)


class Validator:
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
            background=self.background(fields["background"]) if "background" in fields else None,
            background_where=self.at(fields["background"]) if "background" in fields else None,
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
        from .. import sounds  # sounds reads files; only needed when a routine names one

        try:
            sounds.resolve(name, self.path.parent)
        except InputError as exc:
            raise self.fail(node, str(exc)) from None
        return name

    def background(self, node: Node) -> str:
        """A built-in bed name, or an audio file inside the routine's folder that libsndfile can open."""
        name = self.text(node, "the background")
        from .. import sounds

        try:
            kind, path = sounds.resolve_background(name, self.path.parent, confined=True)
            if kind == "file":
                sounds.probe_background(path, name)
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
