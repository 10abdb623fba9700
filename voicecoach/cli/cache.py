"""`voicecoach cache`: where the speech cache is, how big, its limit; `--clear` empties it."""
from __future__ import annotations

import typer

from .app import app, handled, resolved


def size_text(n: int) -> str:
    """Bytes as people read them: 0 bytes, 812 KB, 12.4 MB, 1.2 GB (powers of 1000, as the limit is given)."""
    if n < 1000:
        return f"{n} bytes"
    for unit, scale in (("KB", 1000), ("MB", 1000**2), ("GB", 1000**3), ("TB", 1000**4)):
        if n < scale * 1000 or unit == "TB":
            value = n / scale
            return f"{value:.1f} {unit}".replace(".0 ", " ") if value < 100 else f"{value:.0f} {unit}"
    raise AssertionError("unreachable")


def _clips(n: int) -> str:
    return f"{n} clip" if n == 1 else f"{n} clips"


def _episodes(n: int) -> str:
    return f"{n} episode" if n == 1 else f"{n} episodes"


@app.command()
def cache(
    clear: bool = typer.Option(False, "--clear", help="Remove every cached clip (they are spoken again "
                                                      "when needed), the voice models kept ready to load and "
                                                      "serve's episodes, and say how much was freed."),
) -> None:
    """Show the speech cache's folder, size, number of clips and size limit; `--clear` empties it."""
    from ..serve import episodes
    from ..speech import cache as clipcache

    with handled():
        served = episodes.cache_folder()
        if clear:
            _clear(clipcache.cache_dir(), served)
            return
        found = clipcache.state(limit=resolved({}).cache_limit)  # a bad config file: its one-line error
        size, count = episodes.usage(served)
    _print_state(found, size, count, served)


def _clear(folder, served) -> None:
    from ..serve import episodes
    from ..speech import cache as clipcache

    freed, clips = clipcache.clear(folder)
    typer.echo(f"freed {size_text(freed)} ({_clips(clips)}) from {folder}")
    freed, count = episodes.clear(served)
    if freed:
        typer.echo(f"freed {size_text(freed)} ({_episodes(count)}) from {served}")


def _print_state(found, size: int, count: int, served) -> None:
    typer.echo(f"folder  {found.folder}")
    typer.echo(f"size    {size_text(found.size)} in {_clips(found.clips)}")
    where = "cache_limit in the config file" if found.limit_set else "the default; set cache_limit in the config file"
    typer.echo(f"limit   {size_text(found.limit)} ({where})")
    if found.models:
        typer.echo(f"models  {size_text(found.models)} of voice models kept ready to load (--clear removes them)")
    if found.older:
        typer.echo(f"older   {size_text(found.older)} in earlier cache formats, unused (--clear removes them)")
    if size:  # made by `voicecoach serve`, beside the clips (--clear removes them too)
        typer.echo(f"served  {size_text(size)} in {_episodes(count)} of voicecoach serve, in {served}")
