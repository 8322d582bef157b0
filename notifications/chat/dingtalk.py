"""DingTalk custom robot (自定义机器人): markdown messages, signed with timestamp + HMAC-SHA256.

The signature, as DingTalk documents it for a robot with 加签 security: string to sign
``"{timestamp}\\n{secret}"`` (timestamp in milliseconds, within one hour of DingTalk's
clock), HMAC-SHA256 keyed with the secret, Base64, then URL-encoded; ``timestamp`` and
``sign`` are appended to the webhook URL (``…/robot/send?access_token=…``). The answer
is HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``, or an ``errcode`` (310000: sign or
keyword check failed; 130101: more than 20 messages a minute, retried).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote_plus

import httpx

from notifications import errors
from notifications.chat.base import ChatPlatform, json_answer
from notifications.errors import DeliveryError
from notifications.messages import Rendered, markdown_lines

RETRYABLE = {130101, -1}  # sending too fast; system busy


def sign(timestamp: str, secret: str) -> str:
    """Return DingTalk's ``sign`` for ``timestamp`` (ms): URL-encoded Base64 HMAC-SHA256."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest))


class DingTalk(ChatPlatform):
    kind = "dingtalk"
    label = "DingTalk"
    official_hosts = ("oapi.dingtalk.com",)

    def request(self, url: str, secret: str, message: Rendered, *, key: str) -> tuple[str, dict]:
        if secret:
            timestamp = str(round(time.time() * 1000))
            url = f"{url}&timestamp={timestamp}&sign={sign(timestamp, secret)}"
        text = f"#### {message.subject}\n\n{markdown_lines(message)}\n\n[{message.action}]({message.url})"
        return url, {"msgtype": "markdown", "markdown": {"title": message.subject, "text": text}}

    def outcome(self, response: httpx.Response) -> None:
        data = json_answer(response, self.label)
        code = data.get("errcode")
        if code == 0:
            return
        raise DeliveryError.saying(
            errors.DINGTALK_ERROR, code=code, message=data.get("errmsg", ""), retryable=code in RETRYABLE
        )
