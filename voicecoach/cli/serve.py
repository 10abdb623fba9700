"""`voicecoach serve`: the phone gets every routine and today's plan as a podcast feed and a web page."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import (BackgroundLevelOpt, BackgroundOpt, DuckOpt, EngineOpt, NoBackgroundOpt, NoSafetyOpt, SampleRateOpt,
                  ScaleOpt, TtsOpt, VoiceModelOpt, VoiceOpt, VolumeOpt, WpmOpt, app, console_progress, error_line,
                  handled, noted)


def _download(d) -> None:
    from datetime import datetime

    typer.echo(f"{datetime.now():%H:%M:%S} {d.client} {d.title} ({d.size / 1e6:.1f} MB)")


def _in_main(say):
    """`say` run in the main thread, the server's event loop, when called from one of its worker threads
    (where the episodes are made): the terminal's lines come from one thread."""
    import threading

    def call(arg) -> None:
        if threading.current_thread() is threading.main_thread():
            say(arg)
        else:
            import anyio.from_thread

            anyio.from_thread.run_sync(say, arg)

    return call


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, "--host", help="The address to listen on (default: this machine's "
                                                            "address on the local network; 127.0.0.1 for "
                                                            "this machine only)."),
    port: Optional[int] = typer.Option(None, "--port", min=0, max=65535,
                                       help="The port to listen on (default 8765; 0: any free one)."),
    no_qr: bool = typer.Option(False, "--no-qr", help="Leave out the QR code of the page's address."),
    new_token: bool = typer.Option(False, "--new-token", help="Make a new secret for the addresses; "
                                                              "the old subscriptions stop working."),
    voice: Optional[str] = VoiceOpt,
    wpm: Optional[int] = WpmOpt,
    volume: Optional[float] = VolumeOpt,
    tts_command: Optional[str] = TtsOpt,
    engine: Optional[str] = EngineOpt,
    voice_model: Optional[Path] = VoiceModelOpt,
    scale: float = ScaleOpt,
    no_safety: bool = NoSafetyOpt,
    sample_rate: int = SampleRateOpt,
    background: Optional[str] = BackgroundOpt,
    no_background: bool = NoBackgroundOpt,
    duck: Optional[float] = DuckOpt,
    background_level: Optional[float] = BackgroundLevelOpt,
) -> None:
    """Serve every routine and today's plan to a phone: a podcast feed with chapters, and a web player."""
    from ..config import load_config
    from ..serve import DEFAULT_PORT, App, Catalogue, bind, cache_folder, lan_address, load_token, qr_text, run
    from ..session import options
    from .choice import sound_choice

    def problem(exc):
        from ..errors import VoicecoachError

        line = error_line(exc) if isinstance(exc, VoicecoachError) else f"voicecoach: {type(exc).__name__}: {exc}"
        typer.echo(line, err=True)

    with handled():
        try:
            cfg = load_config()
            token = load_token(new_token)
            host = host or cfg.serve_host or lan_address()
            sock = bind(host, next(p for p in (port, cfg.serve_port, DEFAULT_PORT) if p is not None))
            pick, bed = sound_choice(cfg, voice, wpm, volume, tts_command, engine, voice_model, background,
                                     no_background, duck, background_level)
            noted(pick(None))  # the engine's note, here in the main thread: the episodes are made in workers
            opts = options(sample_rate, scale, not no_safety, background=bed)
            catalogue = Catalogue(cache_folder(), pick, opts, on_problem=_in_main(problem))
            catalogue.check_folder()
            with console_progress("Rendering episodes") as report:
                catalogue.render_missing(report)
            catalogue.on_render = _in_main(lambda ep: typer.echo(f"rendered {ep.title} again: it changed"))
            shown = lan_address() if host in ("0.0.0.0", "::") else host  # every address: show the one a phone uses
            base = f"http://{shown if ':' not in shown else f'[{shown}]'}:{sock.getsockname()[1]}/t/{token}/"
            typer.echo(f"Page: {base}\nFeed: {base}feed.xml")
            if not no_qr:
                typer.echo(qr_text(base), nl=False)
            run(App(catalogue, token, base, on_download=_download, on_error=problem), sock)
        except KeyboardInterrupt:
            pass  # Ctrl-C is how a server is stopped: not an error
    typer.echo("Stopped.")
