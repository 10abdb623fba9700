"""Located YAML values checked one by one: each problem is noted with its FILE:LINE:COL, and checking goes on.

The base of the routine Validator; the config and schedule files use its checks too.
"""
from __future__ import annotations

import difflib
from pathlib import Path

from . import document
from .document import Node
from .model import MAX_COUNTDOWN, Where
from ..duration import parse_duration, _seconds, DURATION_HELP
from ..errors import RoutineError, RoutineProblems
from ..text import quote


class Checker:
    """Checks located YAML values, noting every problem it can find in one pass.

    A field that is wrong is noted and left out, so the fields after it are checked
    too; `done()` raises one RoutineProblems listing them all, in file order.
    """

    def __init__(self, path: Path, stack: tuple[str, ...], source_name: str | None = None):
        self.path = path
        self.source = source_name or str(path)
        self.stack = stack + (str(path.resolve()),)
        self.problems: list[RoutineError] = []

    def at(self, node: Node) -> Where:
        return Where(self.source, node.line, node.col)

    def fail(self, node: Node, message: str) -> RoutineError:
        return self.at(node).error(message)

    def key_fail(self, mapping: Node, key: str, message: str) -> RoutineError:
        line, col = mapping.keys.get(key, (mapping.line, mapping.col))
        return RoutineError(self.source, line, col, message)

    def note(self, exc: RoutineError) -> None:
        """Keep a problem and go on checking."""
        for problem in getattr(exc, "problems", (exc,)):
            if str(problem) not in {str(p) for p in self.problems}:
                self.problems.append(problem)

    def attempt(self, make, default=None):
        """make(), or `default` with the problem noted when it raises a RoutineError."""
        try:
            return make()
        except RoutineError as exc:
            self.note(exc)
            return default

    def field(self, fields: dict[str, Node], key: str, parse, default=None):
        """parse(fields[key]) when the key is there and valid, else `default`."""
        return self.attempt(lambda: parse(fields[key]), default) if key in fields else default

    def check_keys(self, mapping: Node, allowed: tuple[str, ...], what: str) -> None:
        """Raise for the first unknown key (the config and schedule files stop at their first problem)."""
        for problem in self.unknown_keys(mapping, allowed, what)[0]:
            raise problem

    def keys(self, mapping: Node, allowed: tuple[str, ...], what: str) -> set[str]:
        """Note every unknown key; return the keys suggested for them (a typo is not also a missing key)."""
        problems, meant = self.unknown_keys(mapping, allowed, what)
        for problem in problems:
            self.note(problem)
        return meant

    def unknown_keys(self, mapping: Node, allowed: tuple[str, ...], what: str) -> tuple[list[RoutineError], set[str]]:
        problems, meant = [], set()
        for key in mapping.value:
            if key not in allowed:
                near = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean '{near[0]}'? " if near else ""
                meant.update(near)
                problems.append(self.key_fail(mapping, key, f"unknown key {quote(key, 40)} in {what}; {hint}"
                                                            "expected one of: " + ", ".join(allowed)))
        return problems, meant

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
            raise self.fail(node, f"expected a whole number from {low} to {high} for {what}, "
                                  f"found {document.describe(value)}")
        return value

    def countdown(self, node: Node) -> int:
        return self.whole(node, "countdown (ticks in the last seconds)", 0, MAX_COUNTDOWN)

    def volume(self, node: Node) -> float:
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise self.fail(node, f"expected a volume from 0 to 1, found {document.describe(v)}")
        return float(v)

    def seconds(self, node: Node, what: str, zero_ok: bool = False) -> float:
        if zero_ok:
            value = _seconds(node.value)
            if value is None or value < 0:
                raise self.fail(node, f"{what}: expected {DURATION_HELP}, found {_found(node.value)}")
            return value
        try:
            return parse_duration(node.value)
        except ValueError as exc:
            raise self.fail(node, f"{what}: {exc}") from None

    def done(self) -> None:
        """Raise every problem noted so far as one RoutineProblems (own file first, in file order)."""
        if self.problems:
            mine = sorted((p for p in self.problems if p.source == self.source), key=lambda p: (p.line, p.col))
            raise RoutineProblems(mine + [p for p in self.problems if p.source != self.source])


def _found(value: object) -> str:
    return quote(value, 40) if isinstance(value, str) else document.describe(value)
