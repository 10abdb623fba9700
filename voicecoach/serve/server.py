"""Running the app: uvicorn on a socket bound beforehand, quiet, with a cap on connections."""
from __future__ import annotations

import socket

# At most this many connections are served at once (uvicorn answers 503 beyond it), and an idle
# keep-alive connection is closed after KEEP_ALIVE seconds, so a slow or stuck client cannot hold the server.
MAX_CONNECTIONS = 48
KEEP_ALIVE = 5
GRACE = 2  # seconds Ctrl-C waits for downloads in flight before it closes them


def run(app, sock: socket.socket) -> None:
    """Serve `app` on the listening `sock` until Ctrl-C (then KeyboardInterrupt is raised, as uvicorn does)."""
    import uvicorn

    config = uvicorn.Config(app, log_config=None, log_level="error", access_log=False, lifespan="off",
                            limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=KEEP_ALIVE,
                            timeout_graceful_shutdown=GRACE, server_header=False, date_header=True,
                            proxy_headers=False)  # no proxy in front: a forwarded-for header is a lie
    uvicorn.Server(config).run(sockets=[sock])


def qr_text(url: str) -> str:
    """The URL as a QR code in text for a terminal (half blocks: two rows of modules a line)."""
    import io

    import segno

    out = io.StringIO()
    segno.make(url, error="m").terminal(out=out, compact=True)
    return out.getvalue()
