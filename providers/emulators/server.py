"""Serve emulators over real HTTP on 127.0.0.1: in a background thread (tests) or blocking.

uvicorn with httptools keeps the emulator well above what one client can send, so a
benchmark measures Crier, not the emulator.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Mapping

import uvicorn

from providers.emulators.base import Emulator


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this. Without it every answer after the first on a
    # kept-alive connection waited ~40 ms (Nagle against the client's delayed ACK: the
    # headers and the body go out as two writes), capping one client near 23 requests/s.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _config(app: Emulator) -> uvicorn.Config:
    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30)


class EmulatorServer:
    """An emulator served in a daemon thread on a free (or given) port of 127.0.0.1."""

    def __init__(self, app: Emulator, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self._sock = _bind(host, port)
        self.port = self._sock.getsockname()[1]
        self._server = uvicorn.Server(_config(app))
        self._thread = threading.Thread(target=self._run, name=f"emulator-{app.kind}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def start(self) -> EmulatorServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"emulator {self.app.kind} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(apps: Mapping[int, Emulator], host: str = "127.0.0.1") -> None:
    """Serve each emulator on its port until interrupted (``manage.py run_emulators``)."""

    async def main() -> None:
        servers = [uvicorn.Server(_config(app)) for app in apps.values()]
        sockets = [_bind(host, port) for port in apps]
        await asyncio.gather(*(s.serve(sockets=[sock]) for s, sock in zip(servers, sockets, strict=True)))

    asyncio.run(main())
