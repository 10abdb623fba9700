"""Text made safe for one line: titles in tags and playlists, subtitles, error messages."""
from __future__ import annotations


def one_line(text: str) -> str:
    """Return `text` with every run of whitespace (newlines too) made one space, ends stripped."""
    return " ".join(text.split())


def quote(text: str, limit: int = 60) -> str:
    """`text` quoted for an error message: one line, cut to `limit` characters ('...' shows the cut).

    A message quotes what the user wrote; a whole file read by mistake must not fill the screen.
    """
    flat = one_line(str(text))
    return "'" + (flat if len(flat) <= limit else flat[: limit - 3] + "...") + "'"


def describe(value: object) -> str:
    """A YAML value named in words for an error message: 'a list', 'true (a boolean)', 'null (empty)'..."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if value is None:
        return "null (empty)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int) and abs(value) >= 10**20:
        return "a huge number"
    if isinstance(value, (int, float)):
        shown = str(value)
        return f"the number {shown if len(shown) <= 20 else shown[:17] + '...'}"
    if isinstance(value, str):
        return f"the text {quote(value)}"
    return f"a {type(value).__name__}"
