"""Serve one provider emulator in a process of its own: ``python -m bench.emulator_server FD``.

The benchmark binds the listening socket (127.0.0.1, a free port) and passes its file
descriptor ``FD``; the emulator's configuration (kind, credentials, constructor options)
arrives as JSON on stdin, so secrets never appear in the process list. The emulator is the
one the tests and ``manage.py run_emulators`` use (``providers.emulators``), served by
uvicorn with uvloop and httptools in its own process, so it does not share a GIL with the
client it is measured against. SIGTERM or SIGINT stops it.

For audiences of millions the benchmark asks ``GET /_bench/summary`` instead of
``/_emulator/counts`` (whose per-target map would be a JSON document of 10,000,000 keys):
the same exactly-once check, computed in the emulator's process from its own records
(``Emulator.counts_by_target``), answered as a few numbers. With ``"keep_payloads":
false`` the emulator forgets each accepted request's body (the targets stay): a
10,000,000-id run would otherwise hold every id twice.
"""

from __future__ import annotations

import json
import socket
import sys

import uvicorn

from providers.emulators import emulator_class
from providers.emulators.base import EmuResponse


class BenchEmulator:
    """The emulator, plus ``GET /_bench/summary``: accepted requests, distinct targets,
    targets accepted more than once, and the first/last acceptance times (the emulator's
    own clock)."""

    def __init__(self, app, *, keep_payloads: bool = True) -> None:
        self.app = app
        if not keep_payloads:
            accept = app.accept

            def accept_without_payload(request, *, key, targets=(), payload=None):
                accept(request, key=key, targets=targets, payload=None)

            app.accept = accept_without_payload

    def summary(self) -> dict:
        by_target = self.app.counts_by_target()
        with self.app._lock:
            times = [a.at for a in self.app.accepted]
            keys = len({a.key for a in self.app.accepted})
        return {
            "requests_seen": self.app.requests_seen,
            "accepted": len(times),
            "distinct_keys": keys,
            "distinct_targets": len(by_target),
            "targets_more_than_once": sum(1 for n in by_target.values() if n > 1),
            "first_at": min(times, default=None),
            "last_at": max(times, default=None),
        }

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == "/_bench/summary":
            response = EmuResponse.json(200, self.summary())
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(response.body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": response.body})
            return
        await self.app(scope, receive, send)


def main() -> None:
    fd = int(sys.argv[1])
    config = json.loads(sys.stdin.read())
    sock = socket.socket(fileno=fd)
    app = emulator_class(config["kind"])(config.get("credentials") or {}, **(config.get("options") or {}))
    app = BenchEmulator(app, keep_payloads=config.get("keep_payloads", True))
    loop = config.get("loop", "uvloop")  # "asyncio" to compare with run_emulators' event loop
    if loop == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
            loop = "asyncio"
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            loop=loop,
            http="httptools",
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=60,
            backlog=2048,
        )
    )
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
