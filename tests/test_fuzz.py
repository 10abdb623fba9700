"""Property-based fuzzing of the routine loader and the timing engine (hypothesis).

Valid routines, generated as YAML text in every documented syntax, must load,
compile and obey every timing rule (rules.check_rules). Mutated routines must
load (and compile) or fail with one located line: a RoutineError, never any
other exception. CI runs a fixed, derandomized set of examples, so a failure
reproduces on every machine; VOICECOACH_FUZZ_EXAMPLES=N runs N fresh random
examples in each of the two main fuzz tests instead (a long run by hand).
The bugs the fuzzing found (all fixed) keep a minimal regression test each at
the end, and one fuzz test keeps feeding their triggers in.
"""
from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from voicecoach import routines as rt
from voicecoach import sounds
from voicecoach.cli import app
from voicecoach.errors import RoutineError
from voicecoach.sounds import SOUND_NAMES
from voicecoach.timeline import Options, compile

from support.rules import RATE, SAFETY_TEXT, check_rules, fake_speech, real_sounds

_LONG = int(os.environ.get("VOICECOACH_FUZZ_EXAMPLES", "0"))


def fuzz(examples: int, share: float = 1.0, **extra):
    """Hypothesis settings: in CI `examples` derandomized (fixed, reproducible) examples;
    with VOICECOACH_FUZZ_EXAMPLES=N, N * share fresh random ones."""
    count = max(1, int(_LONG * share)) if _LONG else examples
    return settings(max_examples=count, deadline=None, derandomize=not _LONG, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], **extra)


# ------------------------------------------------------------------ valid routines as YAML text

SOUND_SECONDS = {n: len(sounds.load(n, RATE)) / RATE for n in SOUND_NAMES}
CHIME_ROLES = rt.CHIME_ROLES
LONGEST_CHIME = max(SOUND_SECONDS.values())  # no interval may be shorter than the chime that opens it
MARGIN = 0.05  # seconds kept free around fitted cues: far more than any rounding to samples
WORDS = ("Breathe", "slowly", "relax", "your", "hip", "shoulders", "now", "keep", "going", "gently", "roll",
         "Stop", "if", "sharp", "ball", "déjà", "vu", "Ruhe", "日本語", "naïve", "it's", "50%", "#1", "a: b",
         "- x", "[x]", "yes", "no", "null", "3.5", "1:30", "~", "@home", "`q`", '"q"', "&a", "*b", "!t", "|")
SAY_EXTRAS = ("{side}", "{duration}", "{next}", "{", "}", "{sid}", "{0}")
SIDES = ("right", "left", "front", "back", "inner", "outer", "upper", "lower", "côté")
BOOLS = {"true": True, "false": False, "True": True, "yes": True, "no": False, "on": True, "off": False}


def _loads(text: str):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


@st.composite
def scalar(draw, value: str, flow: bool) -> str:
    """`value` as a YAML scalar that loads back as exactly that text: plain, single- or double-quoted."""
    style = draw(st.sampled_from(["plain", "single", "double", "ascii"]))
    wrap = "{k: %s}" if flow else "k: %s"
    if style == "plain" and re.fullmatch(r"[^\W\d_][\w .!?'%:-]*[\w.!?%]|[^\W\d_]", value) \
            and _loads(wrap % value) == {"k": value}:
        return value
    if style == "single":
        return "'" + value.replace("'", "''") + "'"
    return json.dumps(value, ensure_ascii=style == "ascii")


@st.composite
def words(draw, extras=(), most: int = 8) -> str:
    parts = draw(st.lists(st.sampled_from(WORDS + extras), min_size=1, max_size=most))
    return " ".join(parts) + draw(st.sampled_from(["", ".", "!", "?"]))


