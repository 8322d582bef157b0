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
