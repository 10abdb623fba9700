"""The phone's service made ready: the token, the listening socket, every episode rendered, the page's address.

The library side of `voicecoach serve`, callable from Python: `open_phone(settings)`
then `serve_phone(phone)`, which runs until Ctrl-C.
"""
from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Phone:
    """A service ready to run: its catalogue of episodes, the secret token, the bound socket, the page's address."""

    catalogue: object  # episodes.Catalogue
    token: str
    sock: socket.socket
    base: str  # http://HOST:PORT/t/TOKEN/, the address a phone on the local network opens


def _quiet(label: str):
    return contextlib.nullcontext(None)


def open_phone(settings, new_token: bool = False, on_problem: Callable | None = None,
               progress: Callable = _quiet) -> Phone:
    """Bind settings.serve_host (default: this machine's address on the local network) and serve_port, and
    render what is missing with `settings` (its voice, its bed); `progress(label)` reports the rendering."""
    from ..session import options_for
    from . import Catalogue, bind, cache_folder, lan_address, load_token

    token = load_token(new_token)
    host = settings.serve_host or lan_address()
    sock = bind(host, settings.serve_port)
    catalogue = Catalogue(cache_folder(), settings.voice_of, options_for(settings), on_problem=on_problem,
                          limit=settings.cache_limit)
    catalogue.check_folder()
    with progress("Rendering episodes") as report:
        catalogue.render_missing(report)
    shown = lan_address() if host in ("0.0.0.0", "::") else host  # every address: show the one a phone uses
    base = f"http://{shown if ':' not in shown else f'[{shown}]'}:{sock.getsockname()[1]}/t/{token}/"
    return Phone(catalogue, token, sock, base)


def serve_phone(phone: Phone, on_download: Callable | None = None, on_error: Callable | None = None) -> None:
    """Serve the feed and the page until the process is interrupted (Ctrl-C)."""
    from . import App, run

    run(App(phone.catalogue, phone.token, phone.base, on_download=on_download, on_error=on_error), phone.sock)