@st.composite
def duration(draw, low: float = 0.1, high: float = 600.0, tenths: bool = False) -> tuple[str, float]:
    """(YAML text, seconds) in one of the documented syntaxes: 30, 2.5, 90s, 2m, 1m30s, 1.5m, 1:30."""
    syntax = draw(st.sampled_from(["int", "float", "s", "m", "ms", "dm", "clock"]))
    cents = draw(st.integers(math.ceil(low * 100), int(high * 100)))
    if tenths:
        cents = max(cents - cents % 10, math.ceil(low * 10) * 10)
    whole, frac = divmod(cents, 100)
    number = f"{whole}.{frac:02d}" if frac else str(whole)
    if syntax == "int" and not frac:
        text, seconds = number, float(whole)
    elif syntax in ("int", "float"):
        text, seconds = f"{whole}.{frac:02d}", float(f"{whole}.{frac:02d}")
    elif syntax == "m" and cents % 6000 == 0:
        text, seconds = f"{whole // 60}m", whole // 60 * 60.0
    elif syntax == "ms" and whole >= 60 and not frac:
        text, seconds = f"{whole // 60}m{whole % 60}s", whole // 60 * 60.0 + whole % 60
    elif syntax == "dm" and cents % 600 == 0:
        minutes = f"{whole // 60}.{whole % 60 // 6}"
        text, seconds = f"{minutes}m", float(minutes) * 60
    elif syntax == "clock":
        text = f"{whole // 60}:{whole % 60:02d}" + (f".{frac:02d}" if frac else "")
        seconds = whole // 60 * 60 + float(f"{whole % 60:02d}.{frac:02d}")
    else:
        text, seconds = f"{number}s", float(number)
    # unquoted 1:30 is YAML's base-60 number 90, the same seconds; anything else odd gets quoted
    if re.search("[a-z:]", text) and (draw(st.booleans()) or _loads(f"k: {text}") not in ({"k": text}, {"k": seconds})):
        text = draw(st.sampled_from(["'%s'", '"%s"'])) % text
    return text, seconds


@dataclass
class Made:
    """A generated routine: its text, what the loader must make of it, and where its cues stand."""

    text: str = ""
    must_fit: bool = True
    steps: list = field(default_factory=list)  # per own step: dict of expectations
    includes: dict = field(default_factory=dict)  # position in steps -> built-in id
    cue_lines: set = field(default_factory=set)  # lines an error about a cue may point at
    options: dict = field(default_factory=dict)
    title: str = ""


class Lines:
    def __init__(self):
        self.lines: list[str] = []

    def add(self, line: str) -> int:
        self.lines.append(line)
        return len(self.lines)


@st.composite
def offset(draw, d: float, u: float) -> tuple[str, float]:
    """A cue's `at` near u * d, as text, and the second it really stands at."""
    anchor = draw(st.sampled_from(["start", "end", "share"]))
    t = u * d
    if anchor == "end" and t < d - 0.01:
        back = round((d - t) * 100)
        num = f"{back // 100}.{back % 100:02d}"
        clock = f"{back // 6000}:{back // 100 % 60:02d}.{back % 100:02d}"
        text = draw(st.sampled_from([f"'-{num}s'", f"-{num}", f"'-{clock}'"]))
        return text, d - back / 100
    if anchor == "share" and u < 1:
        share = round(u * 10000)
        return f"'{share // 100}.{share % 100:02d}%'", share / 10000 * d
    c = round(t * 100)
    num = f"{c // 100}.{c % 100:02d}"
    text = draw(st.sampled_from([f"'{num}s'", num, f"'{c // 6000}:{c // 100 % 60:02d}.{c % 100:02d}'"]))
    return text, c / 100


