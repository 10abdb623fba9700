"""Text made safe for one line: titles in tags and playlists, subtitles, error messages."""
from __future__ import annotations


def one_line(text: str) -> str:
    """Return `text` with every run of whitespace (newlines too) made one space, ends stripped."""
    return " ".join(text.split())
