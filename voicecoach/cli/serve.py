"""`voicecoach serve`: the phone gets every routine and today's plan as a podcast feed and a web page."""
from __future__ import annotations

from typing import Optional

import typer

from .app import (BED, RENDER, VOICE, VOLUME, app, console_progress, error_line, handled, noted, resolved,
                  with_options)


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


def _problem(exc) -> None:
    """A problem while serving (an episode that cannot be made, a failed request): one line, and it goes on."""
    from ..errors import VoicecoachError

    typer.echo(error_line(exc) if isinstance(exc, VoicecoachError) else f"voicecoach: {type(exc).__name__}: {exc}",
               err=True)


def _rendered_again(episode) -> None:
    typer.echo(f"rendered {episode.title} again: it changed")


HostOpt = typer.Option(None, "--host", help="The address to listen on (default: this machine's address on the "
                                            "local network; 127.0.0.1 for this machine only).")
PortOpt = typer.Option(None, "--port", min=0, max=65535, help="The port to listen on (default 8765; 0: any free one).")
SERVE = (("serve_host", Optional[str], HostOpt), ("serve_port", Optional[int], PortOpt))


@app.command()
@with_options(SERVE, VOICE, VOLUME, RENDER, BED)
def serve(
    no_qr: bool = typer.Option(False, "--no-qr", help="Leave out the QR code of the page's address."),
    new_token: bool = typer.Option(False, "--new-token", help="Make a new secret for the addresses; "
                                                              "the old subscriptions stop working."),
    given: dict = None,
) -> None:
    """Serve every routine and today's plan to a phone: a podcast feed with chapters, and a web player."""
    import voicecoach as vc
    from ..serve import qr_text

    with handled():
        try:
            settings = resolved(given)
            noted(settings.to_voice())  # the engine's note, here in the main thread: the episodes are made in workers
            phone = vc.open_phone(settings, new_token, on_problem=_in_main(_problem), progress=console_progress)
            phone.catalogue.on_render = _in_main(_rendered_again)
            typer.echo(f"Page: {phone.base}\nFeed: {phone.base}feed.xml" + ("" if no_qr else "\n" + qr_text(phone.base)),
                       nl=no_qr)
            vc.serve_phone(phone, on_download=_download, on_error=_problem)
        except KeyboardInterrupt:
            pass  # Ctrl-C is how a server is stopped: not an error
    typer.echo("Stopped.")
