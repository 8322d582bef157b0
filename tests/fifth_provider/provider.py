"""Kestrel push: a made-up fifth provider, registered only by the tests in this folder.

It shows that a provider is one module (plus its emulator): everything the core needs is
declared here, and nothing outside ``tests/fifth_provider/`` names it.

Wire format: ``POST {base}/v1/messages`` with a JSON body
``{template, language, params, users, idempotency_key, preview, ttl?, sound?}`` (at most
:data:`MAX_USERS` user ids), signed with the headers ``X-Kestrel-Key`` (the api key),
``X-Kestrel-Timestamp`` (Unix seconds) and ``X-Kestrel-Signature``: hex HMAC-SHA256 of
``"{timestamp}\\n{method}\\n{path}\\n{body}"`` with the api secret. Answers:
``200 {"id": ...}`` (a repeated idempotency key with the same body answers the first id
again), ``400 {"error": "bad_request", "detail": ...}``, ``401 {"error": "unauthorized"}``,
``409 {"error": "key_reused"}``, ``429`` with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from providers.base import (
    Batch,
    Limits,
    Message,
    Outcome,
    Provider,
    ProviderError,
    Result,
    TemplateReference,
)
from providers.http import retry_after_seconds
from providers.option_fields import OptionChoiceField, OptionsSchema, StrictIntegerField

KIND = "kestrel"
PATH = "/v1/messages"
MAX_USERS = 2  # small, so a handful of recipients already takes several requests
TTL_RANGE = (60, 86400)
SOUNDS = ("default", "silent")
TEMPLATE = re.compile(r"KT-[0-9]{4,8}")


def signature(secret: str, *, timestamp: str, method: str, path: str, body: bytes) -> str:
    """Return the hex HMAC-SHA256 that authenticates one request."""
    signed = f"{timestamp}\n{method}\n{path}\n".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


class KestrelOptionsSerializer(OptionsSchema):
    """Kestrel's options: ``ttl`` whole seconds in :data:`TTL_RANGE`, ``sound`` one of :data:`SOUNDS`."""

    provider_label = "Kestrel"

    ttl = StrictIntegerField(
        required=False,
        min_value=TTL_RANGE[0],
        max_value=TTL_RANGE[1],
        seconds=True,
        label="Time to live (seconds)",
        help_text=f"Seconds an offline user may still get it, {TTL_RANGE[0]} to {TTL_RANGE[1]}.",
    )
    sound = OptionChoiceField(
        choices=[(sound, sound) for sound in SOUNDS],
        required=False,
        label="Sound",
        help_text="default plays the device's sound; silent plays none.",
    )


class KestrelProvider(Provider):
    """Send a template to listed user ids (and previews to test users) through Kestrel."""

    kind: ClassVar[str] = KIND
    label: ClassVar[str] = "Kestrel push"
    credential_fields: ClassVar[tuple[str, ...]] = ("api_key", "api_secret")
    official_hosts: ClassVar[tuple[str, ...]] = ("https://api.kestrel.example",)
    template_reference: ClassVar[TemplateReference] = TemplateReference(
        "Kestrel", "template", pattern=TEMPLATE.pattern, hint="KT- followed by 4 to 8 digits"
    )
    # The options, declared once: the schema checks them, documents them in /api/schema/
    # (KestrelOptions) and draws the campaign form's section for a Kestrel account.
    option_schema: ClassVar[type[OptionsSchema]] = KestrelOptionsSerializer
    option_example: ClassVar[Mapping[str, Any]] = {"ttl": 3600, "sound": "silent"}
    emulator: ClassVar[str] = "tests.fifth_provider.emulator.KestrelEmulator"
    emulator_port: ClassVar[int] = 8199
    limits: ClassVar[Limits] = Limits(
        ids_per_request=MAX_USERS, test_uids=3, broadcast=False, idempotent=True, max_key_length=64
    )
    auth_error_codes: ClassVar[frozenset[str]] = frozenset({"unauthorized"})

    def validate(self, message: Message) -> dict[str, list[str]]:
        errors = dict(self.option_errors(message))
        if not TEMPLATE.fullmatch(message.template_ref):
            errors["template"] = [f"{message.template_ref!r} is not a Kestrel template"]
        return errors

    def payload(self, message: Message, batch: Batch) -> dict[str, Any]:
        users = [t.address or t.external_id for t in batch.targets]
        if batch.preview:
            users += [uid for uid in batch.test_uids if uid not in users]
        return {
            "template": message.template_ref,
            "language": message.language,
            "params": dict(message.parameters),
            "users": users,
            "idempotency_key": batch.key,
            "preview": batch.preview,
            **self.checked_options(message).values,
        }

    def build_request(self, message: Message, batch: Batch) -> httpx.Request:
        errors = self.validate(message)
        if errors:
            field, texts = next(iter(errors.items()))
            raise ProviderError(texts[0], field=field)
        body = self.payload(message, batch)
        if not body["users"] or len(body["users"]) > MAX_USERS + self.limits.test_uids:
            raise ProviderError(f"a request takes 1 to {MAX_USERS} users", field="users")
        return self._signed("POST", PATH, json.dumps(body, sort_keys=True).encode())

    def _signed(self, method: str, path: str, body: bytes) -> httpx.Request:
        key = self.account.credentials.get("api_key", "")
        secret = self.account.credentials.get("api_secret", "")
        if not key or not secret:
            raise ProviderError("api_key and api_secret are required", field="credentials")
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Kestrel-Key": key,
            "X-Kestrel-Timestamp": timestamp,
            "X-Kestrel-Signature": signature(
                secret, timestamp=timestamp, method=method, path=path, body=body
            ),
        }
        return httpx.Request(method, f"{self.account.base_url}{path}", content=body, headers=headers)

    def parse_response(self, response: httpx.Response) -> Result:
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        status = response.status_code
        code = str(body.get("error", "ok" if status == 200 else status))
        text = str(body.get("detail", ""))
        if status == 200 and body.get("id"):
            return Result(Outcome.DELIVERED, code="ok", http_status=200, provider_message_id=str(body["id"]))
        if status == 429 or status >= 500:
            retry = retry_after_seconds(response.headers.get("Retry-After"))
            return Result(Outcome.RETRY, code=code, message=text, http_status=status, retry_after=retry)
        return Result(Outcome.FAILED, code=code, message=text, http_status=status)
