"""Feishu / Lark custom bot emulator: ``POST /open-apis/bot/v2/hook/<token>``.

Checks as Feishu does: the hook token exists (else ``19001``); for a bot with a secret,
``timestamp`` (seconds, within one hour) and ``sign`` = Base64(HMAC-SHA256 keyed with
"timestamp\\nsecret" over an empty message) in the body (else ``19021``); a known
``msg_type`` with its content (``interactive`` needs a ``card`` with ``elements``; else
``9499``). Answers ``{"code", "msg", "data"}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from providers.emulators.base import Emulator, EmuRequest, EmuResponse

PREFIX = "/open-apis/bot/v2/hook/"
MSG_TYPES = {
    "text": "content",
    "post": "content",
    "image": "content",
    "share_chat": "content",
    "interactive": "card",
}


def _answer(code: int, message: str) -> EmuResponse:
    return EmuResponse.json(200, {"code": code, "msg": message, "data": {}})


class FeishuEmulator(Emulator):
    kind = "feishu"

    def handle(self, request: EmuRequest) -> EmuResponse:
        token = request.path.removeprefix(PREFIX) if request.path.startswith(PREFIX) else None
        if request.method != "POST" or token is None:
            return EmuResponse.json(404, {"code": 404, "msg": "404 page not found"})
        if token not in self.credentials:
            return _answer(19001, "param invalid: incoming webhook access token invalid")
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            return _answer(9499, "Bad Request")
        if not isinstance(body, dict):
            return _answer(9499, "Bad Request")
        secret = self.credentials[token]
        if secret:
            timestamp, signature = str(body.get("timestamp", "")), str(body.get("sign", ""))
            expected = base64.b64encode(
                hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
            ).decode()
            fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) <= 3600
            if not fresh or not hmac.compare_digest(expected, signature):
                return _answer(19021, "sign match fail or timestamp is not within one hour from current time")
        field = MSG_TYPES.get(body.get("msg_type"))
        content = body.get(field) if field else None
        if not content or (field == "card" and not (isinstance(content, dict) and content.get("elements"))):
            return _answer(9499, "Bad Request")
        self.accept(
            request, key=request.headers.get("x-crier-notification", ""), targets=(token,), payload=body
        )
        return _answer(0, "success")

    def fault(self, code: str, request: EmuRequest) -> EmuResponse:
        return EmuResponse.json(503, {"code": 503, "msg": code})

    def rate_limited(self, request: EmuRequest) -> EmuResponse:
        return _answer(11232, "frequency limited")
