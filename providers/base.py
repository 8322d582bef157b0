"""The contract every provider module implements.

A provider turns one :class:`Batch` of work for one :class:`Message` into an
``httpx.Request`` carrying the provider's own authentication, and turns the answer (or
a transport error) into a :class:`Result` with one of five outcomes and the provider's
own code and message. Provider modules see frozen dataclasses and named tuples, never
models, so they are tested without a database; the send engine owns retries, rate limits
and state.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, NamedTuple

import httpx

from observability.metrics import provider_request_observed
from providers import http as _http  # noqa: F401  (httpcore and the TLS context with the app: providers/http.py)
from providers import options as provider_options
from providers.answers import check_code


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
    # A scheduled (once, recurring, cron) push may go to tags or a segment (mPaaS: no).
    scheduled_tags: bool = True


@dataclass(frozen=True)
class AccountConfig:
    """What a provider needs to know about the account it sends as (secrets included)."""

    kind: str
    base_url: str
    app_id: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout: float = 10.0
    # Why this account may not send to base_url ("": it may); providers/endpoints.py decides.
    endpoint_problem: str = ""

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


class Target(NamedTuple):
    """One recipient as the provider addresses it. A named tuple, not a frozen dataclass: a
    Jiguang request is built from 1,000 of them (640 against 230 µs; BENCHMARKS.md)."""

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
class TemplateReference:
    """What ``provider`` calls a template registered with it (``field``) and what it looks like."""

    provider: str
    field: str
    pattern: str = r"\S(?:.*\S)?"  # matched in full
    hint: str = "text without leading or trailing spaces"

    @property
    def label(self) -> str:
        return f"{self.provider} {self.field}"


@dataclass(frozen=True)
class NativeSchedule:
    """A schedule a provider's own scheduler runs: ``once`` (``fixed_time``) or ``recurring``
    (``start_date``..``end_date`` at ``time``, ``circle_type`` 1 daily / 2 weekly / 3 monthly
    on ``circle_value`` days); wall times in ``zone``."""

    kind: str
    zone: str
    fixed_time: dt.datetime | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    time: dt.time | None = None
    circle_type: int | None = None
    circle_value: tuple[int, ...] = ()


@dataclass(frozen=True)
class Receipt:
    """One user's status of one sent message from a callback: ``status`` is a receipt status
    Crier stores (``target_valid``, ``target_invalid``, ``submitted``, ``submit_failed``,
    ``delivered``, ``delivery_failed``, ``clicked``, ``retracted``, ``retract_failed``); ``user``
    the provider's user id (the recipient's address there); ``at`` None means "now"."""

    message_id: str
    user: str
    status: str
    at: dt.datetime | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallbackBatch:
    """What one callback request carried: the receipts read, and how many records were not."""

    receipts: tuple[Receipt, ...] = ()
    received: int = 0
    invalid: int = 0


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
    """Base class of provider modules: one subclass per provider declares everything the core
    needs to know about it (the attributes below) and builds and parses its requests.

    The registry (``providers.registry``) maps a kind to its class; the core asks the class
    and never compares kinds.
    """

    kind: ClassVar[str] = ""
    # What users see: the account kind's name in forms and lists.
    label: ClassVar[str] = ""
    # Names of the credential fields of an account (stored encrypted, never rendered). The
    # first is the identity the client sends, the second the secret it proves it with: the
    # emulator is keyed by that pair (``manage.py run_emulators``).
    credential_fields: ClassVar[tuple[str, ...]] = ()
    # Credential fields that may stay empty, and those holding a key typed on several lines.
    optional_credentials: ClassVar[frozenset[str]] = frozenset()
    multiline_credentials: ClassVar[frozenset[str]] = frozenset()
    # The provider's documented production base URLs (docs/providers.md), shown to operators
    # as the example for an account's base URL; empty where the host depends on the deployment.
    official_hosts: ClassVar[tuple[str, ...]] = ()
    # What the provider calls a registered template, and what such a reference looks like.
    template_reference: ClassVar[TemplateReference] = TemplateReference("", "template reference")
    # The campaign's ``provider_options`` declared once (a ``providers.option_fields.OptionsSchema``,
    # docs/providers.md §8), and an example the campaign form offers to start from.
    option_schema: ClassVar[type | None] = None
    option_example: ClassVar[Mapping[str, Any]] = {}
    # The local emulator (dotted path of a ``providers.emulators.base.Emulator`` subclass)
    # and the port ``manage.py run_emulators`` serves it on ("" / 0: none).
    emulator: ClassVar[str] = ""
    emulator_port: ClassVar[int] = 0
    # The provider posts per-user receipts to ``/callbacks/<kind>/<account id>/``
    # (``callback_echo``, ``callback_authentic``, ``parse_callback``).
    receives_callbacks: ClassVar[bool] = False
    # The WWW-Authenticate header answering an unauthenticated callback (401).
    callback_challenge: ClassVar[str] = ""
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
    # Opted-out codes that refuse one template only (Binance 900241: "declined messages of
    # this template"); any other opted_out answer refuses everything from the provider.
    template_opt_out_codes: ClassVar[frozenset[str]] = frozenset()
    # The recipient's address at this provider is a credential (Alipay+: an access token
    # from applyToken). Such an address is required (no fallback to the external id), shown
    # masked in the admin and the API, and read from ``Recipient`` when sent rather than
    # copied into ``Delivery.routes``.
    address_is_credential: ClassVar[bool] = False
    # What an address must look like where the provider documents a rule (a regular
    # expression matched in full, and the same rule in words); "" where it has none.
    address_pattern: ClassVar[str] = ""
    address_rule: ClassVar[str] = ""

    @classmethod
    def required_credentials(cls) -> tuple[str, ...]:
        """Return the credential fields an account of this kind must have."""
        return tuple(name for name in cls.credential_fields if name not in cls.optional_credentials)

    @classmethod
    def credential_problem(cls, name: str, value: str) -> str:
        """Return what is wrong with credential ``name`` set to ``value`` ("" when nothing),
        as words that complete "<name> is …" and never contain the value."""
        return ""

    @classmethod
    def base_url_help(cls) -> str:
        """Return the help shown under an account's base URL: the official hosts."""
        if not cls.official_hosts:
            return f"The {cls.label} API's base URL (it depends on the deployment; ask the provider)."
        return f"The {cls.label} API's base URL, e.g. {' or '.join(cls.official_hosts)}."

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
    @classmethod
    def check_options(
        cls, options: Mapping[str, Any], message: Message, settings: Mapping[str, Any]
    ) -> provider_options.Checked:
        """Return ``options`` (an object) as this provider sends them, with their errors.

        ``providers.options.check`` adds the errors ``option_schema`` finds. Override it for
        rules between options; the default sends what the schema accepted.
        """
        return provider_options.Checked(values=provider_options.schema_values(cls.option_schema, options))

    def checked_options(self, message: Message) -> provider_options.Checked:
        """Return ``message.options`` as this provider sends them, with their errors; kept for
        the last message: every request of a dispatch sends the same one, and checking it (DRF
        fields built anew) was most of building a request (BENCHMARKS.md, "This round")."""
        last = getattr(self, "_checked", None)
        if last is None or last[0] is not message:
            checked = provider_options.check(type(self), message, self.account.settings)
            last = self._checked = (message, checked)
        return last[1]

    def option_errors(self, message: Message) -> dict[str, list[str]]:
        """Return the errors of ``message.options`` keyed by field path
        (``provider_options.PushStatus``): what submit reports for a campaign."""
        return self.checked_options(message).errors

    def campaign_option_errors(
        self, options: Mapping[str, Any], *, audience_kind: str, audience_name: str
    ) -> dict[str, list[str]]:
        """Return errors of ``options`` that depend on the campaign rather than the message,
        keyed by option name (no prefix): options Crier fills in itself, options that need a
        particular audience kind (``all``, ``users``, ``tags``, ``segment``)."""
        return {}

    def with_approver(self, options: dict[str, Any], approver: str) -> dict[str, Any]:
        """Return ``options`` with the approving reviewer filled in, where this account's
        requests must name him (Jiguang API review: ``option.owner``); the default adds nothing."""
        return options

    def request_variants(self, options: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Return the per-request parameters of one broadcast: one provider request each.

        Most providers broadcast in one request (``[{}]``); mPaaS sends one request per
        DeliveryType when a campaign targets several platforms.
        """
        return [{}]

    # -- native scheduling ---------------------------------------------------
    def schedules_natively(self) -> bool:
        """Return whether this account hands once and recurring schedules to the provider's
        own scheduler (one registration request instead of an occurrence per due time)."""
        return False

    def native_zone(self) -> str:
        """Return the time zone the provider's scheduler reads this account's schedules in."""
        return "UTC"

    def native_schedule_options(self, schedule: NativeSchedule) -> dict[str, Any]:
        """Return the options that register ``schedule`` with the provider's scheduler."""
        return {}

    def native_option_names(self) -> frozenset[str]:
        """Return the option names ``native_schedule_options`` sets (a campaign may not)."""
        return frozenset()

    def cancel_schedule_request(self, task_ids: list[str]) -> httpx.Request:
        """Return the signed request that cancels the provider-scheduled ``task_ids``."""
        raise ProviderError(f"provider {self.kind!r} has no scheduler to cancel", field="schedule")

    def parse_cancel(self, response: httpx.Response) -> Result:
        """Return the outcome of a cancel answer (delivered: cancelled)."""
        return self.parse_response(response)

    # -- receipts (callbacks) --------------------------------------------------
    def callback_echo(self, query: Mapping[str, str]) -> str | None:
        """Return the body answering the provider's validation of the callback URL (a GET
        with ``query``); None when ``query`` is not such a validation."""
        return None

    def callback_authentic(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Return whether a callback POST carries this account's credentials."""
        return False

    def parse_callback(self, body: bytes) -> CallbackBatch:
        """Return the receipts of an authenticated callback POST; raise ValueError when
        ``body`` is not a batch at all (answered 400)."""
        raise ValueError(f"provider {self.kind!r} sends no callbacks")

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
        if refused := self.endpoint_refused():
            return refused
        request = self.recall_request(message_id)
        started = time.perf_counter()
        try:
            response = client.send(request)
        except httpx.HTTPError as exc:
            result = self.transport_error(exc)
        else:
            result = self.parse_recall(response)
        provider_request_observed(self.kind, time.perf_counter() - started)
        elapsed = int((time.perf_counter() - started) * 1000)
        return Result(**{**result.__dict__, "duration_ms": elapsed})

    # -- account check (manage.py check_provider) ---------------------------
    def check_request(self) -> httpx.Request:
        """Return a harmless signed request whose answer shows whether the account works: by
        default a preview of a dummy template to a dummy test user with a fresh key, answered
        with a business result (often a refusal) if authenticated, an auth error if not.
        Override it where the provider has something more harmless (or a preview reaches users)."""
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
        configuration, and a sentence saying why (never a secret, never the answer's text)."""
        said = check_code(result.code)
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
        """Return the outcome of a request that got no answer: one that never reached the
        provider (connect failure) is safe to retry; one that may have (read timeout, dropped
        connection) is ``unknown`` unless the provider deduplicates our key."""
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return Result(Outcome.RETRY, code="CONNECT_ERROR", message=str(exc) or type(exc).__name__)
        outcome = Outcome.RETRY if self.limits.idempotent else Outcome.UNKNOWN
        return Result(outcome, code="TRANSPORT_ERROR", message=f"{type(exc).__name__}: {exc}")

    def endpoint_refused(self) -> Result | None:
        """Return the failure of any request to a refused endpoint (providers/endpoints.py), else None."""
        problem = self.account.endpoint_problem
        return Result(Outcome.FAILED, code="ENDPOINT_REFUSED", message=problem) if problem else None

    def send(self, client: httpx.Client, message: Message, batch: Batch) -> Result:
        """Send ``batch`` once with ``client`` and return its outcome (never raises for HTTP)."""
        if refused := self.endpoint_refused():
            return refused
        request = self.build_request(message, batch)
        started = time.perf_counter()
        try:
            response = client.send(request)
        except httpx.HTTPError as exc:
            result = self.transport_error(exc)
        else:
            result = self.parse_response(response)
        provider_request_observed(self.kind, time.perf_counter() - started)  # docs/metrics.md
        elapsed = int((time.perf_counter() - started) * 1000)
        return Result(**{**result.__dict__, "duration_ms": elapsed})