@st.composite
def step(draw, out: Lines, made: Made, countdown: int, chimes: dict, indent: int, list_indent: int) -> None:
    """One step, written into `out`; cues fitted unless made.must_fit is False."""
    d_text, d = draw(duration(LONGEST_CHIME, high=draw(st.sampled_from([30.0, 60.0, 600.0]))))
    expect = {"name": draw(words(most=3)), "duration": d, "prep": 2.0, "sides": (), "repeat": 1, "rest": 0.0}
    fields = {"name": draw(scalar(expect["name"], True)), "duration": d_text}
    if draw(st.booleans()):
        expect["say"] = draw(words(SAY_EXTRAS, most=12))
        fields["say"] = draw(scalar(expect["say"], True))
    if draw(st.booleans()):
        text, expect["prep"] = draw(st.one_of(st.just(("0", 0.0)), st.just(("'0s'", 0.0)), duration(high=10)))
        fields["prep"] = text
    if draw(st.integers(0, 3)) == 0:
        expect["countdown"] = draw(st.integers(0, 5))
        fields["countdown"] = str(expect["countdown"])
    if draw(st.integers(0, 2)) == 0:
        expect["sides"] = tuple(draw(st.lists(st.sampled_from(SIDES), min_size=1, max_size=3)))
        fields["sides"] = [draw(scalar(s, True)) for s in expect["sides"]]
    if draw(st.integers(0, 2)) == 0:
        expect["repeat"] = draw(st.integers(1, 3))
        fields["repeat"] = str(expect["repeat"])
        if expect["repeat"] > 1 and draw(st.booleans()):
            fields["rest"], expect["rest"] = draw(duration(LONGEST_CHIME, high=30))
    if draw(st.integers(0, 2)) == 0:
        breathe = {"in": draw(duration(0.5, 8, tenths=True)), "out": draw(duration(0.5, 8, tenths=True))}
        for key in ("hold", "hold_out"):
            if draw(st.booleans()):
                breathe[key] = draw(st.one_of(st.just(("0", 0.0)), duration(0.5, 5, tenths=True)))
        if draw(st.booleans()):
            n = draw(st.integers(0, 3))
            breathe["spoken"] = (str(n), n)
        expect["breathe"] = {k: v for k, (_, v) in breathe.items()}
        fields["breathe"] = {k: t for k, (t, _) in breathe.items()}
    count = expect.get("countdown", countdown)
    limit = d if not count else max(0.0, d - count)

    def longest(text: str) -> float:  # seconds of fake speech, for the longest side name
        return max(len(text.replace("{side}", s)) for s in expect["sides"] or ("",)) / 16

    def clash(a: float, b: float) -> bool:
        return any(x < b and a < y for x, y in busy)

    # nothing may sound over the chime that opens the interval
    busy = [(-MARGIN, SOUND_SECONDS[chimes.get("start", "bell")] + MARGIN)]
    halfway = draw(st.sampled_from([None, None, True, False, "text"]))
    expect["halfway"] = False
    if halfway == "text":
        expect["halfway"] = draw(st.one_of(words(("{side}",), most=4)))
        length = longest(expect["halfway"])
        if made.must_fit and (d / 2 + length + MARGIN > limit or clash(d / 2 - MARGIN, d / 2 + length + MARGIN)):
            halfway = expect["halfway"] = True
        else:
            fields["halfway"] = draw(scalar(expect["halfway"], True))
            busy.append((d / 2 - MARGIN, d / 2 + length + MARGIN))
    if halfway is True:
        length = SOUND_SECONDS[chimes.get("halfway", "halfway")]
        if made.must_fit and clash(d / 2 - MARGIN, d / 2 + length + MARGIN):
            halfway = False
        else:
            busy.append((d / 2 - MARGIN, d / 2 + length + MARGIN))
    if halfway is True or halfway is False:
        expect["halfway"] = halfway
        fields["halfway"] = draw(st.sampled_from([k for k, v in BOOLS.items() if v is halfway]))
    cues = []
    for _ in range(draw(st.integers(0, 4))):
        u = draw(st.integers(0, 999 if made.must_fit else 1200)) / 1000
        at_text, t = draw(offset(d, u))
        if draw(st.booleans()):
            text = draw(words(("{side}",), most=6))
            length, value = longest(text), ("say", text, draw(scalar(text, True)))
        else:
            name = draw(st.sampled_from(SOUND_NAMES))
            length, value = SOUND_SECONDS[name], ("sound", name, name)
        span = (t - MARGIN, t + length + MARGIN)
        if made.must_fit and (t + MARGIN >= d or (value[0] == "say" and span[1] > limit) or clash(*span)):
            continue
        busy.append(span)
        cues.append((at_text, value))
    if cues or draw(st.integers(0, 9)) == 0:
        fields["cues"] = cues
    expect["cues"] = [(v[0], v[1]) for _, v in cues]
    made.steps.append(expect)
    _write_step(draw, out, made, fields, indent, list_indent)


def _flow(key: str, value) -> str:
    if key == "sides":
        return "[" + ", ".join(value) + "]"
    if key == "breathe":
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    if key == "cues":
        return "[" + ", ".join("{at: %s, %s: %s}" % (at, v[0], v[2]) for at, v in value) + "]"
    return value


