"""Serve one provider emulator in a process of its own: ``python -m bench.emulator_server FD``.

The benchmark binds the listening socket (127.0.0.1, a free port) and passes its file
descriptor ``FD``; the emulator's configuration (kind, credentials, constructor options)
arrives as JSON on stdin, so secrets never appear in the process list. The emulator is the
one the tests and ``manage.py run_emulators`` use (``providers.emulators``), served by
uvicorn with uvloop and httptools in its own process, so it does not share a GIL with the
client it is measured against. SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import json
import socket
import sys

import uvicorn

from providers.emulators import emulator_class


def main() -> None:
    fd = int(sys.argv[1])
    config = json.loads(sys.stdin.read())
    sock = socket.socket(fileno=fd)
    app = emulator_class(config["kind"])(config.get("credentials") or {}, **(config.get("options") or {}))
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
