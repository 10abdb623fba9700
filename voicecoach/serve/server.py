"""Running the app: uvicorn on a socket bound beforehand, quiet, with a cap on connections."""
from __future__ import annotations

import socket

# At most this many connections are served at once (uvicorn answers 503 beyond it), an idle
# keep-alive connection is closed after KEEP_ALIVE seconds, and a connection that has not sent a
# whole request head within HEAD_TIMEOUT seconds is closed: so slow or silent clients cannot hold
# the server (uvicorn alone waits for a first request for ever: 60 silent connections made it
# answer 503 to everyone for as long as they stayed open).
MAX_CONNECTIONS = 48
KEEP_ALIVE = 5
HEAD_TIMEOUT = 10
GRACE = 2  # seconds Ctrl-C waits for downloads in flight before it closes them


def _protocol():
    """uvicorn's h11 protocol with a deadline for each request's head (its own keep-alive timer
    starts only after a response, and any byte received cancels it)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class Protocol(H11Protocol):
        _deadline = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def connection_lost(self, exc) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = self.loop.call_later(HEAD_TIMEOUT, self._too_slow, self.cycle)

        def _too_slow(self, cycle_then) -> None:
            # still no new request under way since the deadline was set: the head never came whole
            if self.cycle is cycle_then and (cycle_then is None or cycle_then.response_complete):
                self.transport.close()

    return Protocol


def run(app, sock: socket.socket) -> None:
    """Serve `app` on the listening `sock` until Ctrl-C (then KeyboardInterrupt is raised, as uvicorn does)."""
    import uvicorn

    config = uvicorn.Config(app, http=_protocol(), log_config=None, log_level="error", access_log=False,
                            lifespan="off", limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=KEEP_ALIVE,
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
