"""Binance mini-program open service: BroadcastMessage.

``POST {base_url}/mp-api/v1/apps/{appId}/message/broadcast`` sends a registered
template to every user of the mini program after Binance BD has reviewed the request,
or, with ``preview``, to at most five experience uids. A success therefore means
*accepted for Binance review*, not delivered.

Authentication is a JWT (HS256, keyed with the account's secret key) in the
``X-Mp-Open-Api-Token`` header with the claims ``iss`` (access key), ``ts`` (Unix
seconds) and ``dig``: the hex SHA-256 of the CanonicalRequest
``METHOD\\nCanonicalURI\\nCanonicalQuery\\nhex(sha256(body))``, where the canonical URI
is the path actually requested (any prefix of the base URL included), each segment
URI-encoded, with a trailing ``/``. The token binds method, path and exact body bytes,
so every request gets a fresh one.

Campaign ``provider_options`` (checked by ``providers.binance_options``): ``path``, and ``preview``
with ``experienceUids`` (1–5) to send every occurrence only to those uids.

Outcomes (Binance has no idempotency key, so a request that may have been acted on is
never resent blindly):

* ``code`` 000000 with ``data.statusCode`` 000000 → delivered ("accepted for Binance
  review"); ``statusCode`` 900240 / 900241 → opted_out (the user refused all messages /
  this template);
* 900231 rate limit → retry: the request was refused before being acted on;
* 900003 "Unexpected Error" → retry. It is an explicit error answer (the open service
  reports that it did not complete the request), unlike a timeout, and every broadcast
  still passes BD review, where a duplicate is visible before it reaches a user. A
  timeout or dropped connection, where Binance may have acted, is ``unknown``;
* 900001 invalid parameter, 900002 JWT authentication failed → failed (a fresh token is
  built per request, so a rejected one means wrong keys or a clock off by minutes);
* HTTP 5xx / 429 → retry; any other HTTP error → failed; an HTTP 200 answer that is not
  the documented envelope → unknown (Binance may have acted).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qsl, quote

import httpx
import jwt
from django.utils.translation import gettext_lazy

from providers import binance_options
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

API_PATH = "/mp-api/v1/apps/{app_id}/message/broadcast"
TOKEN_HEADER = "X-Mp-Open-Api-Token"
SUCCESS = "000000"
OPT_OUT_STATUSES = {
    "900240": "the user refused all messages from the mini program",
    "900241": "the user declined messages of this template",
}
# Answers Binance gives before acting on a request: safe to send again.
RETRY_CODES = {"900231": "rate limit", "900003": "unexpected error"}
FAILED_CODES = {"900001": "invalid parameter", "900002": "JWT authentication failed"}
_UNRESERVED = "-_.~"  # RFC 3986 unreserved characters besides letters and digits


def canonical_uri(path: str) -> str:
    """Return ``path`` (decoded) with each segment URI-encoded and a trailing ``/``."""
    encoded = "/".join(quote(segment, safe=_UNRESERVED) for segment in path.split("/"))
    if not encoded.startswith("/"):
        encoded = "/" + encoded
    return encoded if encoded.endswith("/") else encoded + "/"


def canonical_query(query: str) -> str:
    """Return the raw query string re-encoded name=value pairs, sorted by encoded name."""
    pairs = [
        (quote(name, safe=_UNRESERVED), quote(value, safe=_UNRESERVED))
        for name, value in parse_qsl(query, keep_blank_values=True)
    ]
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def canonical_request(*, method: str, path: str, query: str, body: bytes) -> str:
    """Return the CanonicalRequest whose SHA-256 is the JWT ``dig`` claim."""
    return "\n".join(
        [method.upper(), canonical_uri(path), canonical_query(query), hashlib.sha256(body).hexdigest()]
    )


def open_api_token(*, access_key: str, secret_key: str, request: httpx.Request, now: float) -> str:
    """Return the ``X-Mp-Open-Api-Token`` JWT for exactly this request."""
    canonical = canonical_request(
        method=request.method,
        path=request.url.path,
        query=request.url.query.decode("ascii"),
        body=request.content,
    )
    claims = {"iss": access_key, "dig": hashlib.sha256(canonical.encode()).hexdigest(), "ts": int(now)}
    return jwt.encode(claims, secret_key, algorithm="HS256")


class BinanceProvider(Provider):
    """Send template broadcasts (and previews to ≤5 experience uids) as one Binance mini program."""

    kind = "binance"
    label = gettext_lazy("Binance mini program")  # shown to people (docs/i18n-glossary.md)
    # "The user declined messages of this template" (docs/providers.md §1.5): that template only.
    template_opt_out_codes: ClassVar[frozenset[str]] = frozenset({"900241"})
    credential_fields = ("access_key", "secret_key")
    official_hosts = ("https://dip-cb.binanceapi.com",)  # docs/providers.md §1.1
    template_reference = TemplateReference("Binance", "templateId")
    option_example = binance_options.EXAMPLE
    option_schema = binance_options.BinanceOptionsSerializer
    emulator = "providers.emulators.binance.BinanceEmulator"
    emulator_port = 8101
    limits: ClassVar[Limits] = Limits(
        ids_per_request=0,
        test_uids=5,
        broadcast=True,
        per_user=False,
        idempotent=False,
    )
    accepted_label = "accepted for Binance review"
    auth_error_codes = frozenset({"900002"})

    @classmethod
    def check_options(
        cls, options: Mapping[str, Any], message: Message, settings: Mapping[str, Any]
    ) -> binance_options.Checked:
        return binance_options.check_binance(options, path=message.path, settings=settings)

    def payload(self, message: Message, batch: Batch) -> dict[str, Any]:
        """Return the BroadcastMessage body: the template, its parameters, and the preview uids.

        A preview batch (Crier's preview to the campaign's test uids) goes to its test uids;
        a campaign whose options say ``preview: true`` sends every occurrence to its
        ``experienceUids`` only.
        """
        options = self.checked_options(message).values
        body: dict[str, Any] = {
            "appId": self.account.app_id,
            "templateId": message.template_ref,
            "language": message.language,
        }
        if options.get("path"):
            body["path"] = options["path"]
        # Sorted so the same message always gives the same bytes (the approval hashes them).
        body["parameters"] = [
            {"name": str(name), "value": str(value)} for name, value in sorted(message.parameters.items())
        ]
        if batch.preview:
            body["preview"] = True
            body["experienceUids"] = list(batch.test_uids)
        elif options.get("preview"):
            body["preview"] = True
            body["experienceUids"] = list(options["experienceUids"])
        else:
            body["preview"] = False
            body["experienceUids"] = []
        return body

    def validate(self, message: Message) -> dict[str, list[str]]:
        """Return field errors of ``message`` under the BroadcastMessage rules."""
        errors: dict[str, list[str]] = {}
        if not message.template_ref.strip():
            errors.setdefault("templateId", []).append("templateId is required")
        if not message.language.strip():
            errors.setdefault("language", []).append("language is required")
        for name in message.parameters:
            if not str(name).strip():
                errors.setdefault("parameters", []).append("a parameter has an empty name")
        for path, problems in self.option_errors(message).items():
            errors.setdefault(path.rsplit(".", 1)[-1], []).extend(problems)
        return errors

    def _check_batch(self, message: Message, batch: Batch) -> None:
        errors = self.validate(message)
        if errors:
            field, problems = next(iter(errors.items()))
            raise ProviderError("; ".join(problems), field=field)
        if not self.account.app_id:
            raise ProviderError("the Binance account has no app id", field="app_id")
        if batch.targets or batch.tags or batch.segment:
            raise ProviderError(
                "Binance BroadcastMessage goes to every user of the mini program; "
                "it cannot address a list of users, tags or a segment",
                field="audience",
            )
        if batch.preview and not batch.test_uids:
            raise ProviderError("a Binance preview needs at least one test uid", field="test_uids")
        if len(batch.test_uids) > self.limits.test_uids:
            raise ProviderError(
                f"test_uids has {len(batch.test_uids)} uids; Binance previews go to at most "
                f"{self.limits.test_uids}",
                field="test_uids",
            )

    def _keys(self) -> tuple[str, str]:
        credentials = self.account.credentials
        missing = [name for name in ("access_key", "secret_key") if not credentials.get(name)]
        if missing:
            raise ProviderError(
                f"the Binance account lacks credentials: {', '.join(missing)}", field="credentials"
            )
        return credentials["access_key"], credentials["secret_key"]

    def build_request(self, message: Message, batch: Batch) -> httpx.Request:
        """Return the BroadcastMessage request with a fresh JWT over its exact bytes."""
        self._check_batch(message, batch)
        access_key, secret_key = self._keys()
        body = json.dumps(self.payload(message, batch), ensure_ascii=False, separators=(",", ":")).encode()
        url = self.account.base_url.rstrip("/") + API_PATH.format(app_id=quote(self.account.app_id, safe=""))
        request = httpx.Request(
            "POST",
            url,
            content=body,
            headers={"Content-Type": "application/json; charset=UTF-8", "Accept": "application/json"},
        )
        request.headers[TOKEN_HEADER] = open_api_token(
            access_key=access_key, secret_key=secret_key, request=request, now=time.time()
        )
        return request

    def check_request(self) -> httpx.Request:
        """Return a preview to the account's ``test_uid`` setting (or a dummy uid).

        The template is ``check_template_id`` from the settings, else a dummy id Binance
        refuses with 900001 *after* authenticating: either way nobody but a test user
        can receive it.
        """
        settings = self.account.settings
        message = Message(
            template_ref=str(settings.get("check_template_id") or "crier-check"),
            language=str(settings.get("language") or "en"),
            parameters={},
        )
        uid = str(settings.get("test_uid") or "crier-check")
        return self.build_request(message, Batch(key="crier-check", preview=True, test_uids=(uid,)))

    def parse_response(self, response: httpx.Response) -> Result:
        """Return the outcome of a BroadcastMessage answer."""
        status = response.status_code
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = None
        envelope = data if isinstance(data, dict) and "code" in data else None
        if status >= 500 or status == 429:
            code = str(envelope["code"]) if envelope else f"HTTP_{status}"
            return Result(
                Outcome.RETRY,
                code=code,
                message=f"Binance answered HTTP {status}",
                http_status=status,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                raw=envelope or {},
            )
        if envelope is None:
            snippet = response.text[:200] if status == 200 else ""
            outcome = Outcome.UNKNOWN if status == 200 else Outcome.FAILED
            return Result(
                outcome,
                code=f"HTTP_{status}" if status != 200 else "UNPARSEABLE_RESPONSE",
                message=(
                    f"Binance answered HTTP {status} without the documented JSON envelope"
                    + (f": {snippet!r}" if snippet else "")
                ),
                http_status=status,
            )
        code = str(envelope.get("code"))
        text = str(envelope.get("message") or "")
        body = envelope.get("data") if isinstance(envelope.get("data"), dict) else {}
        status_code = str(body.get("statusCode", "")) if body else ""
        if status_code in OPT_OUT_STATUSES:
            return Result(
                Outcome.OPTED_OUT,
                code=status_code,
                message=text or OPT_OUT_STATUSES[status_code],
                http_status=status,
                raw=envelope,
            )
        if code == SUCCESS and status == 200:
            if status_code == SUCCESS:
                return Result(
                    Outcome.DELIVERED,
                    code=SUCCESS,
                    message=self.accepted_label,
                    http_status=status,
                    raw=envelope,
                )
            return Result(
                Outcome.UNKNOWN,
                code=status_code or "NO_STATUS_CODE",
                message=f"Binance answered success with an undocumented data.statusCode {status_code!r}",
                http_status=status,
                raw=envelope,
            )
        if code in RETRY_CODES:
            return Result(
                Outcome.RETRY,
                code=code,
                message=text or RETRY_CODES[code],
                http_status=status,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                raw=envelope,
            )
        return Result(
            Outcome.FAILED,
            code=code,
            message=text or FAILED_CODES.get(code, f"Binance refused the request (HTTP {status})"),
            http_status=status,
            raw=envelope,
        )
