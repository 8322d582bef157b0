"""The contract every provider module implements.

A provider turns one :class:`Batch` of work for one :class:`Message` into an
``httpx.Request`` carrying the provider's own authentication, and turns the answer (or
a transport error) into a :class:`Result` with one of five outcomes and the provider's
own code and message. Provider modules see frozen dataclasses, never models, so they
are tested without a database; the send engine owns retries, rate limits and state.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

import httpx

from providers import options as provider_options


class Outcome(StrEnum):
    DELIVERED = "delivered"  # accepted by the provider
    FAILED = "failed"  # permanent: do not retry
    RETRY = "retry"  # transient: retry later with the same idempotency key
    UNKNOWN = "unknown"  # the provider may or may not have acted
    OPTED_OUT = "opted_out"  # the user refused messages


class ProviderError(Exception):
    """A request cannot be built (bad configuration or input); ``permanent`` says whether to retry."""

    def __init__(self, message: str, *, permanent: bool = True, field: str = "") -> None:
        super().__init__(message)
        self.permanent = permanent
        self.field = field


@dataclass(frozen=True)
class Limits:
    """What one request may carry at this provider."""

    ids_per_request: int = 1  # recipients addressed by one request (0: broadcast only)
    test_uids: int = 5
    tags_per_request: int = 0
    segments_per_request: int = 0
    languages_per_request: int = 1
    per_user: bool = False  # one request per recipient (Alipay+)
    broadcast: bool = True  # has a provider-side "everyone" request
    idempotent: bool = False  # the provider deduplicates our key (safe to resend in flight)
    max_key_length: int = 64
    field_lengths: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AccountConfig:
    """What a provider needs to know about the account it sends as (secrets included)."""

    kind: str
    base_url: str
    app_id: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout: float = 10.0

    def __repr__(self) -> str:  # never print credentials
        return f"AccountConfig(kind={self.kind!r}, base_url={self.base_url!r}, app_id={self.app_id!r})"


@dataclass(frozen=True)
class Variant:
    """The rendered text of the template in one language (for providers that carry text)."""

    language: str
    title: str
    body: str


@dataclass(frozen=True)
class Message:
    """What is sent: the provider-side template reference and its parameters."""

    template_ref: str  # Binance templateId, Alipay+ templateCode, mPaaS TemplateName, UMS template_id
    language: str
    parameters: Mapping[str, str]
    path: str = ""  # landing path / redirect URL
    expired_seconds: int = 86400
    priority: int = 2
    options: Mapping[str, Any] = field(default_factory=dict)  # provider_options of the campaign
    variants: tuple[Variant, ...] = ()
    task_name: str = ""


@dataclass(frozen=True)
class Target:
    """One recipient as the provider addresses it."""

    external_id: str
    address: str = ""  # Alipay+ accessToken, Jiguang userid, …
    language: str = ""


@dataclass(frozen=True)
class Batch:
    """One provider request's worth of work with its deterministic idempotency key."""

    key: str  # requestId / Msgkey / sendno
    targets: tuple[Target, ...] = ()  # empty: provider-side broadcast
    tags: tuple[str, ...] = ()
    segment: str = ""
    preview: bool = False
    test_uids: tuple[str, ...] = ()
    # Per-request provider parameters, one of ``Provider.request_variants`` (e.g. the mPaaS
    # DeliveryType of this request when a campaign targets several platforms).
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    """How one request ended."""

    outcome: Outcome
    code: str = ""
    message: str = ""
    http_status: int | None = None
    retry_after: float | None = None
    provider_message_id: str = ""
    duration_ms: int = 0
    raw: Mapping[str, Any] = field(default_factory=dict)


