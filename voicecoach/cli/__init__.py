"""The command line (`voicecoach`, also `python -m voicecoach`): parse, make one library call, print.

app.py holds the Typer app and the shared options; each module here adds one
group of commands to it. Importing this package registers them all.
"""
from . import routines, playback, practice, settings, cache, serve  # noqa: F401,I001  (each registers its commands, in help order)
from .app import app

__all__ = ["app", "main"]


def main() -> None:
    """Console entry point."""
    app()
