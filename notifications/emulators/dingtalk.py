"""DingTalk custom robot emulator: ``POST /robot/send?access_token=…[&timestamp=…&sign=…]``.

Checks as DingTalk does: the token exists (else ``300001``); for a robot with a secret, a
millisecond ``timestamp`` within one hour and ``sign`` = Base64(HMAC-SHA256(secret,
"timestamp\\nsecret")) (else ``310000``); a JSON body with a known ``msgtype`` and its
content (``markdown`` needs ``title`` and ``text``; else ``40035``). Always HTTP 200 with
``{"errcode", "errmsg"}``, as DingTalk answers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from providers.emulators.base import Emulator, EmuRequest, EmuResponse

MSGTYPES = {"text", "link", "markdown", "actionCard", "feedCard"}


def _error(code: int, message: str) -> EmuResponse:
    return EmuResponse.json(200, {"errcode": code, "errmsg": message})


class DingTalkEmulator(Emulator):
    kind = "dingtalk"

    def handle(self, request: EmuRequest) -> EmuResponse:
        if request.method != "POST" or request.path != "/robot/send":
            return _error(404, "not found")
        query = request.query
        token = query.get("access_token", "")
        if token not in self.credentials:
            return _error(300001, "token is not exist")
        secret = self.credentials[token]
        if secret:
            timestamp, signature = query.get("timestamp", ""), query.get("sign", "")
            if not timestamp.isdigit() or abs(time.time() * 1000 - int(timestamp)) > 3600 * 1000:
                return _error(310000, "sign not match, timestamp is invalid or expired")
            digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(base64.b64encode(digest).decode(), signature):
                return _error(
                    310000, "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"
                )
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            return _error(40035, "缺少参数 json")
        msgtype = body.get("msgtype") if isinstance(body, dict) else None
        if msgtype not in MSGTYPES:
            return _error(40035, f"缺少参数 json: unknown msgtype {msgtype!r}")
        content = body.get(msgtype)
        if msgtype == "markdown" and not (
            isinstance(content, dict) and content.get("title") and content.get("text")
        ):
            return _error(40035, "缺少参数 json: markdown needs title and text")
        self.accept(
            request, key=request.headers.get("x-crier-notification", ""), targets=(token,), payload=body
        )
        return _error(0, "ok")

    def fault(self, code: str, request: EmuRequest) -> EmuResponse:
        if code == "busy":
            return _error(-1, "系统繁忙")
        return EmuResponse(503, json.dumps({"errcode": -1, "errmsg": code}).encode())

    def rate_limited(self, request: EmuRequest) -> EmuResponse:
        return _error(130101, "send too fast, exceed 20 times per minute")
