"""A local Alipay+ gateway answering ``/v2/miniprogram/message/send`` as documented.

``credentials``: ``{client_id: merchant RSA key}`` — the key as PEM (or bare base64),
either the merchant's private key (its public half is derived; handy when the emulator
is configured from the same account the client sends as) or the public key alone.

The API is served under any path prefix (wallet gateways add ``/api/open``); the
signature must cover the full path requested. Checks, each answered with HTTP 200 and
``{"result": {"resultStatus", "resultCode", "resultMessage"}}``:

1. ``Client-Id`` known → else F ``ACCESS_DENIED``; ``Request-Time`` ISO 8601 within
   ``time_window`` seconds (default 900; None to skip) → else F ``PARAM_ILLEGAL``;
   ``Signature`` ``algorithm=RSA256`` over ``"POST <uri>\\n<Client-Id>.<Request-Time>.<raw
   body>"`` verified with the merchant public key → else F ``INVALID_SIGNATURE``;
2. the body: required fields, types and documented lengths, at most 5 ``templates``,
   ``customerBelongsTo`` a documented wallet → else F ``PARAM_ILLEGAL``;
   ``templateCode`` in ``known_templates`` when set → else F ``TEMPLATE_NOT_EXIST``; a
   template listed in ``template_channels`` as PUSH or INBOX without ``redirectUrl`` → F
   ``PARAM_ILLEGAL`` (the redirect is required for those channels);
3. ``accessToken`` in ``unsubscribed_tokens`` → F ``USER_NOT_SUBSCRIBED``, in
   ``expired_tokens`` → F ``EXPIRED_ACCESS_TOKEN``;
4. a repeated (Client-Id, appId, requestId) that succeeded before gets the stored answer
   again (same ``messageId``) and is not accepted twice; with a different body it gets F
   ``REPEAT_REQ_INCONSISTENT`` unless ``reject_inconsistent_repeats`` is False.

Every answer is signed with the emulator's platform key (``platform_public_key_pem``,
also at ``GET /_emulator/platform-key``), as Alipay+ signs its answers. Faults
(``knobs.faults``): ``UNKNOWN_EXCEPTION`` answers U, any other code answers F with that
code (e.g. ``MESSAGE_SEND_EXCEED_LIMIT``), ``"500"``/``"503"`` answer that HTTP status;
the rate-limit knob answers F ``REQUEST_TRAFFIC_EXCEED_LIMIT``.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from providers.alipayplus import load_private_key, load_public_key
from providers.emulators.base import Emulator, EmuRequest, EmuResponse

API_PATH = "/v2/miniprogram/message/send"
LENGTHS = {"appId": 32, "accessToken": 128, "requestId": 64, "templateCode": 64}
OPTIONAL_LENGTHS = {"redirectUrl": 2048, "extendInfo": 4096}
WALLETS = {
    *("ALIPAY_CN", "ALIPAY_HK", "ALIPAY_MO", "TNG", "GCASH"),
    *("DANA", "KAKAOPAY", "BKASH", "CHOPE", "TRUEMONEY"),
}
MESSAGES = {
    "SUCCESS": "success",
    "UNKNOWN_EXCEPTION": "An API calling is failed, which is caused by unknown reasons.",
    "ACCESS_DENIED": "Access denied",
    "INVALID_SIGNATURE": "The signature is invalid",
    "PARAM_ILLEGAL": "Illegal parameters",
    "INVALID_API": "The API is invalid or not active",
    "TEMPLATE_NOT_EXIST": "The template does not exist",
    "USER_NOT_SUBSCRIBED": "The user is not subscribed to this channel",
    "EXPIRED_ACCESS_TOKEN": "The access token is expired",
    "REQUEST_TRAFFIC_EXCEED_LIMIT": "The request traffic exceeds the limit",
    "MESSAGE_SEND_EXCEED_LIMIT": "The notification frequency exceeds the limit of the super app",
    "REPEAT_REQ_INCONSISTENT": "The requestId was used before with a different request",
    "PROCESS_FAIL": "A general business failure occurred",
}


def generate_private_key_pem() -> str:
    """Return a new 2048-bit RSA private key as PKCS#8 PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_key_pem(private_key_pem: str) -> str:
    """Return the SubjectPublicKeyInfo PEM of an RSA private key PEM."""
    return (
        load_private_key(private_key_pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def default_platform_key_path() -> Path:
    """Return where the demo's emulator platform key lives: ``CRIER_ALIPAYPLUS_PLATFORM_KEY``,
    else ``var/emulators/alipayplus-platform-key.pem`` in the project folder."""
    configured = os.environ.get("CRIER_ALIPAYPLUS_PLATFORM_KEY")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "var" / "emulators" / "alipayplus-platform-key.pem"


def load_or_create_platform_key(path: Path) -> str:
    """Return the platform private key PEM kept at ``path``, creating it (mode 0600) if absent.

    The demo seeds the account's ``platform_public_key`` from this file and
    ``run_emulators`` signs with it, so the demo verifies answers like production does.
    """
    if path.exists():
        return path.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = generate_private_key_pem()
    path.touch(mode=0o600)
    path.write_text(pem)
    return pem


class Rejected(Exception):
    """The request is answered with F and this code."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


class AlipayPlusEmulator(Emulator):
    """message/send with signature checks both ways, schema checks and requestId replay."""

    kind = "alipayplus"

    @classmethod
    def serve_options(cls) -> dict[str, Any]:
        """Sign answers with the platform key the demo account verifies them with."""
        return {"platform_private_key": load_or_create_platform_key(default_platform_key_path())}

    def __init__(
        self,
        credentials: Mapping[str, str] | None = None,
        *,
        seed: int | None = None,
        platform_private_key: str | None = None,
        time_window: float | None = 900.0,
        known_templates: Iterable[str] | None = None,
        unsubscribed_tokens: Iterable[str] = (),
        expired_tokens: Iterable[str] = (),
        reject_inconsistent_repeats: bool = True,
        template_channels: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(credentials, seed=seed)
        pem = platform_private_key or generate_private_key_pem()
        self._platform_key = load_private_key(pem)
        self.platform_public_key_pem = public_key_pem(pem)
        self.time_window = time_window
        self.known_templates = set(known_templates) if known_templates is not None else None
        self.unsubscribed_tokens = set(unsubscribed_tokens)
        self.expired_tokens = set(expired_tokens)
        self.reject_inconsistent_repeats = reject_inconsistent_repeats
        # templateCode -> the channel it was registered for (PUSH, INBOX, SMS); PUSH and
        # INBOX templates need a redirectUrl.
        self.template_channels = dict(template_channels or {})
        # (client id, app id, requestId) -> (request body, answer body) of successful sends.
        self._done: dict[tuple[str, str, str], tuple[Any, bytes]] = {}
        self._done_lock = threading.Lock()
        # PEM text -> loaded key: credentials may change at run time (PUT /_emulator/credentials).
        self._merchant_keys: dict[str, rsa.RSAPublicKey | None] = {}

    def reset(self) -> None:
        super().reset()
        with self._done_lock:
            self._done.clear()

    # -- answers -----------------------------------------------------------
    def answer(
        self, request: EmuRequest, status: str, code: str, *, extra: Mapping[str, Any] | None = None
    ) -> EmuResponse:
        """Return a signed answer with ``result`` = (status, code) and ``extra`` fields."""
        payload = {
            "result": {"resultStatus": status, "resultCode": code, "resultMessage": MESSAGES.get(code, code)},
            **(extra or {}),
        }
        response = EmuResponse.json(200, payload)
        return self.signed(request, response)

    def signed(self, request: EmuRequest, response: EmuResponse) -> EmuResponse:
        """Add Client-Id, Response-Time and the platform Signature to ``response``."""
        client_id = request.headers.get("client-id", "")
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        content = f"POST {self.uri(request)}\n{client_id}.{now}.".encode() + response.body
        raw = self._platform_key.sign(content, padding.PKCS1v15(), hashes.SHA256())
        response.headers.update(
            {
                "client-id": client_id,
                "response-time": now,
                "signature": f"algorithm=RSA256, keyVersion=1, "
                f"signature={quote_plus(base64.b64encode(raw).decode())}",
            }
        )
        return response

    def fault(self, code: str, request: EmuRequest) -> EmuResponse:
        """Answer an injected fault: U for UNKNOWN_EXCEPTION, an HTTP status for 3 digits, else F."""
        if code.isdigit() and len(code) == 3:
            return EmuResponse(int(code), b"Service Unavailable", {"content-type": "text/plain"})
        return self.answer(request, "U" if code == "UNKNOWN_EXCEPTION" else "F", code)

    def rate_limited(self, request: EmuRequest) -> EmuResponse:
        return self.answer(request, "F", "REQUEST_TRAFFIC_EXCEED_LIMIT")

    # -- checks ------------------------------------------------------------
    @staticmethod
    def uri(request: EmuRequest) -> str:
        return request.path + (f"?{request.query_string}" if request.query_string else "")

    def merchant_key(self, client_id: str) -> rsa.RSAPublicKey | None:
        """Return the public key registered for ``client_id`` (derived from a private key)."""
        text = self.credentials.get(client_id)
        if not text:
            return None
        if text not in self._merchant_keys:
            try:
                self._merchant_keys[text] = load_public_key(text)
            except ValueError:
                self._merchant_keys[text] = None  # a broken key authenticates nobody
        return self._merchant_keys[text]

    def authenticate(self, request: EmuRequest) -> str:
        """Return the verified Client-Id; raise Rejected otherwise."""
        client_id = request.headers.get("client-id", "")
        key = self.merchant_key(client_id) if client_id else None
        if key is None:
            raise Rejected("ACCESS_DENIED", "unknown Client-Id")
        sent_at = request.headers.get("request-time", "")
        try:
            moment = datetime.fromisoformat(sent_at)
        except ValueError:
            raise Rejected("PARAM_ILLEGAL", "Request-Time is not ISO 8601") from None
        if moment.tzinfo is None:
            raise Rejected("PARAM_ILLEGAL", "Request-Time has no offset")
        if self.time_window is not None and abs(time.time() - moment.timestamp()) > self.time_window:
            raise Rejected("PARAM_ILLEGAL", "Request-Time is too far from now")
        items = {}
        for part in request.headers.get("signature", "").split(","):
            name, _, value = part.strip().partition("=")
            items[name.strip().lower()] = value.strip()
        if items.get("algorithm", "").upper() != "RSA256" or not items.get("signature"):
            raise Rejected("INVALID_SIGNATURE", "Signature header missing or not RSA256")
        content = f"POST {self.uri(request)}\n{client_id}.{sent_at}.".encode() + request.body
        try:
            key.verify(
                base64.b64decode(unquote_plus(items["signature"]), validate=True),
                content,
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            raise Rejected("INVALID_SIGNATURE", "signature does not verify") from None
        return client_id

    def parse_body(self, request: EmuRequest) -> dict[str, Any]:
        """Return the body if it follows the message/send schema; raise Rejected otherwise."""
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            raise Rejected("PARAM_ILLEGAL", "body is not JSON") from None
        if not isinstance(body, dict):
            raise Rejected("PARAM_ILLEGAL", "body is not a JSON object")
        for name, limit in LENGTHS.items():
            value = body.get(name)
            if not isinstance(value, str) or not value or len(value) > limit:
                raise Rejected("PARAM_ILLEGAL", f"{name} is required, at most {limit} characters")
        if set("@#?") & set(body["appId"]):
            raise Rejected("PARAM_ILLEGAL", "appId has special characters")
        for name, limit in OPTIONAL_LENGTHS.items():
            if name in body and (not isinstance(body[name], str) or len(body[name]) > limit):
                raise Rejected("PARAM_ILLEGAL", f"{name} must be a string of at most {limit} characters")
        if "customerBelongsTo" in body and body["customerBelongsTo"] not in WALLETS:
            raise Rejected("PARAM_ILLEGAL", "customerBelongsTo is not a known wallet")
        templates = body.get("templates")
        if not isinstance(templates, list) or not 1 <= len(templates) <= 5:
            raise Rejected("PARAM_ILLEGAL", "templates must hold 1 to 5 items")
        for item in templates:
            parameters = item.get("templateParameters") if isinstance(item, dict) else None
            if (
                not isinstance(parameters, dict)
                or not all(isinstance(k, str) and isinstance(v, str) for k, v in parameters.items())
                or not isinstance(item.get("language"), str)
                or not item["language"]
            ):
                raise Rejected("PARAM_ILLEGAL", "each template needs templateParameters and a language")
        return body

    # -- the API -----------------------------------------------------------
    def handle(self, request: EmuRequest) -> EmuResponse:
        """Answer message/send."""
        if not request.path.endswith(API_PATH) or request.method != "POST":
            response = self.answer(request, "F", "INVALID_API")
            response.status = 404
            return response
        try:
            client_id = self.authenticate(request)
            body = self.parse_body(request)
        except Rejected as exc:
            return self.answer(request, "F", exc.code)
        slot = (client_id, body["appId"], body["requestId"])
        with self._done_lock:
            done = self._done.get(slot)
        if done is not None:
            earlier_body, earlier_answer = done
            if earlier_body != body and self.reject_inconsistent_repeats:
                return self.answer(request, "F", "REPEAT_REQ_INCONSISTENT")
            # The same notification again: the same answer (same messageId), nothing sent.
            return self.signed(request, EmuResponse.json(200, json.loads(earlier_answer)))
        if self.known_templates is not None and body["templateCode"] not in self.known_templates:
            return self.answer(request, "F", "TEMPLATE_NOT_EXIST")
        channel = self.template_channels.get(body["templateCode"])
        if channel in ("PUSH", "INBOX") and not body.get("redirectUrl"):
            return self.answer(request, "F", "PARAM_ILLEGAL")
        token = body["accessToken"]
        if token in self.unsubscribed_tokens:
            return self.answer(request, "F", "USER_NOT_SUBSCRIBED")
        if token in self.expired_tokens:
            return self.answer(request, "F", "EXPIRED_ACCESS_TOKEN")
        message_id = f"{datetime.now(UTC):%Y%m%d%H%M%S}{uuid.uuid4().hex[:24]}"
        response = self.answer(request, "S", "SUCCESS", extra={"messageId": message_id})
        with self._done_lock:
            if slot in self._done:  # a concurrent twin got here first: answer as it did
                return self.signed(request, EmuResponse.json(200, json.loads(self._done[slot][1])))
            self._done[slot] = (body, response.body)
        self.accept(request, key=body["requestId"], targets=(token,), payload=body)
        return response

    # -- control endpoints -------------------------------------------------
    def _control(self, request: EmuRequest) -> EmuResponse:
        if request.path == "/_emulator/platform-key" and request.method == "GET":
            return EmuResponse.json(200, {"platform_public_key": self.platform_public_key_pem})
        return super()._control(request)