def _write_step(draw, out: Lines, made: Made, fields: dict, indent: int, list_indent: int) -> None:
    """One step in block style (nested values in flow or block style), or all of it on one line."""
    keys = draw(st.permutations(list(fields)))
    pad = " " * list_indent
    if draw(st.integers(0, 4)) == 0:
        line = out.add(pad + "- {" + ", ".join(f"{k}: {_flow(k, fields[k])}" for k in keys) + "}")
        made.steps[-1]["line"] = line
        made.cue_lines.add(line)
        return
    inner = pad + "  "
    for i, key in enumerate(keys):
        value = fields[key]
        block = not isinstance(value, str) and bool(value) and draw(st.booleans())
        line = out.add(f"{pad + '- ' if i == 0 else inner}{key}:" + ("" if block else f" {_flow(key, value)}"))
        if i == 0:
            made.steps[-1]["line"] = line
        if key == "cues" and not block:
            made.cue_lines.add(line)
        if not block:
            continue
        # a block sequence may stand at its key's own indentation
        child = inner + " " * (indent if key == "breathe" else draw(st.sampled_from([0, indent])))
        if key == "breathe":
            for k, v in value.items():
                out.add(f"{child}{k}: {v}")
        elif key == "sides":
            for v in value:
                out.add(f"{child}- {v}")
        else:
            for at, v in value:
                if draw(st.booleans()):
                    made.cue_lines.add(out.add(child + "- {at: %s, %s: %s}" % (at, v[0], v[2])))
                else:
                    made.cue_lines.add(out.add(f"{child}- at: {at}"))
                    out.add(f"{child}  {v[0]}: {v[2]}")


@st.composite
def routines(draw) -> Made:
    """A routine as YAML text; in three of four every cue fits, in the rest cues stand anywhere."""
    made = Made(must_fit=draw(st.integers(0, 3)) > 0)
    out = Lines()
    if draw(st.booleans()):
        out.add("# " + draw(words()))
    made.title = draw(words(most=5))
    top = {"title": draw(scalar(made.title, False))}
    for key in ("description", "intro", "outro"):
        if draw(st.booleans()):
            top[key] = draw(scalar(draw(words(most=10)), False))
    if draw(st.booleans()):
        top["safety"] = draw(st.sampled_from(list(BOOLS)))
    countdown = rt.DEFAULT_COUNTDOWN
    if draw(st.booleans()):
        countdown = draw(st.integers(0, 5))
        top["countdown"] = str(countdown)
    if draw(st.integers(0, 3)) == 0:
        volume = draw(st.sampled_from(["0", "0.5", "1", "0.9"]))
        top["voice"] = "{rate: %d, volume: %s, voice: en-us}" % (draw(st.integers(40, 300)), volume)
    chimes = {}
    if draw(st.integers(0, 3)) == 0:
        chimes = draw(st.dictionaries(st.sampled_from(CHIME_ROLES), st.sampled_from(SOUND_NAMES), min_size=1))
        top["chimes"] = "{" + ", ".join(f"{k}: {v}" for k, v in chimes.items()) + "}"
    for key in draw(st.permutations(list(top))):
        out.add(f"{key}: {top[key]}")
    out.add("steps:")
    indent, list_indent = draw(st.sampled_from([2, 4])), draw(st.sampled_from([0, 2, 4]))
    own = draw(st.integers(1, 6))
    builtin_ok = made.must_fit and not chimes and countdown <= 3
    for i in range(own):
        if builtin_ok and draw(st.integers(0, 12)) == 0:
            made.includes[i] = draw(st.sampled_from(rt.builtin_ids()))
            out.add(" " * list_indent + f"- include: {made.includes[i]}")
        draw(step(out, made, countdown, chimes, indent, list_indent))
    made.text = "\n".join(out.lines) + draw(st.sampled_from(["\n", "", "\n\n"]))
    made.options = {"scale": draw(st.sampled_from([1.0, 1.0, 1.5, 2.25]) if made.must_fit else
                                  st.sampled_from([0.25, 0.5, 1.0, 3.0])),
                    "lead_in": draw(st.sampled_from([0.0, 0.0, 4.5])),
                    "safety": draw(st.booleans()), "start_step": draw(st.floats(0, 0.999))}
    return made


def _options(made: Made, routine) -> Options:
    """The generated options; start_step may be any expanded step, a rest or a later round included."""
    count = len(rt.expand(routine))
    extra = dict(made.options, start_step=int(made.options["start_step"] * count))
    return Options(sample_rate=RATE, safety_text=SAFETY_TEXT, **extra)