class Provider:
    """Base class of provider modules: subclasses set ``kind``/``limits`` and build/parse."""

    kind: ClassVar[str] = ""
    limits: ClassVar[Limits] = Limits()
    # Label shown to users for an accepted request (Binance: accepted for BD review).
    accepted_label: ClassVar[str] = "accepted by provider"
    # Provider codes meaning "your credentials were refused" (``manage.py check_provider``).
    auth_error_codes: ClassVar[frozenset[str]] = frozenset()
    # Whether sent messages can be recalled (``recall_request``), and for how long after
    # sending (seconds; None: as long as the message is valid, see ``recall_window``).
    can_recall: ClassVar[bool] = False
    recall_seconds: ClassVar[int | None] = None
    # Provider codes answering a recall with "this message is recalled already".
    recalled_codes: ClassVar[frozenset[str]] = frozenset()
    # The recipient's address at this provider is a credential (Alipay+: an access token
    # from applyToken). Such an address is required (no fallback to the external id), shown
    # masked in the admin and the API, and read from ``Recipient`` when sent rather than
    # copied into ``Delivery.routes``.
    address_is_credential: ClassVar[bool] = False
    # What an address must look like where the provider documents a rule (a regular
    # expression matched in full, and the same rule in words); "" where it has none.
    address_pattern: ClassVar[str] = ""
    address_rule: ClassVar[str] = ""

    def __init__(self, account: AccountConfig) -> None:
        self.account = account

    # -- to implement ------------------------------------------------------
    def payload(self, message: Message, batch: Batch) -> dict[str, Any]:
        """Return the business fields of the request for ``batch``: no authentication,
        timestamps or nonces, so the same message and batch always give the same dict.

        Reviewers see this and the approval snapshot hashes it; ``build_request`` sends it.
        """
        raise NotImplementedError

    def build_request(self, message: Message, batch: Batch) -> httpx.Request:
        """Return the signed HTTP request for ``batch``; raise ProviderError on bad input."""
        raise NotImplementedError

    def parse_response(self, response: httpx.Response) -> Result:
        """Return the outcome of a provider answer, with the provider's code and message."""
        raise NotImplementedError

    def validate(self, message: Message) -> dict[str, list[str]]:
        """Return field errors for ``message`` under this provider's rules (empty: valid)."""
        return {}

    # -- provider options (providers.options) --------------------------------
    def checked_options(self, message: Message) -> provider_options.Checked:
        """Return ``message.options`` as this provider sends them, with their errors."""
        return provider_options.check(self.kind, message, self.account.settings)

    def option_errors(self, message: Message) -> dict[str, list[str]]:
        """Return the errors of ``message.options`` keyed by field path
        (``provider_options.PushStatus``): what submit reports for a campaign."""
        return self.checked_options(message).errors

    def request_variants(self, options: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Return the per-request parameters of one broadcast: one provider request each.

        Most providers broadcast in one request (``[{}]``); mPaaS sends one request per
        DeliveryType when a campaign targets several platforms.
        """
        return [{}]

    # -- recall --------------------------------------------------------------
    def recall_window(self, message: Message) -> int | None:
        """Return for how many seconds after sending a message can be recalled (None: never)."""
        return self.recall_seconds if self.can_recall else None

    def recall_request(self, message_id: str) -> httpx.Request:
        """Return the signed request that recalls the sent message ``message_id``."""
        raise ProviderError(f"provider {self.kind!r} cannot recall sent messages", field="recall")

    def parse_recall(self, response: httpx.Response) -> Result:
        """Return the outcome of a recall answer (delivered: recalled)."""
        return self.parse_response(response)

    def recall(self, client: httpx.Client, message_id: str) -> Result:
        """Recall ``message_id`` once with ``client``; return the answer (never raises for HTTP)."""
        request = self.recall_request(message_id)
        started = time.perf_counter()
        try:
            response = client.send(request)
        except httpx.HTTPError as exc:
            result = self.transport_error(exc)
        else:
            result = self.parse_recall(response)
        elapsed = int((time.perf_counter() - started) * 1000)
        return Result(**{**result.__dict__, "duration_ms": elapsed})

    # -- account check (manage.py check_provider) ---------------------------
    def check_request(self) -> httpx.Request:
        """Return a harmless signed request whose answer shows whether the account works.

        The default is a preview of a dummy template to one dummy test user with a fresh
        key: a provider that authenticates it answers with a business result (often a
        refusal of the dummy values), one that does not answers with an auth error.
        Override it where the provider has something more harmless (or a preview would
        reach real users).
        """
        dummy = Target(external_id="crier-check", address="crier-check")
        message = Message(
            template_ref=str(self.account.settings.get("check_template_ref") or "crier-check"),
            language="en",
            parameters={},
        )
        batch = Batch(
            key=f"crier-check-{uuid.uuid4().hex}",
            targets=(dummy,) if self.limits.ids_per_request else (),
            preview=True,
            test_uids=(dummy.external_id,),
        )
        return self.build_request(message, batch)

    def check_outcome(self, result: Result) -> tuple[bool, str]:
        """Return whether the answer to ``check_request`` shows working credentials and
        configuration, and a sentence saying why (never containing secrets)."""
        said = f"{result.code or '-'}: {result.message}".strip()
        if result.http_status is None:
            return False, f"no answer from {self.account.base_url} ({said})"
        if result.code in self.auth_error_codes or result.http_status in (401, 403):
            return False, f"authentication refused (HTTP {result.http_status}, {said})"
        if result.http_status in (404, 405):
            return False, (
                f"no such API at {self.account.base_url}: check the base URL and app id "
                f"(HTTP {result.http_status})"
            )
        if result.http_status >= 500:
            return False, f"the provider failed (HTTP {result.http_status}, {said}); try again later"
        if result.outcome is Outcome.UNKNOWN:
            return False, f"the answer could not be trusted or understood ({said})"
        return True, f"authenticated; the provider answered {said} ({result.outcome})"

    # -- shared policy -----------------------------------------------------
    def batch_targets(self, targets: Iterable[Target]) -> Iterator[tuple[Target, ...]]:
        """Yield ``targets`` in groups of at most ``limits.ids_per_request`` (one request each)."""
        size = max(1, self.limits.ids_per_request)
        group: list[Target] = []
        for target in targets:
            group.append(target)
            if len(group) == size:
                yield tuple(group)
                group = []
        if group:
            yield tuple(group)

    def transport_error(self, exc: httpx.HTTPError) -> Result:
        """Return the outcome of a request that got no answer.

        A request that never reached the provider (connect failure) is safe to retry.
        One that may have reached it (read timeout, dropped connection) is ``unknown``
        unless the provider deduplicates our key, in which case resending is safe.
        """
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return Result(Outcome.RETRY, code="CONNECT_ERROR", message=str(exc) or type(exc).__name__)
        outcome = Outcome.RETRY if self.limits.idempotent else Outcome.UNKNOWN
        return Result(outcome, code="TRANSPORT_ERROR", message=f"{type(exc).__name__}: {exc}")

    def send(self, client: httpx.Client, message: Message, batch: Batch) -> Result:
        """Send ``batch`` once with ``client`` and return its outcome (never raises for HTTP)."""
        request = self.build_request(message, batch)
        started = time.perf_counter()
        try:
            response = client.send(request)
        except httpx.HTTPError as exc:
            result = self.transport_error(exc)
        else:
            result = self.parse_response(response)
        elapsed = int((time.perf_counter() - started) * 1000)
        return Result(**{**result.__dict__, "duration_ms": elapsed})


def retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After style header holding seconds; None when absent or malformed."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
