"""`voicecoach settings`: every effective setting and where it comes from, like `git config --show-origin`."""
from __future__ import annotations

import json
import shlex
from typing import Optional

import typer

from .app import PLAY, ROUTINE_HELP, app, complete_routine, handled, noted, resolved, with_options


@app.command("settings")
@with_options(PLAY)
def settings_cmd(
    routine: Optional[str] = typer.Argument(None, help=ROUTINE_HELP + " Its voice and bed count too.",
                                            autocompletion=complete_routine),
    as_json: bool = typer.Option(False, "--json", help="Print the settings as JSON, for scripts."),
    given: dict = None,
) -> None:
    """Show every effective setting and where it comes from: an option, the routine, the config file, the default."""
    import voicecoach as vc

    with handled():
        settings = resolved(given, vc.load(routine) if routine else None)
        noted(settings.to_voice())  # why this engine, when it is not the one expected
    if as_json:
        typer.echo(json.dumps(_as_dict(settings), indent=2, ensure_ascii=False))
        return
    rows = [(name, shown(value), origin) for name, value, origin in settings.rows()]
    width = max(len(value) for _, value, _ in rows)
    for name, value, origin in rows:
        typer.echo(f"{name:<16}  {value:<{width}}  {origin}")
    typer.echo(f"config file: {_config_file(settings)}")


def shown(value) -> str:
    """A setting's value as the config file would write it: true/false, a command line, '-' for none."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return shlex.join(value)
    return str(value)


def _config_file(settings) -> str:
    from ..paths import config_path

    path = settings.config.path
    return str(path) if path is not None else f"{config_path()} (none)"


def _as_dict(settings) -> dict:
    from ..paths import config_path

    return {"config_file": str(settings.config.path or config_path()), "config_file_found": settings.config.path
            is not None, "settings": {name: {"value": list(value) if isinstance(value, tuple) else value,
                                              "origin": origin} for name, value, origin in settings.rows()}}