def _check_loaded(made: Made, routine) -> None:
    """The loader made of the text what the generator meant, value by value."""
    assert routine.title == made.title
    index = 0
    for i, expect in enumerate(made.steps):
        if i in made.includes:
            index += len(rt.load(made.includes[i]).steps)
        got = routine.steps[index]
        index += 1
        assert got.where.line == expect["line"]
        assert (got.name, got.sides, got.repeat) == (expect["name"], expect["sides"], expect["repeat"])
        assert got.say == expect.get("say") and got.halfway == expect["halfway"]
        assert got.countdown == expect.get("countdown")
        for key in ("duration", "prep", "rest"):
            assert math.isclose(getattr(got, key), expect[key], rel_tol=1e-12), key
        if "breathe" in expect:
            b = expect["breathe"]
            assert (got.breathe.inhale, got.breathe.exhale) == (b["in"], b["out"])
            assert (got.breathe.hold, got.breathe.hold_out) == (b.get("hold", 0.0), b.get("hold_out", 0.0))
            assert got.breathe.spoken == b.get("spoken", rt.DEFAULT_SPOKEN_BREATHS)
        else:
            assert got.breathe is None
        assert [(c.say and "say" or "sound", c.say or c.sound) for c in got.cues] == expect["cues"]
    assert index == len(routine.steps)


def _one_located_line(err: RoutineError, data: bytes, source: str) -> None:
    """The error is one line, FILE:LINE:COL: message, pointing inside the file it names."""
    message = str(err)
    assert re.fullmatch(r"[^\n]+:\d+:\d+: [^\n]+", message), message
    assert len(message.splitlines()) == 1, message
    if err.source != source:  # an included routine's own error
        with open(err.source, "rb") as included:
            data = included.read()
    text = data.decode("utf-8", errors="replace")
    # YAML counts \r, NEL, LS and PS as line breaks too
    by_yaml = re.split("\r\n|[\r\n\x85\u2028\u2029]", text)
    by_bytes = data.split(b"\n")
    assert 1 <= err.line <= max(len(by_yaml), len(by_bytes)), message
    line_length = max(len(by_yaml[err.line - 1]) if err.line <= len(by_yaml) else 0,
                      len(by_bytes[err.line - 1]) if err.line <= len(by_bytes) else 0)
    assert 1 <= err.col <= line_length + 1, message


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.slow  # hundreds of generated routines: 10-50 s
@fuzz(600)
@given(made=routines(), bom=st.booleans())
def test_valid_routines_load_compile_and_keep_every_rule(made, bom, folder):
    path = folder / "fuzz.yaml"
    data = ("\ufeff" if bom else "").encode() + made.text.encode("utf-8")
    path.write_bytes(data)
    routine = rt.load_file(path)
    _check_loaded(made, routine)
    options = _options(made, routine)
    speech, sound = fake_speech(routine, options), real_sounds(routine)
    try:
        timeline = compile(routine, speech, sound, options)
    except RoutineError as err:
        # only a cue placed anywhere (not fitted) may fail, and the error points at it
        assert not made.must_fit, str(err)
        _one_located_line(err, data, str(path))
        assert err.source == str(path) and err.line in made.cue_lines | {s["line"] for s in made.steps}, str(err)
        return
    check_rules(routine, timeline, options)
    assert compile(routine, speech, sound, options) == timeline
    as_dict = timeline.to_dict()
    assert json.loads(json.dumps(as_dict, allow_nan=False)) == as_dict
    assert as_dict["format"] == "voicecoach-timeline/1" and len(as_dict["steps"]) == len(timeline.steps)


# ------------------------------------------------------------------ mutated routines

_KEY = re.compile(r"(?m)(?:^[ \t]*(?:-[ \t]+)?|[{,][ \t]*)([A-Za-z_]+)[ \t]*:(?=[ \t\r\n]|$)")
REQUIRED = ("title", "steps", "name", "duration", "in", "out", "at")
BAD_VALUES = ("-5", "0", "-0", "0.0", "'0s'", "'-1m'", "-1.5", "'0:00'", "'1:60'", "'1:5'", "'ninety'", "'30 sec'",
              "'1h'", "'2m30'", "'%'", "'150%'", "'-0s'", "'-'", "''", "[]", "{}", "[1, 2]", "{a: 1}", "true",
              "false", "null", "~", ".nan", ".inf", "1.0e+309", "0x1F", "0o17", "1_000", "+5", "'1e3'", "1.0e+3",
              "2001-12-14", "12:30:45", "-1:30", "99999999999", "yes", "'50%'", "'-15s'", "bell", "'../x.wav'",
              "'/etc/passwd'", "kd4", "'no-such.yaml'", "*nope", "&a 5", "|\n  block\n", ">-", "'{side}'", "'%s'")
