"""Safe YAML reading that remembers where every value stood in the file.

PyYAML's composer builds a node graph without constructing any object, so a
`!!python/...` tag is only a string on a node here and is refused before
anything could be built. Aliases are followed with a budget, so an alias bomb
is refused in milliseconds instead of eating memory.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import text
from ..errors import RoutineError

MAX_BYTES = 1_000_000
MAX_VALUES = 20_000
_STD = "tag:yaml.org,2002:"
_PLAIN = "a routine holds only plain YAML: text, numbers, true/false, lists and mappings"
_SCALAR_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null")}


@dataclass
class Node:
    """A value with its 1-based line and column; mappings keep each key's place too."""

    value: Any  # str, int, float, bool, None, list[Node] or dict[str, Node]
    line: int
    col: int
    keys: dict[str, tuple[int, int]] = field(default_factory=dict)

    def plain(self) -> Any:
        """The value with every Node unwrapped (for lists and mappings)."""
        if isinstance(self.value, list):
            return [n.plain() for n in self.value]
        if isinstance(self.value, dict):
            return {k: n.plain() for k, n in self.value.items()}
        return self.value


def read(path: Path) -> Node:
    """Read and parse a routine file; every problem is a RoutineError naming the file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RoutineError(path, 1, 1, "no such file") from None
    except IsADirectoryError:
        raise RoutineError(path, 1, 1, "is a folder; expected a routine file (.yaml)") from None
    except OSError as exc:
        raise RoutineError(path, 1, 1, f"cannot be read: {exc.strerror or exc}") from None
    return parse(data, str(path))


def parse(data: bytes, source: str) -> Node:
    """Parse YAML bytes into located Nodes; the top level must be a mapping."""
    if len(data) > MAX_BYTES:
        raise RoutineError(source, 1, 1, f"is larger than {MAX_BYTES // 1000} kB; expected a routine file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise RoutineError(
            source, line, col, f"is not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        ) from None
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # its reader already refuses control characters
        root = loader.get_single_node()
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        raise RoutineError(source, line, col, f"the character {exc.character!r} is not allowed in a "
                                              "routine; expected printable text") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if "block" in problem:
            problem += " (check the indentation)"
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise RoutineError(source, line, col, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise RoutineError(source, 1, 1, f"invalid YAML: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()
    if root is None:
        raise RoutineError(source, 1, 1, "the file is empty; expected a routine with 'title' and 'steps'")
    node = _Walker(source, loader).walk(root)
    if not isinstance(node.value, dict):
        found = describe(node.value)
        raise RoutineError(
            source, node.line, node.col, f"expected a routine (a mapping with 'title' and 'steps'), found {found}"
        )
    return node


def describe(value: Any) -> str:
    """How a value is named in an error message: 'a list', 'the number 3', 'true (a boolean)'..."""
    return text.describe(value)


class _Walker:
    def __init__(self, source: str, loader: yaml.SafeLoader):
        self.source = source
        self.loader = loader
        self.budget = MAX_VALUES

    def fail(self, node: yaml.Node, message: str) -> RoutineError:
        mark = node.start_mark
        return RoutineError(self.source, mark.line + 1, mark.column + 1, message)

    def walk(self, node: yaml.Node) -> Node:
        self.budget -= 1
        if self.budget < 0:
            raise self.fail(node, f"holds more than {MAX_VALUES} values (an alias bomb?); expected a routine")
        line, col = node.start_mark.line + 1, node.start_mark.column + 1
        tag = node.tag or ""
        if isinstance(node, yaml.ScalarNode):
            if tag not in _SCALAR_TAGS:
                raise self.fail(node, f"the tag {_short(tag)} is not allowed; {_PLAIN}")
            try:
                return Node(self.loader.construct_object(node), line, col)
            except (ValueError, KeyError, OverflowError):
                raise self.fail(node, f"{text.quote(node.value)} is not a valid {_short(tag)} value") from None
        if isinstance(node, yaml.SequenceNode):
            if tag != _STD + "seq":
                raise self.fail(node, f"the tag {_short(tag)} is not allowed; {_PLAIN}")
            return Node([self.walk(item) for item in node.value], line, col)
        if tag != _STD + "map":
            raise self.fail(node, f"the tag {_short(tag)} is not allowed; {_PLAIN}")
        out: dict[str, Node] = {}
        keys: dict[str, tuple[int, int]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _SCALAR_TAGS:
                raise self.fail(key_node, "expected a plain key (a word like 'duration')")
            if key_node.tag == _STD + "merge" or key_node.value == "<<":
                raise self.fail(key_node, "merge keys ('<<') are not supported; write the fields out")
            key = str(self.loader.construct_object(key_node))
            if key in out:
                raise self.fail(key_node, f"duplicate key '{key}'; each key may appear once")
            keys[key] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.walk(value_node)
        return Node(out, line, col, keys)


def _short(tag: str) -> str:
    tag = "!!" + tag[len(_STD):] if tag.startswith(_STD) else tag
    return tag if len(tag) <= 60 else tag[:57] + "..."  # an author's tag, quoted in one short line
