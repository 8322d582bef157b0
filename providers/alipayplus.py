"""Alipay+ mini program: ``POST /v2/miniprogram/message/send``, one user per request.

Each request carries one user's ``accessToken`` (``Target.address``), our
``requestId`` (``Batch.key``, the provider's idempotency key: a repeat of a request
that succeeded returns the same ``messageId`` without sending again), the portal's
``templateCode`` and up to five ``templates`` (one per language, each with the
template parameters).

Campaign ``provider_options`` (checked by ``providers.alipayplus_options``): ``channel`` (PUSH / INBOX
/ SMS, Crier's notion of the portal template's channel: PUSH and INBOX require a
``redirectUrl``), ``redirectUrl`` (or the campaign's path), ``extendInfo``,
``customerBelongsTo`` and extra ``languages``.

Signing: headers ``Client-Id``, ``Request-Time`` (ISO 8601 with milliseconds and
offset) and ``Signature: algorithm=RSA256, keyVersion=1, signature=<sig>`` where
``sig`` is ``quote_plus(base64(RSA-PKCS1v15-SHA256(content)))`` over
``"POST <uri>\\n<Client-Id>.<Request-Time>.<body>"``; ``<uri>`` is the full path
actually requested, including any prefix of the base URL (``/api/open`` on some
wallets). When the account has a ``platform_public_key``, the answer's ``Signature``
(over ``"POST <uri>\\n<Client-Id>.<Response-Time>.<body>"``) is verified and an
answer that fails verification is ``unknown`` (``RESPONSE_SIGNATURE_INVALID`` /
``_MISSING``): it may be forged or the key may be wrong, so nothing it says is trusted.

Outcomes (``result.resultStatus`` / ``resultCode``):

* S → delivered (``messageId`` kept); A / R (accepted, processing) → delivered too;
* U (``UNKNOWN_EXCEPTION``) → retry with the same requestId (the provider deduplicates,
  so ``limits.idempotent`` is True and timeouts are retried too);
* ``REQUEST_TRAFFIC_EXCEED_LIMIT`` → retry after a few seconds;
  ``MESSAGE_SEND_EXCEED_LIMIT`` (the super app's per-user frequency) → retry after an
  hour;
* ``USER_NOT_SUBSCRIBED`` → opted_out;
* any other F (``EXPIRED_ACCESS_TOKEN``, ``PROCESS_FAIL``, ``PARAM_ILLEGAL``,
  ``TEMPLATE_NOT_EXIST``, ``ACCESS_DENIED``, ``INVALID_SIGNATURE`` …) → failed;
* HTTP 5xx / 429 → retry; other HTTP errors → failed; an HTTP 200 answer without a
  ``result`` → unknown.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, ClassVar
from urllib.parse import quote_plus, unquote_plus

import httpx
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.utils.translation import gettext_lazy

from providers import alipayplus_options
from providers.base import (
    AccountConfig,
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

API_PATH = "/v2/miniprogram/message/send"
MAX_TEMPLATES = 5
FIELD_LENGTHS = {
    "appId": 32,
    "accessToken": 128,
    "requestId": 64,
    "templateCode": 64,
    "redirectUrl": 2048,
    "extendInfo": 4096,
}
WALLETS = alipayplus_options.WALLETS
# Option errors under the field names ``validate`` has always used.
LEGACY_OPTION_KEYS = {"languages": "templates"}
DELIVERED_STATUSES = {"S", "A", "R"}
OPT_OUT_CODES = {"USER_NOT_SUBSCRIBED"}
# resultCode -> seconds to wait before the same requestId is sent again.
RETRY_CODES: dict[str, float | None] = {
    "UNKNOWN_EXCEPTION": None,
    "REQUEST_TRAFFIC_EXCEED_LIMIT": 5.0,
    # The super app caps how often one user is notified: try again much later.
    "MESSAGE_SEND_EXCEED_LIMIT": 3600.0,
}


# Cached: loading validates the RSA key (~65 ms), and the send engine may build a provider
# per request; the texts are the accounts' own keys, already held in memory.
@lru_cache(maxsize=64)
def load_private_key(text: str) -> rsa.RSAPrivateKey:
    """Return the RSA private key in ``text``: PEM, or the bare base64 PKCS#8 the portal shows."""
    data = text.strip().encode()
    try:
        key = (
            serialization.load_pem_private_key(data, password=None)
            if data.startswith(b"-----")
            else serialization.load_der_private_key(base64.b64decode(data), password=None)
        )
    except (ValueError, TypeError) as exc:
        raise ValueError("not an unencrypted RSA private key (PEM or base64 PKCS#8)") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


