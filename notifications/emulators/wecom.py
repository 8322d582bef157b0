"""WeCom group robot emulator: ``POST /cgi-bin/webhook/send?key=…``.

Checks as WeCom does: the key exists (else ``93000``); a known ``msgtype`` (else
``40008``); ``markdown.content`` present (else ``44004``) and at most 4096 bytes (else
``40058``). Answers ``{"errcode", "errmsg"}``; no signature.
"""

from __future__ import annotations

from providers.emulators.base import Emulator, EmuRequest, EmuResponse

MSGTYPES = {"text", "markdown", "image", "news", "file", "template_card"}


def _error(code: int, message: str) -> EmuResponse:
    return EmuResponse.json(200, {"errcode": code, "errmsg": message})


class WeComEmulator(Emulator):
    kind = "wecom"

    def handle(self, request: EmuRequest) -> EmuResponse:
        if request.method != "POST" or request.path != "/cgi-bin/webhook/send":
            return EmuResponse.json(404, {"errcode": 404, "errmsg": "not found"})
        key = request.query.get("key", "")
        if key not in self.credentials:
            return _error(93000, "invalid webhook url, hint: key not found")
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            return _error(40008, "invalid message type")
        msgtype = body.get("msgtype") if isinstance(body, dict) else None
        if msgtype not in MSGTYPES:
            return _error(40008, "invalid message type")
        if msgtype == "markdown":
            content = (
                (body.get("markdown") or {}).get("content")
                if isinstance(body.get("markdown"), dict)
                else None
            )
            if not content:
                return _error(44004, "empty content")
            if len(content.encode()) > 4096:
                return _error(40058, "markdown.content exceed max length 4096")
        self.accept(
            request, key=request.headers.get("x-crier-notification", ""), targets=(key,), payload=body
        )
        return _error(0, "ok")

    def fault(self, code: str, request: EmuRequest) -> EmuResponse:
        return EmuResponse.json(503, {"errcode": -1, "errmsg": code})

    def rate_limited(self, request: EmuRequest) -> EmuResponse:
        return _error(45009, "api freq out of limit")
