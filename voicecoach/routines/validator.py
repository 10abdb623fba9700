"""The routine Validator: a Routine built from located YAML, with every problem found in one pass.

Every error points at its file:line:col (see document.py for the located YAML);
`include` splices in the steps of another routine file.
"""
from __future__ import annotations

import functools
import wave
from importlib import resources
from pathlib import Path

from . import document
from .checker import Checker
from .document import Node
from .model import (BREATHE_KEYS, CHIME_ROLES, CUE_KEYS, DEFAULT_COUNTDOWN, DEFAULT_SPOKEN_BREATHS,
                    MAX_REPEAT, MAX_TIMED_HOURS, MIN_BREATH_PHASE, ROUTINE_KEYS, STEP_KEYS, VOICE_KEYS, Breathe, Cue,
                    Routine, Step, VoiceSettings, timed_seconds)
from .names import builtin_ids, library_dir, user_dir
from ..duration import parse_offset
from ..errors import InputError, RoutineProblems
from ..files import kind
from ..text import quote
from ..wording import DEFAULT_CHIMES


class Validator(Checker):
    """Builds a Routine from located YAML, noting every problem it can find in one pass.

    A field that is wrong is noted and left out, so the fields after it are checked
    too; `routine()` raises one RoutineProblems listing them all, in file order.
    """

    # -- the routine ---------------------------------------------------------------
    def routine(self, root: Node) -> Routine:
        fields = self.mapping(root, "a routine")
        meant = self.keys(root, ROUTINE_KEYS, "the routine")
        if "title" not in fields and "title" not in meant:
            self.note(self.fail(root, "missing 'title': expected the routine's title, e.g. 'title: Morning routine'"))
        if "steps" not in fields and "steps" not in meant:
            self.note(self.fail(root, "missing 'steps': expected a list of steps"))
        opt = {k: v for k in ("description", "intro", "outro")
               if (v := self.field(fields, k, lambda n, k=k: self.text(n, k))) is not None}
        title = self.field(fields, "title", lambda n: self.text(n, "the title"))
        safety = self.field(fields, "safety", lambda n: self.flag(n, "safety"), True)
        voice = self.field(fields, "voice", self.voice, VoiceSettings())
        countdown = self.field(fields, "countdown", self.countdown, DEFAULT_COUNTDOWN)
        chimes = self.field(fields, "chimes", self.chimes, ())
        progression = self.field(fields, "progression", self.progression)
        background = self.field(fields, "background", self.background)
        steps = self.field(fields, "steps", self.steps, ())
        routine = Routine(
            id=self.path.stem,  # a built-in's id and a user routine's name alike
            title=title or "",
            steps=steps,
            where=self.at(root),
            safety=safety,
            voice=voice,
            countdown=countdown,
            chimes=chimes,
            source=self.path,
            progression=progression,
            background=background,
            background_where=self.at(fields["background"]) if background is not None else None,
            **opt,
        )
        self.attempt(lambda: self.check_intervals(routine))
        if timed_seconds(routine) > MAX_TIMED_HOURS * 3600:
            self.note(self.fail(root, f"the routine's timed work adds up to more than {MAX_TIMED_HOURS} hours; "
                                      "expected a session a person can do"))
        self.done()
        return routine

    def check_intervals(self, routine: Routine) -> None:
        """Every timed interval must hold the chime that opens it before the one that closes it rings.

        A step opens with the start chime (a rest with the end chime) at its first
        sample and closes with the next chime at its last, so an interval shorter
        than its opening chime plays the two on top of each other. The check is on
        the routine as written; `--scale` may shorten a session below it on purpose.
        """
        lengths = chime_seconds(routine)
        chimes = {**DEFAULT_CHIMES, **dict(routine.chimes)}
        for step in routine.steps:
            checks = [(step.duration, step.duration_where, "start", "'duration'")]
            if step.repeat > 1 and step.rest > 0:
                checks.append((step.rest, step.rest_where, "end", "'rest'"))
            for seconds, where, role, what in checks:
                need = lengths.get(chimes[role])
                if where is not None and need is not None and seconds < need:
                    opening = "start chime" if role == "start" else "end chime that opens a rest"
                    self.note(where.error(f"{what}: {seconds:g} s is too short to hold the {need:g} s {opening} "
                                          "before the next chime rings; expected at least "
                                          f"{need:g} s (see 'Minimum length' in the routine format)"))

    def voice(self, node: Node) -> VoiceSettings:
        fields = self.mapping(node, "voice settings")
        self.keys(node, VOICE_KEYS, "voice")
        rate = self.field(fields, "rate", lambda n: self.whole(n, "the speaking rate (words per minute)", 40))
        volume = self.field(fields, "volume", self.volume)
        name = self.field(fields, "voice", lambda n: self.text(n, "the voice"))
        return VoiceSettings(voice=name, rate=rate, volume=volume)

    def chimes(self, node: Node) -> tuple[tuple[str, str], ...]:
        fields = self.mapping(node, "chimes")
        self.keys(node, CHIME_ROLES, "chimes")
        out = [(role, self.attempt(lambda v=value, r=role: self.sound(v, f"the {r} chime")))
               for role, value in fields.items() if role in CHIME_ROLES]
        return tuple((role, name) for role, name in out if name is not None)

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
        from .. import background

        try:
            kind, path = background.resolve_background(name, self.path.parent, confined=True)
            if kind == "file":
                background.probe_background(path, name)
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
            fields = self.attempt(lambda i=item: self.mapping(i, "a step"))
            if fields is None:
                continue
            if "include" in fields:
                out.extend(self.attempt(lambda i=item: self.include(i), ()))
            else:
                step = self.step(item)
                if step is not None:
                    out.append(step)
        return tuple(out)

    def include(self, node: Node) -> tuple[Step, ...]:
        fields = node.value
        if len(fields) > 1:
            other = next(k for k in fields if k != "include")
            raise self.key_fail(node, other, f"'include' stands alone in its step; found {quote(other, 40)} "
                                             "beside it")
        ref_node = fields["include"]
        ref = self.text(ref_node, "the routine to include (a built-in id or a relative path)")
        if ref.endswith((".yaml", ".yml")) or "/" in ref:
            target = self.path.parent / Path(ref).expanduser()
            allowed = self.include_folders()
            real = target.resolve()
            if not any(real.is_relative_to(folder) for folder in allowed):
                raise self.fail(ref_node, f"cannot include {quote(ref)}: expected a built-in id, or a file inside "
                                          f"this routine's folder ({allowed[0]}) or your routine folder "
                                          f"({allowed[1]})")
        else:
            target = library_dir() / f"{ref}.yaml"
            if kind(target, lambda message: self.fail(ref_node, message), ref) != "file":
                choices = ", ".join(builtin_ids())
                raise self.fail(ref_node, f"no built-in routine {quote(ref)} to include; expected a path ending "
                                          f"in .yaml or one of: {choices}")
        key = str(target.resolve())
        if key in self.stack:
            names = [Path(s).name for s in self.stack[self.stack.index(key):]] + [target.name]
            raise self.fail(ref_node, "include cycle: " + " -> ".join(names))
        if kind(target, lambda message: self.fail(ref_node, message), ref) != "file":
            raise self.fail(ref_node, f"cannot include {quote(ref)}: no such file {target}")
        return Validator(target, self.stack).routine(document.read(target)).steps

    def include_folders(self) -> list[Path]:
        """Where an included file may lie: this file's folder (and below), the user's routines, the built-ins."""
        return [p.resolve() for p in (self.path.parent, user_dir(), library_dir())]

    def step(self, node: Node) -> Step | None:
        """The step, or None (with its problems noted) when it cannot be built."""
        fields = node.value
        meant = self.keys(node, STEP_KEYS, "a step")
        if "name" not in fields and "name" not in meant:
            self.note(self.fail(node, "missing 'name': every step needs a name (or 'include' alone)"))
        if "duration" not in fields and "duration" not in meant:
            self.note(self.fail(node, "missing 'duration': expected the timed interval, e.g. 'duration: 30s'"))
        name = self.field(fields, "name", lambda n: self.text(n, "the step's name"))
        duration = self.field(fields, "duration", lambda n: self.seconds(n, "'duration'"))
        values: dict = {}

        def put(key: str, parse) -> None:
            value = self.field(fields, key, parse)
            if value is not None:
                values[key] = value

        put("say", lambda n: self.text(n, "'say'"))
        put("prep", lambda n: self.seconds(n, "'prep'", zero_ok=True))
        put("countdown", self.countdown)
        put("halfway", lambda n: n.value if isinstance(n.value, bool) else self.text(n, "'halfway' (true or text)"))
        put("sides", self.sides)
        put("repeat", lambda n: self.whole(n, "repeat", 1, MAX_REPEAT))
        if "rest" in fields:
            if values.get("repeat", 1) < 2:
                if "repeat" not in fields or "repeat" in values:  # a bad repeat is noted already
                    self.note(self.key_fail(node, "rest", "'rest' needs 'repeat' of 2 or more: it is the pause "
                                                          "between repetitions"))
            else:
                put("rest", lambda n: self.seconds(n, "'rest'"))
                if "rest" in values:
                    values["rest_where"] = self.at(fields["rest"])
        put("breathe", self.breathe)
        put("cues", self.cues)
        if name is None or duration is None:
            return None
        return Step(name=name, duration=duration, where=self.at(node), folder=self.path.parent,
                    duration_where=self.at(fields["duration"]), **values)

    def sides(self, node: Node) -> tuple[str, ...]:
        if not isinstance(node.value, list) or not node.value:
            raise self.fail(node, "expected a list of side names, e.g. 'sides: [right, left]'")
        out = tuple(self.attempt(lambda i=item: self.text(i, "a side name")) for item in node.value)
        if None in out:
            raise RoutineProblems([])  # the sides were noted one by one; the step is left out
        return out

    def breathe(self, node: Node) -> Breathe:
        fields = self.mapping(node, "a breathing pattern like {in: 4s, out: 6s}")
        meant = self.keys(node, BREATHE_KEYS, "breathe")
        phases = {}
        for key in ("in", "out"):
            if key not in fields:
                if key not in meant:
                    self.note(self.fail(node, f"missing '{key}' in breathe; expected e.g. {{in: 4s, out: 6s}}"))
                continue
            seconds = self.attempt(lambda k=key: self.seconds(fields[k], f"breathing {k}"))
            if seconds is not None and seconds < MIN_BREATH_PHASE:
                self.note(self.fail(fields[key], f"breathing {key}: expected at least {MIN_BREATH_PHASE:g} s"))
                seconds = None
            phases[key] = seconds
        hold = self.field(fields, "hold", lambda n: self.seconds(n, "'hold'", zero_ok=True), 0.0)
        hold_out = self.field(fields, "hold_out", lambda n: self.seconds(n, "'hold_out'", zero_ok=True), 0.0)
        spoken = self.field(fields, "spoken", lambda n: self.whole(n, "spoken breaths", 0), DEFAULT_SPOKEN_BREATHS)
        if phases.get("in") is None or phases.get("out") is None:
            raise RoutineProblems([])  # noted above
        return Breathe(inhale=phases["in"], exhale=phases["out"], hold=hold, hold_out=hold_out, spoken=spoken,
                       where=self.at(node))

    def cues(self, node: Node) -> tuple[Cue, ...]:
        if not isinstance(node.value, list):
            raise self.fail(node, "expected a list of cues like '- {at: 20s, say: Keep breathing.}'")
        found = [self.attempt(lambda i=item: self.cue(i)) for item in node.value]
        if None in found:
            raise RoutineProblems([])  # noted one by one
        return tuple(found)

    def cue(self, item: Node) -> Cue:
        fields = self.mapping(item, "a cue like {at: 20s, say: ...}")
        self.keys(item, CUE_KEYS, "a cue")
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
        return Cue(anchor, offset, say, sound, self.at(item))


def chime_seconds(routine: Routine) -> dict[str, float]:
    """The length in seconds of each chime the routine's intervals open and close with."""
    names = {**DEFAULT_CHIMES, **dict(routine.chimes)}
    out: dict[str, float] = {}
    for role in ("start", "end"):
        name = names[role]
        try:
            out[name] = _sound_seconds(name, routine.folder)
        except (InputError, RuntimeError, OSError, EOFError, wave.Error):  # reported where the chime is named
            continue
    return out


def _sound_seconds(name: str, folder: Path | None) -> float:
    if "/" not in name and "\\" not in name and not Path(name).suffix:
        # a built-in WAV: read its header with the standard library, so loading a routine
        # does not import numpy and libsndfile (a third of a second for `list`)
        return _wav_seconds(str(resources.files("voicecoach.soundfiles") / f"{name}.wav"))
    import soundfile

    from .. import sounds

    info = soundfile.info(str(sounds.resolve(name, folder)))
    return info.frames / info.samplerate


@functools.lru_cache(maxsize=32)
def _wav_seconds(path: str) -> float:
    with wave.open(path, "rb") as w:
        return w.getnframes() / w.getframerate()
