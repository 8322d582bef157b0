"""A local Kestrel push service (see ``provider.py`` for the wire format).

``credentials``: ``{api_key: api_secret}``. It checks the HMAC signature and a timestamp
within 300 s, the body's schema, the ``ttl``/``sound`` rules and the idempotency key: a key
seen before with the same body answers the first id and is not delivered again; with
another body it is 409. Accepted requests are logged with their users as targets, so
``counts_by_target()`` says how many times each user got a message.
"""

from __future__ import annotations

import hmac
import json
import time
import uuid
from typing import Any

from providers.emulators.base import Emulator, EmuRequest, EmuResponse
from tests.fifth_provider.provider import MAX_USERS, PATH, SOUNDS, TEMPLATE, TTL_RANGE, signature

TIME_WINDOW = 300
MAX_PREVIEW_USERS = 3


class KestrelEmulator(Emulator):
    kind = "kestrel"

    def __init__(self, credentials: Any = None, *, seed: int | None = None) -> None:
        super().__init__(credentials, seed=seed)
        self.sent: dict[str, tuple[bytes, str]] = {}  # idempotency key -> (body, message id)

    def handle(self, request: EmuRequest) -> EmuResponse:
        if request.method != "POST" or request.path != PATH:
            return EmuResponse.json(404, {"error": "not_found"})
        if not self._authentic(request):
            return EmuResponse.json(401, {"error": "unauthorized"})
        try:
            body = json.loads(request.body)
        except ValueError:
            return EmuResponse.json(400, {"error": "bad_request", "detail": "the body is not JSON"})
        problem = _problem(body) if isinstance(body, dict) else "the body must be an object"
        if problem:
            return EmuResponse.json(400, {"error": "bad_request", "detail": problem})
        key = body["idempotency_key"]
        with self._lock:
            seen = self.sent.get(key)
            if seen is None:
                seen = self.sent[key] = (
                    request.body,
                    f"kt-{uuid.UUID(int=self.random.getrandbits(128)).hex}",
                )
                fresh = True
            else:
                fresh = False
        if seen[0] != request.body:
            return EmuResponse.json(
                409, {"error": "key_reused", "detail": f"{key} was sent with another body"}
            )
        if fresh:
            self.accept(request, key=key, targets=tuple(body["users"]), payload=body)
        return EmuResponse.json(200, {"id": seen[1]})

    def _authentic(self, request: EmuRequest) -> bool:
        secret = self.credentials.get(request.headers.get("x-kestrel-key", ""))
        timestamp = request.headers.get("x-kestrel-timestamp", "")
        if not secret or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TIME_WINDOW:
            return False
        expected = signature(
            secret, timestamp=timestamp, method=request.method, path=request.path, body=request.body
        )
        return hmac.compare_digest(expected, request.headers.get("x-kestrel-signature", ""))

    def fault(self, code: str, request: EmuRequest) -> EmuResponse:
        return EmuResponse.json(int(code) if code.isdigit() else 500, {"error": code})

    def rate_limited(self, request: EmuRequest) -> EmuResponse:
        return EmuResponse.json(429, {"error": "rate_limited"}, headers={"Retry-After": "1"})


def _problem(body: dict[str, Any]) -> str:
    """Return what breaks the schema of a send ("" when nothing)."""
    users = body.get("users")
    limit = MAX_PREVIEW_USERS + MAX_USERS if body.get("preview") else MAX_USERS
    if not isinstance(users, list) or not users or not all(isinstance(u, str) and u for u in users):
        return "users must be a list of user ids"
    if len(users) > limit:
        return f"at most {limit} users per request"
    if not isinstance(body.get("template"), str) or not TEMPLATE.fullmatch(body["template"]):
        return "template must be KT- and 4 to 8 digits"
    if not isinstance(body.get("idempotency_key"), str) or not body["idempotency_key"]:
        return "idempotency_key is required"
    if not isinstance(body.get("params"), dict):
        return "params must be an object"
    ttl = body.get("ttl")
    if ttl is not None and (not isinstance(ttl, int) or not TTL_RANGE[0] <= ttl <= TTL_RANGE[1]):
        return f"ttl must be {TTL_RANGE[0]} to {TTL_RANGE[1]}"
    if body.get("sound") not in (None, *SOUNDS):
        return f"sound must be one of {', '.join(SOUNDS)}"
    return ""
