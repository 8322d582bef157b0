"""The contract of a team chat platform, and delivery to a webhook over HTTP.

A platform class says which hosts are its own (``official_hosts``: a webhook URL carries
the group's key, and the signing secret goes with it, so both travel only to those hosts
over HTTPS, or to a local emulator when the webhook is marked *sandbox*), how a message
is signed and shaped (:meth:`ChatPlatform.request`), and what its answer means
(:meth:`ChatPlatform.outcome`). Requests use httpx with short timeouts: delivery runs in
the queue only, so a platform that is down slows nobody's review or send.
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from notifications import errors
from notifications.errors import DeliveryError
from notifications.messages import Rendered
from providers import http as provider_http

SANDBOX_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ChatPlatform:
    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""
    official_hosts: ClassVar[tuple[str, ...]] = ()
    signed: ClassVar[bool] = True  # whether the platform has a signing secret

    @classmethod
    def allowed_hosts(cls) -> tuple[str, ...]:
        return cls.official_hosts

    @classmethod
    def url_problem(cls, url: str, *, sandbox: bool) -> str | None:
        """Return why ``url`` is not a webhook of this platform Crier may call, or None."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return _(errors.NOT_A_URL)
        host = (parts.hostname or "").lower()
        if sandbox:
            if host in SANDBOX_HOSTS and parts.scheme in ("http", "https"):
                return None
            return _(errors.NOT_SANDBOX)
        if parts.scheme != "https":
            return _(errors.NOT_HTTPS)
        if host not in cls.allowed_hosts():
            return _(errors.NOT_PLATFORM_HOST) % {
                "host": host or "?",
                "platform": cls.label,
                "hosts": ", ".join(cls.allowed_hosts()),
            }
        return None

    def request(self, url: str, secret: str, message: Rendered, *, key: str) -> tuple[str, dict]:
        """Return the URL to POST to and the JSON body (signed where the platform signs)."""
        raise NotImplementedError

    def outcome(self, response: httpx.Response) -> None:
        """Return when the platform accepted the message; raise DeliveryError otherwise."""
        raise NotImplementedError

    def post(self, *, url: str, secret: str, message: Rendered, key: str, sandbox: bool) -> None:
        """Deliver ``message``; raise DeliveryError (never with the URL: it holds the key)."""
        with translation.override("en"):  # stored for every reader (notifications/errors.py)
            problem = self.url_problem(url, sandbox=sandbox)
        if problem:
            raise DeliveryError(problem, retryable=False)
        target, body = self.request(url, secret, message, key=key)
        timeout = httpx.Timeout(
            settings.CRIER_NOTIFY_HTTP_TIMEOUT, connect=min(3.0, settings.CRIER_NOTIFY_HTTP_TIMEOUT)
        )
        try:
            with provider_http.client(timeout=timeout, follow_redirects=False) as client:
                response = client.post(target, json=body, headers={"X-Crier-Notification": key})
        except httpx.HTTPError as exc:
            error = type(exc).__name__
            raise DeliveryError.saying(errors.NO_ANSWER, platform=self.label, error=error) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise DeliveryError.saying(errors.HTTP_STATUS, platform=self.label, status=response.status_code)
        self.outcome(response)


def json_answer(response: httpx.Response, platform: str) -> dict:
    try:
        data = response.json()
    except ValueError as exc:
        raise DeliveryError.saying(errors.NOT_JSON, platform=platform, status=response.status_code) from exc
    if not isinstance(data, dict):
        raise DeliveryError.saying(errors.UNEXPECTED_BODY, platform=platform)
    return data