TAGS = ("!!python/object/apply:os.system ['true']", "!!python/name:os.system", "!!python/object:builtins.dict {}",
        "!!python/tuple [1]", "!!binary aGk=", "!!set {a: null}", "!!timestamp 2001-12-14", "!local x",
        "!!omap [a: 1]", "!!str 5", "!!int 7", "!!float 1.5", "!!bool true", "!!null ''", "!!seq [a]", "!!map {}")
INSERTS = ("\t", "\r", "\r\n", "\x85", "\u2028", "\ufeff", "\u00a0", "#", ":", ": ", "- ", "&a ", "*a", "|", ">",
           "'", '"', "[", "{", "}", "]", ",", "?", "? ", "%YAML 1.1\n---\n", "---\n", "...\n", "<<: *a\n", "\\")
BAD_BYTES = (b"\xff", b"\xfe", b"\xc3", b"\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xe2\x82")
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{k}: &{k} [{', '.join(['*' + p] * 9)}]\n" for p, k in zip("abcdefg", "bcdefgh"))
# YAML's reader refuses these characters (a located error; the known_bugs strategy feeds them in)
_UNREADABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _value_span(text: str, start: int) -> int:
    """Where the value starting at `start` ends: end of line, or the next , } ] outside brackets and quotes."""
    depth, i, quote = 0, start, None
    line_start = text.rfind("\n", 0, start)
    in_flow = max(text.rfind("{", 0, start), text.rfind("[", 0, start)) > line_start
    while i < len(text) and text[i] != "\n":
        ch = text[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}" or ch == ",":
            if depth == 0 and in_flow:
                break
            depth -= ch != ","
        i += 1
    return i


@st.composite
def garbage(draw, known_bugs: bool) -> str:
    """Random text as a YAML value (quoted); whitespace-only and control characters only with known_bugs."""
    bad = ("Cs",) if known_bugs else ("Cs", "Cc", "Zl", "Zp")
    text = draw(st.text(st.characters(blacklist_categories=bad), min_size=1, max_size=30))
    if not known_bugs and not text.strip():
        text = "x" + text
    return json.dumps(text, ensure_ascii=draw(st.booleans()))


@st.composite
def mutated(draw, known_bugs: bool = False) -> bytes:
    """A generated routine with one to three mutations; with known_bugs, also the triggers of the bugs fuzzing found."""
    made = draw(routines())
    text = made.text
    for _ in range(draw(st.integers(1, 3))):
        keys = list(_KEY.finditer(text))
        # weighted towards changing values: most of the loader's checks are about values
        kind = draw(st.sampled_from(["value", "value", "typo", "delete", "tag", "value", "duplicate", "indent",
                                     "insert", "typo", "line", "value", "swap", "bytes", "truncate", "flip",
                                     "delete", "bomb"] if keys else ["insert", "line", "bytes", "truncate", "flip"]))
        if kind in ("delete", "typo", "value", "tag", "duplicate"):
            required = [m for m in keys if m.group(1) in REQUIRED]
            m = draw(st.sampled_from(required if required and kind == "delete" else keys[::-1]))
            end = _value_span(text, m.end())
            if kind == "delete":
                text = text[:m.start(1)] + text[end + (text[end:end + 1] == ","):]
            elif kind == "typo":
                key = m.group(1)
                i = draw(st.integers(0, len(key) - 1))
                key = draw(st.sampled_from([key[:i] + key[i + 1:], key[:i] + "x" + key[i:], key.upper(), key + "s",
                                            key[:i] + key[i + 1:i + 2] + key[i:i + 1] + key[i + 2:], "_" + key]))
                if known_bugs and draw(st.integers(0, 4)) == 0:
                    key = json.dumps(key[:1] + "\n" + key[1:])
                text = text[:m.start(1)] + (key or "k") + text[m.end(1):]
            elif kind == "value":
                values = list(BAD_VALUES) + ([f"1{'0' * 400}", f"-1{'0' * 400}", f"'{'9' * 400}s'", "-.inf",
                                              '" "', '"a\\0b"', '"a\\nb"'] if known_bugs else [])
                value = draw(st.one_of(st.sampled_from(values), garbage(known_bugs)))
                text = text[:m.end()] + " " + value + text[end:]
            elif kind == "tag":
                tags = TAGS + (("!!int abc", "!!bool maybe", "!!float x") if known_bugs else ())
                text = text[:m.end()] + " " + draw(st.sampled_from(tags)) + text[end:]
            else:
                line_start = text.rfind("\n", 0, m.start(1)) + 1
                if text[line_start:m.start(1)].strip() in ("", "-"):
                    pad = " " * (m.start(1) - line_start)
                    copy = pad + text[m.start(1):end]
                    text = text[:end] + "\n" + copy + text[end:]
                else:
                    text = text[:end] + ", " + text[m.start(1):end] + text[end:]
        elif kind == "indent":
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            change = draw(st.sampled_from([" ", "  ", "   ", "\t", "-1", "-2", "-3"]))
            lines[i] = change + lines[i] if not change.startswith("-") else lines[i][int(change[1:]):]
            text = "\n".join(lines)
        elif kind in ("line", "swap"):
            lines = text.split("\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            if kind == "swap":
                lines[i], lines[j] = lines[j], lines[i]
            else:
                del lines[i]
            text = "\n".join(lines)
        elif kind == "insert":
            extra = INSERTS + (("\x00", "\x01", "\x1b", "\x7f", "\x9b", "\ufffe") if known_bugs else ())
            i = draw(st.integers(0, len(text)))
            text = text[:i] + draw(st.sampled_from(extra)) + text[i:]
        elif kind == "bomb":
            text = BOMB + text
        else:
            data = text.encode("utf-8")
            i = draw(st.integers(0, len(data)))
            if kind == "bytes":
                data = data[:i] + draw(st.sampled_from(BAD_BYTES)) + data[i:]
            elif kind == "truncate":
                data = data[:i]
            elif data:
                i = min(i, len(data) - 1)
                data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1:]
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                return data  # not UTF-8: nothing later could make it so
    if not known_bugs:
        text = _UNREADABLE.sub("", text)
    return text.encode("utf-8")


