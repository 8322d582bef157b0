"""Slack incoming webhook emulator: ``POST /services/<T>/<B>/<secret>``.

Answers as Slack does, in words: ``200 ok``; ``404 no_service`` for an unknown hook;
``400 invalid_payload`` for a body that is not JSON; ``400 no_text`` without ``text`` or
``blocks``; ``400 invalid_blocks`` when ``blocks`` is not a list of typed blocks;
``429 rate_limited``. No signature: the URL is the secret.
"""

from __future__ import annotations

from providers.emulators.base import Emulator, EmuRequest, EmuResponse

PREFIX = "/services/"


def _words(status: int, text: str) -> EmuResponse:
    return EmuResponse(status, text.encode(), {"content-type": "text/plain; charset=utf-8"})


class SlackEmulator(Emulator):
    kind = "slack"

    def handle(self, request: EmuRequest) -> EmuResponse:
        hook = request.path.removeprefix(PREFIX) if request.path.startswith(PREFIX) else None
        if request.method != "POST" or hook not in self.credentials:
            return _words(404, "no_service")
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            return _words(400, "invalid_payload")
        if not isinstance(body, dict):
            return _words(400, "invalid_payload")
        if not body.get("text") and not body.get("blocks"):
            return _words(400, "no_text")
        blocks = body.get("blocks", [])
        if not isinstance(blocks, list) or not all(isinstance(b, dict) and b.get("type") for b in blocks):
            return _words(400, "invalid_blocks")
        self.accept(
            request, key=request.headers.get("x-crier-notification", ""), targets=(hook,), payload=body
        )
        return _words(200, "ok")

    def fault(self, code: str, request: EmuRequest) -> EmuResponse:
        return _words(500, code)

    def rate_limited(self, request: EmuRequest) -> EmuResponse:
        return _words(429, "rate_limited")