@lru_cache(maxsize=64)
def load_public_key(text: str) -> rsa.RSAPublicKey:
    """Return the RSA public key in ``text`` (PEM or bare base64 SubjectPublicKeyInfo);
    a private key is accepted too and its public half returned."""
    data = text.strip().encode()
    if b"PRIVATE KEY" in data:
        return load_private_key(text).public_key()
    try:
        key = (
            serialization.load_pem_public_key(data)
            if data.startswith(b"-----")
            else serialization.load_der_public_key(base64.b64decode(data))
        )
    except (ValueError, TypeError) as exc:
        raise ValueError("not an RSA public key (PEM or base64 SubjectPublicKeyInfo)") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def signed_content(*, uri: str, client_id: str, time: str, body: bytes) -> bytes:
    """Return the bytes signed for a request (``time`` = Request-Time) or answer (Response-Time)."""
    return f"POST {uri}\n{client_id}.{time}.".encode() + body


def parse_signature_header(value: str) -> dict[str, str]:
    """Return the ``name=value`` items of a Signature header (names lower-cased)."""
    items: dict[str, str] = {}
    for part in value.split(","):
        name, sep, item = part.strip().partition("=")
        if sep:
            items[name.strip().lower()] = item.strip()
    return items


def request_time(now: datetime | None = None) -> str:
    """Return an ISO 8601 timestamp with milliseconds and offset, as Request-Time wants."""
    return (now or datetime.now(UTC)).isoformat(timespec="milliseconds")