def _affordable(routine) -> bool:
    """Small enough to compile in milliseconds (the loader's bounds allow day-long routines)."""
    expanded = sum(max(1, len(s.sides)) * (2 * s.repeat - 1) for s in routine.steps)
    counts = [routine.countdown] + [s.countdown or 0 for s in routine.steps]
    seconds = [s.duration * s.repeat + s.rest * s.repeat + s.prep for s in routine.steps]
    cycles = [s.duration / s.breathe.cycle for s in routine.steps if s.breathe]
    return expanded <= 500 and max(counts) <= 3600 and max(seconds) <= 86400 and max(cycles, default=0) <= 10000


def _load_and_compile(data: bytes, path) -> None:
    """Load and compile the bytes as a routine file: success, or a located one-line RoutineError."""
    path.write_bytes(data)
    try:
        routine = rt.load_file(path)
        if not _affordable(routine):
            return
        options = Options(sample_rate=RATE, safety_text=SAFETY_TEXT)
        compile(routine, fake_speech(routine, options), real_sounds(routine), options)
    except RoutineError as err:
        _one_located_line(err, data, str(path))


@pytest.mark.slow  # hundreds of generated routines: 10-50 s
@fuzz(800)
@given(data=mutated())
def test_mutated_routines_load_or_fail_with_one_located_line(data, folder):
    _load_and_compile(data, folder / "mutated.yaml")


@pytest.mark.slow  # hundreds of generated routines: 10-50 s
@fuzz(200, share=0.2, phases=[Phase.explicit, Phase.generate])
@given(data=mutated(known_bugs=True))
def test_mutated_routines_with_known_bug_triggers(data, folder):
    _load_and_compile(data, folder / "known.yaml")


