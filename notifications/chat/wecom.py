"""WeCom (企业微信) group robot: markdown messages; the key in the URL is the only secret.

``POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`` with
``{"msgtype": "markdown", "markdown": {"content": …}}`` (content at most 4096 bytes). The
answer is ``{"errcode": 0, "errmsg": "ok"}`` or an errcode (93000: invalid webhook key;
40008: invalid message type; 45009: rate limited, retried). No signature.
"""

from __future__ import annotations

import httpx

from notifications import errors
from notifications.chat.base import ChatPlatform, json_answer
from notifications.errors import DeliveryError
from notifications.messages import Rendered

RETRYABLE = {45009, -1}
MAX_BYTES = 4096


class WeCom(ChatPlatform):
    kind = "wecom"
    label = "WeCom"
    official_hosts = ("qyapi.weixin.qq.com",)
    signed = False

    def request(self, url: str, secret: str, message: Rendered, *, key: str) -> tuple[str, dict]:
        lines = "\n".join(
            f'> {label}{message.colon}<font color="comment">{value}</font>' for label, value in message.lines
        )
        content = f"**{message.subject}**\n{lines}\n[{message.action}]({message.url})"
        encoded = content.encode()
        if len(encoded) > MAX_BYTES:
            content = encoded[: MAX_BYTES - 3].decode(errors="ignore") + "…"
        return url, {"msgtype": "markdown", "markdown": {"content": content}}

    def outcome(self, response: httpx.Response) -> None:
        data = json_answer(response, self.label)
        code = data.get("errcode")
        if code == 0:
            return
        raise DeliveryError.saying(
            errors.WECOM_ERROR, code=code, message=data.get("errmsg", ""), retryable=code in RETRYABLE
        )
