"""A local Binance open service answering BroadcastMessage as the real one documents.

``credentials``: ``{access_key: secret_key}`` — the JWT ``iss`` and its HS256 key.

Checks, in order, each answered with the documented HTTP 200 envelope
``{"code", "message", "data", "success"}``:

1. ``X-Mp-Open-Api-Token``: header ``alg`` HS256, ``iss`` a known access key, a valid
   HMAC, ``dig`` equal to the SHA-256 of the CanonicalRequest recomputed from the raw
   request (path with ``/`` appended, raw body bytes), ``ts`` within ``ts_window``
   seconds of now (default 300) → otherwise ``900002``;
2. the body: ``appId`` equal to the path's, ``templateId``/``language`` non-empty
   strings, ``parameters`` a list of ``{name, value}`` strings, ``path`` a string,
   ``preview`` a boolean, ``experienceUids`` at most 5 strings (and at least one for a
   preview), ``templateId`` in ``known_templates`` when that is set → otherwise
   ``900001``;
3. a preview whose uids are all in ``refused_uids`` / ``declined_uids`` answers
   ``data.statusCode`` 900240 / 900241 and sends nothing; the remaining uids are sent.

Accepted requests are logged with a generated key (Binance has no idempotency key) and
targets ``("*",)`` for a broadcast, the experience uids for a preview. Faults
(``knobs.faults``): ``"900231"``, ``"900003"`` (or any code) answer that envelope;
``"500"`` / ``"503"`` answer that HTTP status; the rate-limit knob answers ``900231``.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote

import jwt

from providers.emulators.base import Emulator, EmuRequest, EmuResponse

TOKEN_HEADER = "x-mp-open-api-token"
BROADCAST_PATH = re.compile(r"^(?P<prefix>.*)/mp-api/v1/apps/(?P<app_id>[^/]+)/message/broadcast/?$")
MESSAGES = {
    "000000": None,
    "900001": "Invalid Parameter",
    "900002": "JWT Authentication Failed",
    "900003": "Unexpected Error",
    "900231": "Rate Limit",
}
MAX_EXPERIENCE_UIDS = 5


class AuthError(Exception):
    """The open-api token does not authenticate this request."""


class ParamError(Exception):
    """The request body breaks the BroadcastMessage schema."""


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


class BinanceEmulator(Emulator):
    """BroadcastMessage with JWT verification, schema checks, opt-outs and faults."""

    kind = "binance"

    def __init__(
        self,
        credentials: Mapping[str, str] | None = None,
        *,
        seed: int | None = None,
        ts_window: float = 300.0,
        known_templates: Iterable[str] | None = None,
        refused_uids: Iterable[str] = (),
        declined_uids: Iterable[str] = (),
    ) -> None:
        super().__init__(credentials, seed=seed)
        self.ts_window = ts_window
        self.known_templates = set(known_templates) if known_templates is not None else None
        self.refused_uids = set(refused_uids)
        self.declined_uids = set(declined_uids)

    # -- answers -----------------------------------------------------------
    @staticmethod
    def envelope(code: str, status_code: str | None = None, message: str | None = None) -> EmuResponse:
        """Return the open-service envelope for ``code`` (``data.statusCode`` on success)."""
        ok = code == "000000"
        return EmuResponse.json(
            200,
            {
                "code": code,
                "message": message if message is not None else MESSAGES.get(code, "Error"),
                "data": {"statusCode": status_code or "000000"} if ok else None,
                "success": ok,
            },
        )

    def fault(self, code: str, request: EmuRequest) -> EmuResponse:
        """Answer an injected fault: an HTTP status for 3-digit codes, else the envelope."""
        if code.isdigit() and len(code) == 3:
            return EmuResponse.json(int(code), {"code": code, "message": "Service Unavailable"})
        return self.envelope(code)

    def rate_limited(self, request: EmuRequest) -> EmuResponse:
        return self.envelope("900231")

    # -- checks ------------------------------------------------------------
    def canonical_request(self, request: EmuRequest) -> str:
        """Return the CanonicalRequest of the raw incoming request."""
        path = request.path if request.path.endswith("/") else request.path + "/"
        uri = "/".join(_encode(segment) for segment in path.split("/"))
        pairs = sorted(
            (_encode(k), _encode(v)) for k, v in parse_qsl(request.query_string, keep_blank_values=True)
        )
        query = "&".join(f"{k}={v}" for k, v in pairs)
        return f"{request.method}\n{uri}\n{query}\n{hashlib.sha256(request.body).hexdigest()}"

    def authenticate(self, request: EmuRequest) -> str:
        """Return the access key the request is signed with; raise AuthError otherwise."""
        token = request.headers.get(TOKEN_HEADER, "")
        if not token:
            raise AuthError("missing X-Mp-Open-Api-Token")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise AuthError(f"malformed token: {exc}") from None
        if header.get("alg") != "HS256":
            raise AuthError(f"alg {header.get('alg')!r} is not HS256")
        access_key = unverified.get("iss")
        secret = self.credentials.get(access_key) if isinstance(access_key, str) else None
        if not secret:
            raise AuthError("unknown iss")
        try:
            claims = jwt.decode(
                token, secret, algorithms=["HS256"], options={"require": ["iss", "dig", "ts"]}
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"token rejected: {exc}") from None
        expected = hashlib.sha256(self.canonical_request(request).encode()).hexdigest()
        if claims["dig"] != expected:
            raise AuthError("dig does not match the request")
        ts = claims["ts"]
        if not isinstance(ts, int) or isinstance(ts, bool) or abs(time.time() - ts) > self.ts_window:
            raise AuthError("ts outside the allowed window")
        return access_key

    def parse_body(self, request: EmuRequest, app_id: str) -> dict[str, Any]:
        """Return the body if it follows the BroadcastMessage schema; raise ParamError otherwise."""
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            raise ParamError("body is not JSON") from None
        if not isinstance(body, dict):
            raise ParamError("body is not a JSON object")
        if body.get("appId") != app_id:
            raise ParamError("appId missing or different from the path")
        for name in ("templateId", "language"):
            if not isinstance(body.get(name), str) or not body[name].strip():
                raise ParamError(f"{name} is required")
        parameters = body.get("parameters")
        if not isinstance(parameters, list) or not all(
            isinstance(p, dict)
            and set(p) == {"name", "value"}
            and isinstance(p["name"], str)
            and isinstance(p["value"], str)
            for p in parameters
        ):
            raise ParamError("parameters must be a list of {name, value} strings")
        if "path" in body and not isinstance(body["path"], str):
            raise ParamError("path must be a string")
        if not isinstance(body.get("preview", False), bool):
            raise ParamError("preview must be a boolean")
        uids = body.get("experienceUids", [])
        if not isinstance(uids, list) or not all(isinstance(u, str) and u for u in uids):
            raise ParamError("experienceUids must be a list of uids")
        if len(uids) > MAX_EXPERIENCE_UIDS:
            raise ParamError(f"experienceUids supports up to {MAX_EXPERIENCE_UIDS} uids")
        if body.get("preview") and not uids:
            raise ParamError("a preview needs experienceUids")
        if self.known_templates is not None and body["templateId"] not in self.known_templates:
            raise ParamError("templateId does not exist")
        return body

    # -- the API -----------------------------------------------------------
    def handle(self, request: EmuRequest) -> EmuResponse:
        """Answer BroadcastMessage."""
        match = BROADCAST_PATH.match(request.path)
        if match is None:
            return EmuResponse.json(404, {"code": "404", "message": f"no API at {request.path}"})
        if request.method != "POST":
            return EmuResponse.json(405, {"code": "405", "message": "method not allowed"})
        try:
            self.authenticate(request)
        except AuthError:
            # Like the real service, say no more than the code: the reason is for the log.
            return self.envelope("900002")
        try:
            body = self.parse_body(request, match["app_id"])
        except ParamError as exc:
            return self.envelope("900001", message=f"Invalid Parameter: {exc}")
        preview = bool(body.get("preview"))
        targets: tuple[str, ...] = ("*",)
        if preview:
            uids = body["experienceUids"]
            reachable = tuple(u for u in uids if u not in self.refused_uids | self.declined_uids)
            if not reachable:
                status = "900240" if any(u in self.refused_uids for u in uids) else "900241"
                return self.envelope("000000", status)
            targets = reachable
        self.accept(request, key=f"binance-{uuid.uuid4().hex}", targets=targets, payload=body)
        return self.envelope("000000")