@fuzz(20, share=0.04)
@given(data=mutated())
def test_validate_command_on_mutated_routines(data, folder):
    path = folder / "cli.yaml"
    path.write_bytes(data)
    try:
        if not _affordable(rt.load_file(path)):
            return
    except RoutineError:
        pass
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code in (0, 1), (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output + result.stderr
    if result.exit_code == 1:  # every problem found, each on its own located line
        assert re.fullmatch(r"([^\n]+:\d+:\d+: [^\n]+\n)+", result.stderr), result.stderr
    else:
        assert result.stderr == "" and result.stdout.startswith(f"{path}: ok")


# ------------------------------------------------------------------ bugs the fuzzing found (minimal inputs)

def _load_and_build(text: str):
    """Load `text` as a routine and compile it; RoutineError is the one allowed failure."""
    routine = rt.load_text(text, "bug.yaml")
    options = Options(sample_rate=RATE, safety_text=SAFETY_TEXT)
    return compile(routine, fake_speech(routine, options), real_sounds(routine), options)


def _refused(text: str) -> None:
    with pytest.raises(RoutineError) as err:
        _load_and_build(text)
    assert re.fullmatch(r"bug\.yaml:\d+:\d+: [^\n]+", str(err.value)), str(err.value)


# loads and compiles argv[1] in a child with 2 GB of address space, so a hang cannot take the machine down
_CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
sys.path.insert(0, sys.argv[2])
from support.rules import build
from voicecoach import routines as routine
from voicecoach.errors import RoutineError
try:
    build(routine.load_text(sys.argv[1]))
except RoutineError:
    pass
"""


STEP = "steps: [{name: a, duration: 10}]\n"


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x9b", "\ufffe"])
def test_control_character_is_a_located_error(char):
    _refused(f"title: t{char}\n" + STEP)


@pytest.mark.parametrize("value", ["!!int abc", "!!bool maybe", "!!float x", "!!int 0x"])
def test_bad_explicitly_tagged_scalar_is_a_located_error(value):
    _refused(f"title: {value}\n" + STEP)


@pytest.mark.parametrize("field", [f"duration: 1{'0' * 400}", f"duration: '{'9' * 400}s'",
                                   f"duration: 10, prep: '{'9' * 400}s'",
                                   f"duration: 10, cues: [{{at: -1{'0' * 400}, say: x}}]",
                                   "duration: 10, cues: [{at: -.inf, say: x}]"])
def test_huge_or_infinite_number_is_a_located_error(field):
    _refused("title: t\nsteps: [{name: a, %s}]\n" % field)


def test_whitespace_only_cue_words_are_a_located_error():
    _refused("title: t\nsteps: [{name: a, duration: 10, cues: [{at: 2s, say: ' '}]}]\n")


@pytest.mark.parametrize("text", ["title: ' '\n" + STEP,
                                  "title: t\nsteps: [{name: ' ', duration: 10}]\n",
                                  "title: t\nsteps: [{name: a, duration: 10, sides: [' ']}]\n",
                                  "title: t\nsteps: [{name: a, duration: 10, say: '  '}]\n",
                                  "title: t\nsteps: [{name: a, duration: 10, halfway: ' '}]\n",
                                  "title: t\nintro: ' '\n" + STEP, "title: t\noutro: \"\\t\"\n" + STEP])
def test_whitespace_only_text_is_a_located_error(text):
    _refused(text)


@pytest.mark.parametrize("step", ['{name: a, duration: 10, cues: [{at: 2s, sound: "a\\0.wav"}]}',
                                  '{include: "a\\0.yaml"}'])
def test_nul_in_a_path_is_a_located_error(step):
    _refused(f"title: t\nsteps: [{step}]\n")


@pytest.mark.parametrize("text", ['title: t\n"a\\nb": 1\n' + STEP,
                                  'title: t\n"a\\nb": 1\n"a\\nb": 2\n' + STEP,
                                  'title: t\nsteps: [{include: "a\\nb"}]\n',
                                  'title: t\nsteps: [{name: a, duration: 5, cues: [{at: 2s, say: "Keep\\ngoing '
                                  'and going and going on"}]}]\n'])
def test_error_with_a_newline_in_the_routine_text_is_one_line(text):
    _refused(text)


@pytest.mark.parametrize("start_step", [1, 2], ids=["at-the-rest", "at-round-2"])
def test_starting_at_a_later_repetition_compiles(start_step):
    routine = rt.load_text("title: t\nsteps: [{name: a, duration: 5, repeat: 2, rest: 3}]\n")
    options = Options(sample_rate=RATE, safety_text=SAFETY_TEXT, start_step=start_step)
    check_rules(routine, compile(routine, fake_speech(routine, options), real_sounds(routine), options), options)


@pytest.mark.parametrize("text", ["title: t\ncountdown: 1000000000000\n" + STEP,
                                  "title: t\nsteps: [{name: a, duration: 1, repeat: 1000000000000}]\n",
                                  "title: t\nsteps: [{name: a, duration: 1000000000000, breathe: {in: 1, out: 1}}]\n"],
                         ids=["countdown", "repeat", "duration"])
def test_absurdly_large_values_are_refused_or_cheap(text):
    # a fixed routine takes well under a second here, start-up included
    child = subprocess.run([sys.executable, "-c", _CHILD, text, os.path.dirname(__file__)],
                           capture_output=True, text=True, timeout=4)
    assert child.returncode == 0, child.stderr