class AlipayPlusProvider(Provider):
    """Send one template message to one Alipay+ user per request, keyed by requestId."""

    kind = "alipayplus"
    label = gettext_lazy("Alipay+ mini program")  # shown to people (docs/i18n-glossary.md)
    credential_fields = ("client_id", "private_key", "platform_public_key")
    # Without the platform's public key answers are not verified (docs/providers.md §2.2).
    optional_credentials = frozenset({"platform_public_key"})
    multiline_credentials = frozenset({"private_key", "platform_public_key"})  # PEM
    # No one host: each wallet deployment has its own (docs/providers.md §2.1).
    official_hosts = ()
    template_reference = TemplateReference("Alipay+", "templateCode")
    option_example = alipayplus_options.EXAMPLE
    option_schema = alipayplus_options.AlipayPlusOptionsSerializer
    emulator = "providers.emulators.alipayplus.AlipayPlusEmulator"
    emulator_port = 8102
    address_is_credential = True  # the accessToken from applyToken
    limits: ClassVar[Limits] = Limits(
        ids_per_request=1,
        test_uids=5,
        languages_per_request=MAX_TEMPLATES,
        per_user=True,
        broadcast=False,
        idempotent=True,
        max_key_length=FIELD_LENGTHS["requestId"],
        field_lengths=FIELD_LENGTHS,
    )
    auth_error_codes = frozenset({"INVALID_SIGNATURE", "ACCESS_DENIED", "INVALID_CLIENT", "KEY_NOT_FOUND"})

    @classmethod
    def credential_problem(cls, name: str, value: str) -> str:
        """Return why a key does not load (PEM, or the bare base64 the portal shows)."""
        loader = {"private_key": load_private_key, "platform_public_key": load_public_key}.get(name)
        if loader is None:
            return ""
        try:
            loader(value)
        except ValueError as exc:
            return str(exc)
        except (TypeError, UnsupportedAlgorithm):
            return "not a supported RSA key"
        return ""

    @classmethod
    def check_options(
        cls, options: Mapping[str, Any], message: Message, settings: Mapping[str, Any]
    ) -> alipayplus_options.Checked:
        return alipayplus_options.check_alipayplus(
            options, path=message.path, language=message.language, settings=settings
        )

    def __init__(self, account: AccountConfig) -> None:
        super().__init__(account)
        self._private_key: rsa.RSAPrivateKey | None = None
        self._platform_key: rsa.RSAPublicKey | None = None

    # -- the message -------------------------------------------------------
    def languages(self, message: Message) -> list[str]:
        """Return the template languages sent: the message's, then ``options["languages"]``."""
        return self.checked_options(message).values["languages"]

    def payload(self, message: Message, batch: Batch) -> dict[str, Any]:
        """Return the message/send body for the one user of ``batch``."""
        options = self.checked_options(message).values
        parameters = {str(k): str(v) for k, v in sorted(message.parameters.items())}
        body: dict[str, Any] = {
            "appId": self.account.app_id,
            "accessToken": batch.targets[0].address if batch.targets else "",
            "requestId": batch.key,
            "templateCode": message.template_ref,
            "templates": [
                {"templateParameters": parameters, "language": language} for language in options["languages"]
            ],
        }
        if options.get("redirectUrl"):
            body["redirectUrl"] = options["redirectUrl"]
        if options.get("customerBelongsTo"):
            body["customerBelongsTo"] = options["customerBelongsTo"]
        if "extendInfo" in options:
            body["extendInfo"] = options["extendInfo"]
        return body

    def validate(self, message: Message) -> dict[str, list[str]]:
        """Return field errors of ``message`` under the message/send rules."""
        errors: dict[str, list[str]] = {}

        def add(field: str, text: str) -> None:
            errors.setdefault(field, []).append(text)

        if not message.template_ref.strip():
            add("templateCode", "templateCode is required")
        if not message.language.strip():
            add("language", "language is required")
        if len(message.template_ref) > FIELD_LENGTHS["templateCode"]:
            add(
                "templateCode",
                f"templateCode is {len(message.template_ref)} characters; Alipay+ allows "
                f"{FIELD_LENGTHS['templateCode']}",
            )
        for path, problems in self.option_errors(message).items():
            name = path.removeprefix("provider_options.")
            errors.setdefault(LEGACY_OPTION_KEYS.get(name, name), []).extend(problems)
        return errors

    # -- the request -------------------------------------------------------
    def _client_id(self) -> str:
        client_id = self.account.credentials.get("client_id", "")
        if not client_id:
            raise ProviderError("the Alipay+ account lacks credentials: client_id", field="credentials")
        return client_id

    def private_key(self) -> rsa.RSAPrivateKey:
        """Return the merchant private key (loaded once)."""
        if self._private_key is None:
            text = self.account.credentials.get("private_key", "")
            if not text:
                raise ProviderError("the Alipay+ account lacks credentials: private_key", field="credentials")
            try:
                self._private_key = load_private_key(text)
            except ValueError as exc:
                raise ProviderError(
                    f"the Alipay+ private_key is unusable: {exc}", field="credentials"
                ) from None
        return self._private_key

    def platform_key(self) -> rsa.RSAPublicKey | None:
        """Return the platform public key answers are verified with, or None if not configured."""
        text = self.account.credentials.get("platform_public_key", "")
        if self._platform_key is None and text:
            try:
                self._platform_key = load_public_key(text)
            except ValueError as exc:
                raise ProviderError(
                    f"the Alipay+ platform_public_key is unusable: {exc}", field="credentials"
                ) from None
        return self._platform_key

    def _check_batch(self, message: Message, batch: Batch) -> None:
        errors = self.validate(message)
        if errors:
            field, problems = next(iter(errors.items()))
            raise ProviderError("; ".join(problems), field=field)
        if not self.account.app_id:
            raise ProviderError("the Alipay+ account has no app id", field="app_id")
        if len(self.account.app_id) > FIELD_LENGTHS["appId"] or set("@#?") & set(self.account.app_id):
            raise ProviderError(
                f"app id {self.account.app_id!r} breaks the Alipay+ rule: at most 32 characters, no @ # ?",
                field="app_id",
            )
        if len(batch.targets) != 1:
            raise ProviderError(
                f"Alipay+ sends to exactly one user per request; this batch has {len(batch.targets)}",
                field="audience",
            )
        token = batch.targets[0].address
        if not token:
            raise ProviderError(
                f"recipient {batch.targets[0].external_id!r} has no Alipay+ access token", field="accessToken"
            )
        if len(token) > FIELD_LENGTHS["accessToken"]:
            raise ProviderError(
                f"the access token of {batch.targets[0].external_id!r} is {len(token)} characters; "
                f"Alipay+ allows at most {FIELD_LENGTHS['accessToken']}",
                field="accessToken",
            )
        if not batch.key or len(batch.key) > FIELD_LENGTHS["requestId"]:
            raise ProviderError(
                f"requestId {batch.key!r} must be 1 to {FIELD_LENGTHS['requestId']} characters",
                field="requestId",
            )

    def sign(self, *, uri: str, client_id: str, time: str, body: bytes) -> str:
        """Return the Signature header value for a request."""
        raw = self.private_key().sign(
            signed_content(uri=uri, client_id=client_id, time=time, body=body),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
        return f"algorithm=RSA256, keyVersion=1, signature={quote_plus(base64.b64encode(raw).decode())}"

    def build_request(self, message: Message, batch: Batch) -> httpx.Request:
        """Return the signed message/send request for the one user of ``batch``."""
        self._check_batch(message, batch)
        client_id = self._client_id()
        self.platform_key()  # an unusable key fails here, before anything is sent
        body = json.dumps(self.payload(message, batch), ensure_ascii=False, separators=(",", ":")).encode()
        request = httpx.Request(
            "POST",
            self.account.base_url.rstrip("/") + API_PATH,
            content=body,
            headers={"Content-Type": "application/json; charset=UTF-8"},
        )
        now = request_time()
        request.headers["Client-Id"] = client_id
        request.headers["Request-Time"] = now
        request.headers["Signature"] = self.sign(
            uri=request.url.raw_path.decode("ascii"), client_id=client_id, time=now, body=body
        )
        return request

    # -- the answer --------------------------------------------------------
    def verify_response(self, response: httpx.Response) -> Result | None:
        """Return an ``unknown`` Result when the answer's signature does not verify, else None."""
        try:
            key = self.platform_key()
        except ProviderError as exc:
            return Result(
                Outcome.UNKNOWN,
                code="PLATFORM_KEY_UNUSABLE",
                message=f"{exc}; the answer cannot be verified",
                http_status=response.status_code,
            )
        if key is None:
            return None
        header = response.headers.get("Signature", "")
        response_time = response.headers.get("Response-Time", "")
        signature = parse_signature_header(header).get("signature", "")
        if not signature or not response_time:
            return Result(
                Outcome.UNKNOWN,
                code="RESPONSE_SIGNATURE_MISSING",
                message=f"Alipay+ answered HTTP {response.status_code} without a Signature/Response-Time; "
                "the answer cannot be trusted",
                http_status=response.status_code,
            )
        content = signed_content(
            uri=response.request.url.raw_path.decode("ascii"),
            client_id=self._client_id(),
            time=response_time,
            body=response.content,
        )
        try:
            raw = base64.b64decode(unquote_plus(signature))
            key.verify(raw, content, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return Result(
                Outcome.UNKNOWN,
                code="RESPONSE_SIGNATURE_INVALID",
                message="the Alipay+ answer's Signature does not verify with the account's "
                "platform_public_key (wrong key, or not Alipay+ answering)",
                http_status=response.status_code,
            )
        return None

    def parse_response(self, response: httpx.Response) -> Result:
        """Return the outcome of a message/send answer (after verifying its signature)."""
        status = response.status_code
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = None
        result = data.get("result") if isinstance(data, dict) else None
        if status >= 500 or status == 429:
            return Result(
                Outcome.RETRY,
                code=f"HTTP_{status}",
                message=f"Alipay+ answered HTTP {status}; the same requestId is safe to send again",
                http_status=status,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        unverified = self.verify_response(response)
        if unverified is not None:
            said = result.get("resultCode") if isinstance(result, dict) else None
            if said:
                unverified = Result(
                    **{**unverified.__dict__, "message": f"{unverified.message} (it claims {said})"}
                )
            return unverified
        if not isinstance(result, dict) or "resultStatus" not in result:
            outcome = Outcome.UNKNOWN if status == 200 else Outcome.FAILED
            snippet = response.text[:200]
            return Result(
                outcome,
                code="UNPARSEABLE_RESPONSE" if status == 200 else f"HTTP_{status}",
                message=f"Alipay+ answered HTTP {status} without a result: {snippet!r}",
                http_status=status,
            )
        result_status = str(result.get("resultStatus"))
        code = str(result.get("resultCode") or "")
        text = str(result.get("resultMessage") or "")
        message_id = str(data.get("messageId") or "")
        if result_status in DELIVERED_STATUSES:
            return Result(
                Outcome.DELIVERED,
                code=code or "SUCCESS",
                message=text or self.accepted_label,
                http_status=status,
                provider_message_id=message_id,
                raw=data,
            )
        if result_status == "U" or code in RETRY_CODES:
            return Result(
                Outcome.RETRY,
                code=code or "UNKNOWN_EXCEPTION",
                message=text or "Alipay+ status unknown; send the same requestId again",
                http_status=status,
                retry_after=RETRY_CODES.get(code),
                raw=data,
            )
        if code in OPT_OUT_CODES:
            return Result(Outcome.OPTED_OUT, code=code, message=text, http_status=status, raw=data)
        return Result(
            Outcome.FAILED,
            code=code or f"STATUS_{result_status}",
            message=text or f"Alipay+ refused the message (resultStatus {result_status})",
            http_status=status,
            raw=data,
        )
