"""A small ASGI framework shared by the four provider emulators.

Each emulator is a plain ASGI app (no web framework, so it is fast enough not to be
the bottleneck of a benchmark). Subclasses implement :meth:`Emulator.handle`; this base
adds what every emulator needs:

* a log of every request it **accepted** (``accepted``), queryable in-process or over
  HTTP at ``GET /_emulator/log`` (``?key=`` / ``?target=`` filters) and
  ``GET /_emulator/counts`` (how many times each target and each key was accepted);
* knobs, set in-process (``emulator.knobs``) or with ``POST /_emulator/knobs``:
  ``latency_ms``, ``faults`` (``{code: probability}``, answered with the provider's own
  error shape via :meth:`Emulator.fault`), ``rate_limit`` (requests/s, answered with the
  provider's rate-limit error), ``fail_after_accept`` (probability of dropping the
  connection *after* accepting: the client sees no answer, the provider acted);
* credentials it accepts: ``emulator.credentials`` or ``PUT /_emulator/credentials``;
* ``POST /_emulator/reset`` to clear log and knobs.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass
class EmuRequest:
    """An incoming request with its raw body (signatures are checked over raw bytes)."""

    method: str
    path: str
    query_string: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.query_string, keep_blank_values=True).items()}

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class EmuResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    # Accept the request but drop the connection instead of answering.
    drop: bool = False

    @classmethod
    def json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> EmuResponse:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        merged = {"content-type": "application/json; charset=UTF-8", **(headers or {})}
        return cls(status, body, merged)


@dataclass
class Accepted:
    """One accepted request: its idempotency key, the targets it addressed, its payload."""

    at: float
    path: str
    key: str
    targets: tuple[str, ...]
    payload: Any


@dataclass
class Knobs:
    latency_ms: float = 0.0
    faults: dict[str, float] = field(default_factory=dict)
    rate_limit: float = 0.0  # requests per second; 0 = unlimited
    fail_after_accept: float = 0.0


class Emulator:
    """Base ASGI app of an emulator; subclasses set ``kind`` and implement ``handle``."""

    kind = ""

    def __init__(self, credentials: Mapping[str, str] | None = None, *, seed: int | None = None) -> None:
        self.credentials: dict[str, str] = dict(credentials or {})
        self.knobs = Knobs()
        self.accepted: list[Accepted] = []
        self.requests_seen = 0
        self.random = random.Random(seed)
        self._lock = threading.Lock()
        self._window_start = 0.0
        self._window_count = 0

    @classmethod
    def serve_options(cls) -> dict[str, Any]:
        """Return the extra constructor options ``manage.py run_emulators`` passes (none)."""
        return {}

    # -- to implement ------------------------------------------------------
    def handle(self, request: EmuRequest) -> EmuResponse:
        """Answer a provider API request (after knobs); call :meth:`accept` when it succeeds."""
        raise NotImplementedError

    def fault(self, code: str, request: EmuRequest) -> EmuResponse:
        """Return the provider's own error response for an injected fault ``code``."""
        raise NotImplementedError

    def rate_limited(self, request: EmuRequest) -> EmuResponse:
        """Return the provider's own rate-limit response."""
        raise NotImplementedError

    # -- helpers for subclasses -------------------------------------------
    def accept(
        self, request: EmuRequest, *, key: str, targets: tuple[str, ...] = (), payload: Any = None
    ) -> None:
        """Record that the provider acted on this request."""
        with self._lock:
            self.accepted.append(Accepted(time.time(), request.path, key, tuple(targets), payload))

    def counts_by_target(self) -> Counter:
        """Return how many accepted requests addressed each target."""
        with self._lock:
            return Counter(t for a in self.accepted for t in a.targets)

    def counts_by_key(self) -> Counter:
        """Return how many times each idempotency key was accepted."""
        with self._lock:
            return Counter(a.key for a in self.accepted)

    def reset(self) -> None:
        with self._lock:
            self.accepted.clear()
            self.requests_seen = 0
            self.knobs = Knobs()

    # -- knobs -------------------------------------------------------------
    def _over_rate(self) -> bool:
        if self.knobs.rate_limit <= 0:
            return False
        now = time.monotonic()
        with self._lock:
            if now - self._window_start >= 1.0:
                self._window_start, self._window_count = now, 0
            self._window_count += 1
            return self._window_count > self.knobs.rate_limit

    def _pick_fault(self) -> str | None:
        for code, probability in self.knobs.faults.items():
            if probability > 0 and self.random.random() < probability:
                return code
        return None

    def process(self, request: EmuRequest) -> EmuResponse:
        """Apply rate limit and faults, then ``handle`` (synchronous: usable without a server)."""
        with self._lock:
            self.requests_seen += 1
        if self._over_rate():
            return self.rate_limited(request)
        code = self._pick_fault()
        if code is not None:
            return self.fault(code, request)
        response = self.handle(request)
        if (
            response.status == 200
            and self.knobs.fail_after_accept > 0
            and self.random.random() < self.knobs.fail_after_accept
        ):
            response.drop = True
        return response

    # -- control endpoints -------------------------------------------------
    def _control(self, request: EmuRequest) -> EmuResponse:
        name = request.path.removeprefix("/_emulator/")
        if name == "log" and request.method == "GET":
            q = request.query
            with self._lock:
                rows = [
                    {
                        "at": a.at,
                        "path": a.path,
                        "key": a.key,
                        "targets": list(a.targets),
                        "payload": a.payload,
                    }
                    for a in self.accepted
                    if (not q.get("key") or a.key == q["key"])
                    and (not q.get("target") or q["target"] in a.targets)
                ]
            return EmuResponse.json(200, {"kind": self.kind, "accepted": rows})
        if name == "counts" and request.method == "GET":
            return EmuResponse.json(
                200,
                {
                    "requests_seen": self.requests_seen,
                    "accepted": len(self.accepted),
                    "by_target": dict(self.counts_by_target()),
                    "by_key": dict(self.counts_by_key()),
                },
            )
        if name == "knobs" and request.method == "POST":
            data = request.json()
            unknown = set(data) - set(Knobs.__dataclass_fields__)
            if unknown:
                return EmuResponse.json(400, {"error": f"unknown knobs: {sorted(unknown)}"})
            for key, value in data.items():
                setattr(self.knobs, key, value)
            return EmuResponse.json(200, self.knobs.__dict__)
        if name == "credentials" and request.method == "PUT":
            self.credentials.update(request.json())
            return EmuResponse.json(200, {"accounts": sorted(self.credentials)})
        if name == "reset" and request.method == "POST":
            self.reset()
            return EmuResponse.json(200, {"reset": True})
        return EmuResponse.json(404, {"error": f"no control endpoint {request.method} {request.path}"})

    # -- ASGI --------------------------------------------------------------
    async def __call__(self, scope: dict, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        request = EmuRequest(
            method=scope["method"],
            path=scope["path"],
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]},
            body=b"".join(chunks),
        )
        if request.path.startswith("/_emulator/"):
            response = self._control(request)
        else:
            if self.knobs.latency_ms > 0:
                await asyncio.sleep(self.knobs.latency_ms / 1000)
            response = self.process(request)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()]
        headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if response.drop:
            # The provider acted but the answer never arrives whole: the server aborts the
            # connection mid-response and the client sees a protocol error, not an answer.
            raise ConnectionAbortedError("emulator dropped the connection after accepting")
        await send({"type": "http.response.body", "body": response.body})
