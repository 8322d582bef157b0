"""Fixtures for provider tests: emulators served over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from providers.emulators import emulator_class
from providers.emulators.server import EmulatorServer

StartEmulator = Callable[..., EmulatorServer]


@pytest.fixture
def start_emulator() -> Iterator[StartEmulator]:
    """Return ``start(kind, credentials, **options) -> EmulatorServer``; all stop at teardown.

    ``credentials`` is the kind's mapping documented in ``providers.emulators``
    (e.g. ``{access_key: secret_key}`` for Binance); ``options`` go to the emulator's
    constructor (``seed=``, ``ts_window=`` …). The running emulator is ``server.app``
    (knobs, ``accepted`` log) and its base URL ``server.url``.
    """
    servers: list[EmulatorServer] = []

    def start(kind: str, credentials: Mapping[str, str], **options: Any) -> EmulatorServer:
        app = emulator_class(kind)(credentials, **options)
        server = EmulatorServer(app).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


class ForeignServer:
    """A real HTTP server on 127.0.0.1 that is no provider: it answers every request with
    ``status`` and ``body`` and keeps what it received (to prove what reached it)."""

    def __init__(self, status: int = 200, body: bytes = b"", content_type: str = "text/html") -> None:
        import http.server
        import threading

        self.status, self.body, self.content_type = status, body, content_type
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.received.append((self.path, dict(self.headers), self.rfile.read(length)))
                self.send_response(outer.status)
                self.send_header("Content-Type", outer.content_type)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, *args: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def foreign_server() -> Iterator[Callable[..., ForeignServer]]:
    """Return ``start(status=, body=, content_type=) -> ForeignServer``; all stop at teardown."""
    servers: list[ForeignServer] = []

    def start(**options: Any) -> ForeignServer:
        server = ForeignServer(**options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
