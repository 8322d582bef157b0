"""Jiguang UMS template messages: ``/v1/template/broadcast`` and ``/v1/template/sent``.

Wire format (docs/providers.md §4): JSON over HTTP Basic auth ``base64(channel_key:master_secret)``.
A batch with no targets, tags or segment is a broadcast to the whole audience
(``POST {base}/v1/template/broadcast``, no ``aud_*``); anything else goes to
``POST {base}/v1/template/sent`` with ``aud_userid`` (≤ 1000 a request, so
``limits.ids_per_request`` makes :meth:`Provider.batch_targets` split larger lists),
``aud_tag`` (≤ 20) and ``aud_segment`` (≤ 1).

Campaign ``provider_options`` (checked by ``providers.jiguang_options``) may carry ``app_para``
(required when the template has the App channel), ``rule_id``, ``callback``, the
``option`` fields ``owner``, ``black_id`` and ``white_id`` (nested in ``option`` or at the
top level), and channel registration ids (``aud_app``, ``aud_sms``, …): these are then the
whole audience of a ``/v1/template/sent`` request, never mixed with user ids, tags or a
segment. Crier sets ``option.sendno`` (the batch key) and ``option.priority`` (the
campaign priority) itself.

Recall: ``POST /v1/retract/{msgid}`` for messages sent within the last 24 hours
(:meth:`JiguangProvider.recall_request`); 1015055 means it was retracted already.

Idempotency: ``sendno`` is only echoed back, UMS does not deduplicate on it, so a
request that got no answer is ``unknown``.

Daily quota (1015029): the answer is ``retry`` at the next local midnight of the
account's ``settings["quota_timezone"]``, by default ``Asia/Shanghai``: UMS is a Chinese
service and documents no time zone, so Beijing midnight is our assumption.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from django.utils.translation import gettext_lazy

from providers import jiguang_options
from providers.base import (
    AccountConfig,
    Batch,
    CallbackBatch,
    Limits,
    Message,
    Outcome,
    Provider,
    ProviderError,
    Result,
    TemplateReference,
)
from providers.http import retry_after_seconds
from providers.jiguang_callbacks import read_batch

BROADCAST_PATH = "/v1/template/broadcast"
SENT_PATH = "/v1/template/sent"
RETRACT_PATH = "/v1/retract/"
DEFAULT_QUOTA_TIMEZONE = "Asia/Shanghai"
MAX_USERIDS = 1000
MAX_TAGS = 20
MAX_SEGMENTS = 1
MAX_TIME_TO_LIVE = 10 * 86400
# UMS user ids: letters, digits, ``_`` and ``@!#$&*+=.|¥``, at most 64 characters.
USERID = re.compile(r"^[A-Za-z0-9_@!#$&*+=.|¥]{1,64}$")

CODE_AUTH_FAILED = 4005
CODE_SERVER_ERROR = 5000
CODE_DAILY_QUOTA = 1015029
CODE_TOO_FREQUENT = 1015030
CODE_ALREADY_RETRACTED = 1015055
RETRACT_WINDOW = 24 * 3600
MAX_ECHOSTR = 256
RETRYABLE_CODES = frozenset({CODE_SERVER_ERROR, CODE_TOO_FREQUENT})

# Options that go at the top level of the message object, and those that go in ``option``.
TOP_LEVEL_OPTIONS = ("app_para", "rule_id", "callback")
OPTION_FIELDS = ("owner", "black_id", "white_id")


def basic_authorization(*, channel_key: str, master_secret: str) -> str:
    """Return the ``Authorization`` header value for a channel key and its master secret."""
    token = base64.b64encode(f"{channel_key}:{master_secret}".encode()).decode("ascii")
    return f"Basic {token}"


class JiguangProvider(Provider):
    """Send a UMS general template to everyone, or to user ids, tags or a segment."""

    kind: ClassVar[str] = "jiguang"
    label: ClassVar[str] = gettext_lazy("Jiguang UMS")  # docs/i18n-glossary.md
    credential_fields: ClassVar[tuple[str, ...]] = ("channel_key", "master_secret")
    official_hosts: ClassVar[tuple[str, ...]] = ("https://api.ums.jiguang.cn",)  # docs/providers.md §4.1
    # The UMS API takes template_id as an integer.
    template_reference: ClassVar[TemplateReference] = TemplateReference(
        "Jiguang", "template_id", pattern=r"[0-9]{1,18}", hint="a whole number"
    )
    option_example: ClassVar[Mapping[str, Any]] = jiguang_options.EXAMPLE
    option_schema = jiguang_options.JiguangOptionsSerializer
    emulator: ClassVar[str] = "providers.emulators.jiguang.JiguangEmulator"
    emulator_port: ClassVar[int] = 8104
    receives_callbacks: ClassVar[bool] = True  # VIP status callbacks, docs/providers.md §4.8
    callback_challenge: ClassVar[str] = 'Basic realm="crier-callbacks"'
    auth_error_codes: ClassVar[frozenset[str]] = frozenset({str(CODE_AUTH_FAILED)})
    limits: ClassVar[Limits] = Limits(
        ids_per_request=MAX_USERIDS,
        test_uids=5,
        tags_per_request=MAX_TAGS,
        segments_per_request=MAX_SEGMENTS,
        broadcast=True,
        idempotent=False,  # sendno is echoed, never deduplicated
        max_key_length=64,
    )
    # A UMS userid: 1-64 of letters, digits and _ @ ! # $ & * + = . | ¥ (docs/providers.md §4.3).
    address_pattern: ClassVar[str] = r"[A-Za-z0-9_@!#$&*+=.|¥]{1,64}"
    address_rule: ClassVar[str] = "1–64 characters among letters, digits, _ @ ! # $ & * + = . | ¥"

    def __init__(self, account: AccountConfig, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(account)
        self._clock = clock

    # -- options -----------------------------------------------------------
    @classmethod
    def check_options(
        cls, options: Mapping[str, Any], message: Message, settings: Mapping[str, Any]
    ) -> jiguang_options.Checked:
        return jiguang_options.check_jiguang(options, priority=message.priority, settings=settings)

    def api_review(self) -> bool:
        """Return whether the channel has API review (``settings["api_review"]``): each
        request must then name its ``option.owner``, the user who approved it."""
        return bool(self.account.settings.get("api_review"))

    def with_approver(self, options: dict[str, Any], approver: str) -> dict[str, Any]:
        if not self.api_review():
            return options
        option = options.get("option") if isinstance(options.get("option"), dict) else {}
        return {**options, "option": {**option, "owner": approver}}

    def campaign_option_errors(
        self, options: Mapping[str, Any], *, audience_kind: str, audience_name: str
    ) -> dict[str, list[str]]:
        """Refuse an owner under API review (Crier fills it), and channel registration ids
        with any audience but everyone (UMS never mixes them with other targets)."""
        errors: dict[str, list[str]] = {}
        nested = options.get("option") if isinstance(options.get("option"), dict) else {}
        if self.api_review() and (options.get("owner") or nested.get("owner")):
            path = "option.owner" if nested.get("owner") else "owner"
            errors[path] = [
                f"{path} is filled by Crier with the approving reviewer: this Jiguang channel has "
                "API review (account setting api_review)"
            ]
        if audience_kind != "all":
            for name in jiguang_options.JIGUANG_CHANNEL_AUDIENCES:
                if options.get(name) is not None:
                    errors[name] = [
                        f"{name} (channel registration ids) cannot be mixed with the {audience_kind} "
                        f"audience {audience_name!r}: UMS never mixes channel ids with tag/user/segment "
                        "targets; choose the everyone audience, and the ids become the whole audience"
                    ]
        return errors

    # -- status callbacks (docs/providers.md §4.8) ---------------------------
    def callback_echo(self, query: Mapping[str, str]) -> str | None:
        """Return ``echostr``: the console validates a callback URL by having it echoed."""
        echostr = query.get("echostr")
        return echostr if echostr is not None and len(echostr) <= MAX_ECHOSTR else None

    def callback_authentic(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Return whether the callback is Basic with the account's channel key and master secret."""
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic" or not token:
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        channel_key, sep, secret = decoded.partition(":")
        expected_key = self.account.credentials.get("channel_key", "")
        expected_secret = self.account.credentials.get("master_secret", "")
        if not sep or not expected_key or not expected_secret:
            return False
        same_key = hmac.compare_digest(channel_key.encode(), expected_key.encode())
        same_secret = hmac.compare_digest(secret.encode(), expected_secret.encode())
        return same_key and same_secret

    def parse_callback(self, body: bytes) -> CallbackBatch:
        """Return the receipts of a status batch (``providers.jiguang_callbacks``)."""
        return read_batch(body, channel_key=self.account.credentials.get("channel_key", ""))

    # -- building ----------------------------------------------------------
    def _template_id(self, message: Message) -> int | None:
        try:
            return int(message.template_ref)
        except (TypeError, ValueError):
            return None

    def validate(self, message: Message) -> dict[str, list[str]]:
        """Return field errors for ``message`` under the UMS message-object rules (empty: valid)."""
        errors: dict[str, list[str]] = {}
        if self._template_id(message) is None:
            errors["template"] = [
                f"UMS template_id {message.template_ref!r} must be the integer id of a general template"
            ]
        if message.priority not in (1, 2, 3):
            errors["priority"] = [f"priority {message.priority} must be 1 (high), 2 (medium) or 3 (low)"]
        checked = self.checked_options(message)
        if checked.errors:
            errors["options"] = checked.messages
        return errors

    @staticmethod
    def _channel_audiences(options: Mapping[str, Any], batch: Batch) -> dict[str, Any]:
        # A preview goes to the test user ids, never to the campaign's channel ids.
        return {} if batch.preview else dict(options.get("channel_audiences") or {})

    def _path(self, batch: Batch, options: Mapping[str, Any] | None = None) -> str:
        audience = batch.targets or batch.tags or batch.segment or (batch.preview and batch.test_uids)
        if audience or self._channel_audiences(options or {}, batch):
            return SENT_PATH
        return BROADCAST_PATH

    def payload(self, message: Message, batch: Batch) -> dict[str, Any]:
        """Return the UMS message object for ``batch`` (``aud_*`` only for ``/template/sent``).

        Channel registration ids from the options (``aud_app`` …) are the whole audience of
        such a request: UMS refuses them mixed with user ids, tags or a segment.
        """
        options = self.checked_options(message).values
        body: dict[str, Any] = {}
        userids = [t.address or t.external_id for t in batch.targets]
        if batch.preview:
            userids += [uid for uid in batch.test_uids if uid not in userids]
        if userids:
            body["aud_userid"] = userids
        if batch.tags:
            body["aud_tag"] = list(batch.tags)
        if batch.segment:
            body["aud_segment"] = [batch.segment]
        channels = self._channel_audiences(options, batch)
        if channels and body:
            raise ProviderError(
                "channel registration ids (" + ", ".join(sorted(channels)) + ") cannot be mixed with "
                "user ids, tags or a segment in one UMS request; send them with the everyone audience",
                field="audience",
            )
        body.update(channels)
        template_id = self._template_id(message)
        body["template_id"] = template_id if template_id is not None else message.template_ref
        body["template_para"] = dict(message.parameters)
        for name in TOP_LEVEL_OPTIONS:
            if options.get(name) is not None:
                body[name] = options[name]
        body["option"] = {"sendno": batch.key, "priority": message.priority, **options.get("option", {})}
        return body

    def build_request(self, message: Message, batch: Batch) -> httpx.Request:
        """Return the authenticated template request for ``batch``; raise ProviderError on bad input."""
        errors = self.validate(message)
        if errors:
            field, messages = next(iter(errors.items()))
            raise ProviderError("; ".join(messages), field=field)
        if batch.preview and not (batch.targets or batch.test_uids):
            # An empty preview must never fall through to the everyone-broadcast endpoint.
            raise ProviderError("a preview needs test user ids", field="test_uids")
        if len(batch.targets) > MAX_USERIDS:
            raise ProviderError(
                f"{len(batch.targets)} user ids in one request; UMS takes at most {MAX_USERIDS} "
                "(split with batch_targets)",
                field="targets",
            )
        payload = self.payload(message, batch)
        bad = [uid for uid in payload.get("aud_userid", ()) if not USERID.match(uid)]
        if bad:
            # One bad id makes UMS refuse the whole request: name it before sending.
            raise ProviderError(
                f"{len(bad)} user id(s) UMS cannot take, e.g. {bad[0]!r}: a user id is 1 to 64 "
                "letters, digits, _ or @!#$&*+=.|¥",
                field="targets",
            )
        if len(batch.tags) > MAX_TAGS:
            raise ProviderError(
                f"{len(batch.tags)} tags in one request; UMS takes at most {MAX_TAGS}", field="tags"
            )
        if not batch.key or len(batch.key) > self.limits.max_key_length:
            raise ProviderError(
                f"sendno {batch.key!r} must be 1 to {self.limits.max_key_length} characters", field="key"
            )
        channel_key = self.account.credentials.get("channel_key", "")
        master_secret = self.account.credentials.get("master_secret", "")
        if not channel_key or not master_secret:
            raise ProviderError("the Jiguang account has no channel_key/master_secret", field="credentials")
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        path = self._path(batch, self.checked_options(message).values)
        return httpx.Request(
            "POST",
            f"{self.account.base_url.rstrip('/')}{path}",
            content=body.encode("utf-8"),
            headers={
                "Authorization": basic_authorization(channel_key=channel_key, master_secret=master_secret),
                "Content-Type": "application/json; charset=utf-8",
                "Accept": "application/json",
                "User-Agent": "crier-jiguang/1",
            },
            # A hand-built Request carries no timeout of its own; the account's applies.
            extensions={"timeout": httpx.Timeout(self.account.timeout).as_dict()},
        )

    # -- recall ------------------------------------------------------------
    can_recall: ClassVar[bool] = True
    recall_seconds: ClassVar[int | None] = RETRACT_WINDOW
    # Answers meaning the message is recalled already (an earlier retract went through).
    recalled_codes: ClassVar[frozenset[str]] = frozenset({str(CODE_ALREADY_RETRACTED)})

    def _authorization(self) -> str:
        channel_key = self.account.credentials.get("channel_key", "")
        master_secret = self.account.credentials.get("master_secret", "")
        if not channel_key or not master_secret:
            raise ProviderError("the Jiguang account has no channel_key/master_secret", field="credentials")
        return basic_authorization(channel_key=channel_key, master_secret=master_secret)

    def recall_request(self, message_id: str) -> httpx.Request:
        """Return ``POST /v1/retract/{msgid}`` (messages sent within the last 24 h only)."""
        if not message_id:
            raise ProviderError("no UMS msgid to retract", field="recall")
        return httpx.Request(
            "POST",
            f"{self.account.base_url.rstrip('/')}{RETRACT_PATH}{quote(message_id, safe=':')}",
            headers={
                "Authorization": self._authorization(),
                "Accept": "application/json",
                "User-Agent": "crier-jiguang/1",
            },
            extensions={"timeout": httpx.Timeout(self.account.timeout).as_dict()},
        )

    # -- account check -----------------------------------------------------
    def check_request(self) -> httpx.Request:
        """Return a retract of a message id that cannot exist: it sends nothing to anyone.

        UMS checks the Basic credentials first (401/4005), then answers that the id is
        unknown, which proves the channel key and master secret.
        """
        channel_key = self.account.credentials.get("channel_key", "")
        master_secret = self.account.credentials.get("master_secret", "")
        if not channel_key or not master_secret:
            raise ProviderError("the Jiguang account has no channel_key/master_secret", field="credentials")
        return httpx.Request(
            "POST",
            f"{self.account.base_url.rstrip('/')}{RETRACT_PATH}crier-check-{uuid.uuid4().hex}",
            headers={
                "Authorization": basic_authorization(channel_key=channel_key, master_secret=master_secret),
                "Accept": "application/json",
                "User-Agent": "crier-jiguang/1",
            },
            extensions={"timeout": httpx.Timeout(self.account.timeout).as_dict()},
        )

    # -- parsing -----------------------------------------------------------
    def _seconds_to_quota_reset(self) -> float:
        name = self.account.settings.get("quota_timezone", DEFAULT_QUOTA_TIMEZONE)
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo(DEFAULT_QUOTA_TIMEZONE)
        now = datetime.fromtimestamp(self._clock(), zone)
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        return max(1.0, midnight.timestamp() - now.timestamp())

    def parse_response(self, response: httpx.Response) -> Result:
        """Return the outcome of a UMS answer with its business code and message."""
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            if status == 200:
                # UMS says 200 is always success, but we cannot read which message it made.
                return Result(
                    Outcome.UNKNOWN,
                    code="BAD_RESPONSE",
                    http_status=status,
                    message=f"unreadable 200 answer: {response.text[:200]!r}",
                )
            retryable = status >= 500 or status == 429
            return Result(
                Outcome.RETRY if retryable else Outcome.FAILED,
                code=f"HTTP_{status}",
                message=response.text[:200],
                http_status=status,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        code = body.get("code")
        message = str(body.get("message", ""))
        if status == 200 and code == 0:
            return Result(
                Outcome.DELIVERED,
                code="0",
                message=message,
                http_status=status,
                provider_message_id=str(body.get("msgid") or body.get("msgno") or ""),
                raw=body,
            )
        if code == CODE_DAILY_QUOTA:
            return Result(
                Outcome.RETRY,
                code=str(code),
                message=message or "today's broadcast quota is used up",
                http_status=status,
                retry_after=self._seconds_to_quota_reset(),
                raw=body,
            )
        if code in RETRYABLE_CODES or (code is None and status >= 500):
            return Result(
                Outcome.RETRY,
                code=str(code if code is not None else f"HTTP_{status}"),
                message=message,
                http_status=status,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                raw=body,
            )
        return Result(
            Outcome.FAILED,
            code=str(code if code is not None else f"HTTP_{status}"),
            message=message or f"HTTP {status}",
            http_status=status,
            raw=body,
        )
