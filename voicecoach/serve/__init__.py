"""The phone: a podcast feed and a web player of every routine and today's plan, on the home network.

`episodes` renders and keeps the files (each the file `export` writes; `storage`
says where, `today` joins today's plan into one session), `feed`
writes the RSS, `app` answers HTTP under the secret token path, `server` runs it.
"""
from .address import DEFAULT_PORT, LOOPBACK, bind, lan_address
from .app import App, Download
from .episodes import Catalogue, Rendered, cache_folder
from .server import qr_text, run
from .token import load_token, token_path

__all__ = ["DEFAULT_PORT", "LOOPBACK", "App", "Catalogue", "Download", "Rendered", "bind", "cache_folder", "lan_address",
           "load_token", "qr_text", "run", "token_path"]
