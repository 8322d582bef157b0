"""The send engine: turn one occurrence of a campaign into provider requests, exactly once.

The database is the ledger; the queue only wakes work up (QUEUE-AND-HTTP.md). So:

* A :class:`~campaigns.models.Dispatch` is claimed with a compare-and-swap UPDATE
  (``pending -> running`` with this worker's id and a heartbeat) before anything is sent;
  a duplicated task finds it taken and does nothing. The heartbeat is itself a CAS on
  ``claimed_by``: a worker that lost its claim (the watchdog gave it away) stops at once.
* Planning creates every :class:`~campaigns.models.Delivery` row of the dispatch in one
  transaction, streaming the audience in chunks (memory flat in audience size), each with
  a deterministic idempotency key derived from campaign, occurrence and batch.
* A delivery is marked ``in_flight`` (and its attempt counted) *before* its request leaves.
  If the worker dies, the watchdog (:func:`dispatches_recover`) re-sends in-flight requests
  only where the provider deduplicates our key (Alipay+ ``requestId``); elsewhere it marks
  them ``unknown`` for an operator: never a silent second broadcast.
* ``retry`` outcomes wait with exponential backoff and full jitter (honouring the
  provider's retry-after) and go again with the same key, up to the account's
  ``max_attempts``. ``failed`` is final; ``opted_out`` is recorded on the recipient.
* A task works for at most ``CRIER_DISPATCH_TASK_BUDGET`` seconds (well under the queue's
  ``timeout``), then hands the dispatch back (``running -> pending``) and enqueues its own
  continuation; the watchdog re-enqueues dispatches whose task was lost (Redis broker).
* An occurrence reached after ``expired_seconds`` is recorded ``expired``, not sent late,
  and so is any request still unsent when the occurrence expires mid-way.
* The emergency stop (:class:`~campaigns.models.SendSwitch`) is read before every chunk.

Rate limits and concurrency are per dispatch worker: ``rate_limit`` requests/s and
``max_concurrency`` requests in flight, from the provider account.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Count, F, Min, Q, Sum
from django.utils import timezone

from campaigns.audiences.services import TargetRow, iter_audience_targets
from campaigns.messages import provider_for
from campaigns.models import (
    AudienceKind,
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Dispatch,
    DispatchStatus,
    Recipient,
    SendSwitch,
)
from campaigns.provider_options import send_message
from campaigns.sending import native
from providers.base import Batch, Message, Outcome, Provider, Result, Target

logger = logging.getLogger(__name__)

OPEN_DELIVERY = (DeliveryStatus.PENDING, DeliveryStatus.RETRY)
PLAN_CHUNK = 1000
# Seconds between recounts of a running dispatch's progress counters (see _send_loop).
COUNT_INTERVAL = 1.0
BULK_SIZE = 2000
# Also flush planned deliveries after this many targets: 2,000 Jiguang requests of 1,000
# ids would otherwise hold two million ids in memory (memory flat in audience size).
BULK_TARGETS = 20_000


def worker_id() -> str:
    """Return an id for this process and thread, unique across hosts."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def sending_stopped() -> bool:
    """Return True while the emergency stop is on."""
    return SendSwitch.objects.filter(pk=1, stopped=True).exists()


def enqueue_dispatch(dispatch_id: int) -> None:
    """Wake a worker for ``dispatch_id`` once the current transaction commits."""
    from django_q.tasks import async_task

    transaction.on_commit(
        lambda: async_task("campaigns.tasks.run_dispatch", dispatch_id, task_name=f"dispatch-{dispatch_id}")
    )


def idempotency_key(dispatch: Dispatch, batch_no: int) -> str:
    """Return the deterministic key of one request: campaign, occurrence and batch (<= 64 chars)."""
    kind = "p" if dispatch.is_preview else "d"
    # To the microsecond, like the (campaign, due_at) uniqueness of the dispatch itself:
    # two occurrences in one second (a quick re-approval of a "now" campaign) differ.
    return f"crier-{dispatch.campaign_id}-{kind}{dispatch.due_at:%Y%m%d%H%M%S%f}-{batch_no}"


def backoff_seconds(attempt: int, *, base: float | None = None, cap: float | None = None) -> float:
    """Return a full-jitter exponential backoff for the ``attempt``-th retry (1-based)."""
    base = settings.CRIER_RETRY_BASE_SECONDS if base is None else base
    cap = settings.CRIER_RETRY_MAX_SECONDS if cap is None else cap
    return random.uniform(0, min(cap, base * (2 ** max(0, attempt - 1))))


class TokenBucket:
    """A thread-safe token bucket: ``rate`` tokens per second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, burst)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def set_rate(self, rate: float, burst: float) -> None:
        """Change the rate (and the most saved up) from now on; tokens saved are kept."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.tokens + (now - self.updated) * self.rate, max(1.0, burst))
            self.updated = now
            self.rate = rate
            self.capacity = max(1.0, burst)

    def take(self) -> None:
        """Block until a token is available, then take it."""
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                wait = (1 - self.tokens) / self.rate
            time.sleep(wait)


# --- planning ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedRequest:
    targets: tuple[str, ...] = ()
    selector: dict | None = None
    # (address, language) per target, when planning may keep them (see Delivery.routes).
    routes: tuple[tuple[str, str], ...] = ()


def _plan_requests(dispatch: Dispatch, provider: Provider, skipped: Counter) -> Iterator[PlannedRequest]:
    """Yield the provider requests a dispatch consists of, streaming the audience."""
    campaign = dispatch.campaign
    limits = provider.limits
    if dispatch.is_preview:
        uids = tuple(str(u) for u in (campaign.test_uids or []))[: limits.test_uids]
        if not uids:
            raise DispatchRefused("the campaign has no test uids to preview to")
        if limits.per_user:
            for uid in uids:
                yield PlannedRequest(targets=(uid,))
        else:
            yield PlannedRequest(targets=uids, selector={"preview": True})
        return
    audience = campaign.audience
    if audience.kind == AudienceKind.ALL and limits.broadcast:
        # One request per variant (mPaaS: one per DeliveryType when a campaign targets several).
        options = campaign.provider_options if isinstance(campaign.provider_options, dict) else {}
        for params in provider.request_variants(options):
            yield PlannedRequest(selector={"params": params} if params else None)
        return
    if audience.kind == AudienceKind.SEGMENT:
        if limits.segments_per_request < 1:
            raise DispatchRefused(f"provider {provider.kind!r} cannot send to a provider segment")
        yield PlannedRequest(selector={"segment": audience.segment})
        return
    if audience.kind == AudienceKind.TAGS and limits.tags_per_request > 0:
        tags = list(audience.tags or [])
        for start in range(0, len(tags), limits.tags_per_request):
            yield PlannedRequest(selector={"tags": tags[start : start + limits.tags_per_request]})
        return
    if limits.ids_per_request < 1:
        raise DispatchRefused(
            f"provider {provider.kind!r} only broadcasts to everyone; audience {audience.name!r} "
            f"is of kind {audience.kind!r}"
        )
    stream = iter_audience_targets(
        audience, provider_kind=provider.kind, template_key=campaign.template.key, chunk_size=PLAN_CHUNK
    )
    size = limits.ids_per_request
    # An address that is a credential (an Alipay+ access token) is not copied into
    # Delivery.routes: sending reads the current one from Recipient.
    keep_routes = not provider.address_is_credential
    pending: list[TargetRow] = []

    def planned(rows: list[TargetRow]) -> PlannedRequest:
        routes = tuple((row.address, row.language) for row in rows) if keep_routes else ()
        return PlannedRequest(targets=tuple(row.external_id for row in rows), routes=routes)

    for chunk in stream.chunks():
        pending.extend(chunk)
        while len(pending) >= size:
            yield planned(pending[:size])
            del pending[:size]
    if pending:
        yield planned(pending)
    skipped.update(stream.skipped)


def dispatch_plan(dispatch: Dispatch, provider: Provider) -> None:
    """Create every Delivery of ``dispatch`` in one transaction (all or nothing)."""
    skipped: Counter = Counter()
    batch_no = 0
    recipients = 0
    with transaction.atomic():
        buffer: list[Delivery] = []
        buffered_targets = 0
        for planned in _plan_requests(dispatch, provider, skipped):
            batch_no += 1
            recipients += len(planned.targets)
            buffer.append(
                Delivery(
                    dispatch=dispatch,
                    batch_no=batch_no,
                    idempotency_key=idempotency_key(dispatch, batch_no),
                    targets=list(planned.targets),
                    routes=[list(route) for route in planned.routes],
                    target_count=len(planned.targets),
                    selector=planned.selector or {},
                )
            )
            buffered_targets += len(planned.targets)
            if len(buffer) >= BULK_SIZE or buffered_targets >= BULK_TARGETS:
                Delivery.objects.bulk_create(buffer)
                buffer = []
                buffered_targets = 0
        if buffer:
            Delivery.objects.bulk_create(buffer)
        detail = ""
        if skipped:
            detail = "skipped: " + ", ".join(f"{n} {reason}" for reason, n in sorted(skipped.items()))
        Dispatch.objects.filter(pk=dispatch.pk).update(
            planned_at=timezone.now(),
            total_requests=batch_no,
            total_recipients=recipients,
            skipped=sum(skipped.values()),
            detail=detail,
        )


# --- sending ----------------------------------------------------------------------------


class DispatchRefused(Exception):
    """The dispatch must not be sent (stale approval, impossible audience, …)."""


def _addresses(provider_kind: str, external_ids: Iterable[str]) -> dict[str, Recipient]:
    # Only the columns _batch_for reads: decoding every JSON and date column of 10,000
    # recipients a chunk was most of a Jiguang send's time (bench/: profile-jiguang.txt).
    recipients = Recipient.objects.filter(external_id__in=list(external_ids)).only(
        "external_id", "language", "addresses"
    )
    return {r.external_id: r for r in recipients}


def _routed(delivery: Delivery) -> bool:
    """True when planning kept this delivery's addresses (so sending need not read them)."""
    return bool(delivery.routes) and len(delivery.routes) == len(delivery.targets)


def _batch_for(delivery: Delivery, provider: Provider, recipients: dict[str, Recipient]) -> Batch:
    kind = provider.kind
    selector = delivery.selector or {}
    if _routed(delivery):
        targets = [
            Target(external_id=external_id, address=address, language=language)
            for external_id, (address, language) in zip(delivery.targets, delivery.routes, strict=True)
        ]
    else:
        targets = []
        for external_id in delivery.targets:
            recipient = recipients.get(external_id)
            address = ""
            language = ""
            if recipient is not None:
                address = (recipient.addresses or {}).get(kind, "")
                language = recipient.language
            if not address and not provider.address_is_credential:
                address = external_id
            targets.append(Target(external_id=external_id, address=address, language=language))
    if selector.get("preview"):
        return Batch(
            key=delivery.idempotency_key,
            targets=tuple(targets) if provider.limits.ids_per_request else (),
            preview=True,
            test_uids=tuple(delivery.targets),
        )
    return Batch(
        key=delivery.idempotency_key,
        targets=tuple(targets),
        tags=tuple(selector.get("tags", ())),
        segment=selector.get("segment", ""),
        params=selector.get("params") or {},
    )


def _send_one(
    provider: Provider, client: httpx.Client, bucket: TokenBucket, message: Message, batch: Batch
) -> Result:
    if provider.limits.per_user and batch.targets and not batch.targets[0].address:
        return Result(
            Outcome.FAILED,
            code="NO_ADDRESS",
            message=f"recipient {batch.targets[0].external_id} has no {provider.kind} address",
        )
    bucket.take()
    try:
        return provider.send(client, message, batch)
    except Exception as exc:  # a bug or bad input must not leave the delivery in flight
        logger.exception("building or sending %s failed", batch.key)
        return Result(Outcome.FAILED, code="CLIENT_ERROR", message=f"{type(exc).__name__}: {exc}")


def _record(
    deliveries: list[Delivery],
    results: list[Result],
    *,
    provider: Provider,
    campaign: Campaign,
    max_attempts: int,
) -> None:
    """Store outcomes and attempts of one chunk in bulk."""
    from campaigns.audiences.services import recipient_opt_out

    now = timezone.now()
    attempts = []
    for delivery, result in zip(deliveries, results, strict=True):
        outcome = result.outcome
        if outcome == Outcome.UNKNOWN and provider.limits.idempotent:
            outcome = Outcome.RETRY  # the provider deduplicates our key: resending is safe
        delivery.provider_code = result.code[:64]
        delivery.provider_message = result.message[:2000]
        delivery.next_attempt_at = None
        if result.provider_message_id:
            delivery.provider_message_id = result.provider_message_id[:128]
        if outcome == Outcome.DELIVERED:
            delivery.status = DeliveryStatus.DELIVERED
        elif outcome == Outcome.OPTED_OUT:
            delivery.status = DeliveryStatus.OPTED_OUT
            template_code = result.code == "900241"
            for external_id in delivery.targets:
                recipient_opt_out(
                    external_id=external_id,
                    provider_kind=provider.kind,
                    template_key=campaign.template.key if template_code else None,
                )
        elif outcome == Outcome.RETRY:
            if delivery.attempts >= max_attempts:
                delivery.status = DeliveryStatus.FAILED
                delivery.provider_message = f"gave up after {delivery.attempts} attempts: {result.message}"[
                    :2000
                ]
            else:
                delivery.status = DeliveryStatus.RETRY
                wait = backoff_seconds(delivery.attempts)
                if result.retry_after is not None:
                    wait = max(wait, result.retry_after)
                delivery.next_attempt_at = now + timedelta(seconds=wait)
        elif outcome == Outcome.UNKNOWN:
            delivery.status = DeliveryStatus.UNKNOWN
        else:
            delivery.status = DeliveryStatus.FAILED
        delivery.updated_at = now
        attempts.append(
            DeliveryAttempt(
                delivery=delivery,
                number=delivery.attempts,
                outcome=result.outcome.value,
                provider_code=result.code[:64],
                provider_message=result.message[:2000],
                http_status=result.http_status,
                duration_ms=result.duration_ms,
            )
        )
    with transaction.atomic():
        _write_outcomes(deliveries)
        DeliveryAttempt.objects.bulk_create(attempts)


_OUTCOME_FIELDS = (
    "status",
    "provider_code",
    "provider_message",
    "provider_message_id",
    "next_attempt_at",
    "updated_at",
)


def _write_outcomes(deliveries: list[Delivery]) -> None:
    """Store each delivery's outcome with one prepared UPDATE executed for all rows.

    ``bulk_update`` builds a CASE expression per field and row in Python, which cost
    ~4 ms a row (measured: more than half the send loop); ``executemany`` of one plain
    statement does the same work in the driver.
    """
    meta = Delivery._meta
    ops = connection.ops
    columns = ", ".join(f"{ops.quote_name(meta.get_field(f).column)} = %s" for f in _OUTCOME_FIELDS)
    sql = f"UPDATE {ops.quote_name(meta.db_table)} SET {columns} WHERE {ops.quote_name(meta.pk.column)} = %s"
    rows = []
    for d in deliveries:
        values = [getattr(d, f) for f in _OUTCOME_FIELDS]
        values[4] = ops.adapt_datetimefield_value(values[4])
        values[5] = ops.adapt_datetimefield_value(values[5])
        rows.append((*values, d.pk))
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _heartbeat(dispatch_id: int, me: str) -> bool:
    """Renew this worker's claim; False when it was taken away."""
    return bool(
        Dispatch.objects.filter(pk=dispatch_id, status=DispatchStatus.RUNNING, claimed_by=me).update(
            heartbeat_at=timezone.now()
        )
    )


class HeartbeatThread(threading.Thread):
    """Renew a dispatch claim every ``interval`` seconds while requests are in flight.

    A chunk can take longer than the watchdog's patience (a slow provider, a low rate
    limit), and a live worker must not look dead. Sets ``lost`` when the claim was taken.
    """

    def __init__(self, dispatch_id: int, me: str, interval: float) -> None:
        super().__init__(name=f"heartbeat-{dispatch_id}", daemon=True)
        self.dispatch_id = dispatch_id
        self.me = me
        self.interval = interval
        self.stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.interval):
                if not _heartbeat(self.dispatch_id, self.me):
                    self.lost = True
                    return
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=30)


def _running_on_account(account_id: int) -> int:
    """How many dispatches of this provider account are running now (on any worker)."""
    running = Dispatch.objects.filter(status=DispatchStatus.RUNNING, campaign__provider_account_id=account_id)
    return max(1, running.count())


class RateShare:
    """The account's rate limit shared among its running dispatches, on every worker.

    Each running dispatch sends at ``rate_limit / n`` requests per second, where ``n`` is
    the number of the account's dispatches running now, read from the database before
    the first request and then every ``interval`` seconds by a thread of its own while
    the dispatch sends. So two campaigns of one account, on two machines, together stay
    within the account's limit; for up to ``interval`` after one starts, the others still
    send at their previous share.
    """

    def __init__(self, account, bucket: TokenBucket, concurrency: int, interval: float = 1.0) -> None:
        self.account = account
        self.bucket = bucket
        self.concurrency = concurrency
        self.interval = interval
        self.share = 0
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> None:
        share = _running_on_account(self.account.pk)
        if share != self.share:
            self.share = share
            rate = self.account.rate_limit / share
            self.bucket.set_rate(rate, burst=min(rate, self.concurrency))

    def _run(self) -> None:
        try:
            while not self._stopped.wait(self.interval):
                try:
                    self.refresh()
                except Exception:  # the database blinked: keep the current share
                    logger.exception("refreshing the rate share of account %s failed", self.account.pk)
        finally:
            connection.close()

    def __enter__(self) -> RateShare:
        self.refresh()
        self._thread = threading.Thread(target=self._run, name=f"rate-share-{self.account.pk}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


def _release(dispatch_id: int, me: str, detail: str = "") -> bool:
    """Hand a running dispatch back (running -> pending) so another task can continue it."""
    changes = {"status": DispatchStatus.PENDING, "claimed_by": "", "heartbeat_at": None}
    if detail:
        changes["detail"] = detail
    return bool(
        Dispatch.objects.filter(pk=dispatch_id, status=DispatchStatus.RUNNING, claimed_by=me).update(
            **changes
        )
    )


def dispatch_progress(dispatch_id: int) -> dict[str, int]:
    """Return how many requests of a dispatch are in each delivery status."""
    rows = Delivery.objects.filter(dispatch_id=dispatch_id).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def _store_counts(dispatch_id: int) -> dict[str, int]:
    counts = dispatch_progress(dispatch_id)
    Dispatch.objects.filter(pk=dispatch_id).update(
        delivered=counts.get(DeliveryStatus.DELIVERED, 0),
        failed=counts.get(DeliveryStatus.FAILED, 0) + counts.get(DeliveryStatus.EXPIRED, 0),
        opted_out=counts.get(DeliveryStatus.OPTED_OUT, 0),
        unknown=counts.get(DeliveryStatus.UNKNOWN, 0),
    )
    return counts


def _campaign_transition(campaign: Campaign, to: str, reason: str = "") -> None:
    """Move the campaign through the life cycle's one transition helper (never silently)."""
    from campaigns.services import campaign_transition

    campaign.refresh_from_db(fields=["status", "next_due_at"])
    if campaign.status == to:
        return
    campaign_transition(campaign=campaign, to=to, actor=None, reason=reason)


def _final_status(counts: dict[str, int]) -> str:
    delivered = counts.get(DeliveryStatus.DELIVERED, 0) + counts.get(DeliveryStatus.OPTED_OUT, 0)
    bad = sum(
        counts.get(s, 0)
        for s in (
            DeliveryStatus.FAILED,
            DeliveryStatus.UNKNOWN,
            DeliveryStatus.EXPIRED,
            DeliveryStatus.CLOSED,
        )
    )
    if bad == 0:
        return DispatchStatus.SENT
    return DispatchStatus.FAILED if delivered == 0 else DispatchStatus.PARTIALLY_FAILED


FINAL_DISPATCH = (DispatchStatus.SENT, DispatchStatus.PARTIALLY_FAILED, DispatchStatus.FAILED)


def _finish(dispatch: Dispatch, *, from_statuses: tuple[str, ...] = (DispatchStatus.RUNNING,)) -> str:
    """Close a dispatch whose requests are all settled and update its campaign."""
    status = _final_status(_store_counts(dispatch.pk))
    changed = Dispatch.objects.filter(pk=dispatch.pk, status__in=from_statuses).update(
        status=status, finished_at=timezone.now(), claimed_by="", heartbeat_at=None
    )
    if changed and not dispatch.is_preview:
        _settle_campaign(dispatch.campaign)
    return status


def _settle_campaign(campaign: Campaign) -> None:
    """After a dispatch ends: back to approved if occurrences remain, else the final status."""
    campaign.refresh_from_db(fields=["status", "next_due_at"])
    if campaign.status != CampaignStatus.SENDING:
        return
    if Dispatch.objects.filter(
        campaign=campaign, is_preview=False, status__in=[DispatchStatus.PENDING, DispatchStatus.RUNNING]
    ).exists():
        return
    if native.native_settle(campaign):
        return  # registered with mPaaS's scheduler: approved until its schedule ends
    if campaign.next_due_at is not None:
        _campaign_transition(campaign, CampaignStatus.APPROVED, "occurrence sent; more are scheduled")
        return
    finals = Counter(
        Dispatch.objects.filter(campaign=campaign, is_preview=False).values_list("status", flat=True)
    )
    if finals.get(DispatchStatus.PARTIALLY_FAILED) or (
        finals.get(DispatchStatus.SENT)
        and (finals.get(DispatchStatus.FAILED) or finals.get(DispatchStatus.EXPIRED))
    ):
        to = CampaignStatus.PARTIALLY_FAILED
    elif finals.get(DispatchStatus.SENT):
        to = CampaignStatus.SENT
    else:
        to = CampaignStatus.FAILED
    _campaign_transition(campaign, to, "last occurrence finished")


def _expire_open(dispatch_id: int, reason: str) -> int:
    return Delivery.objects.filter(dispatch_id=dispatch_id, status__in=OPEN_DELIVERY).update(
        status=DeliveryStatus.EXPIRED, provider_message=reason, updated_at=timezone.now()
    )


def _end_without_sending(dispatch: Dispatch, me: str, status: str, detail: str) -> str:
    Dispatch.objects.filter(pk=dispatch.pk, status=DispatchStatus.RUNNING, claimed_by=me).update(
        status=status, detail=detail[:2000], finished_at=timezone.now(), claimed_by="", heartbeat_at=None
    )
    logger.info("dispatch %s %s: %s", dispatch.pk, status, detail)
    if not dispatch.is_preview:
        _settle_campaign(dispatch.campaign)
    return status


def dispatch_run(dispatch_id: int, *, budget_seconds: float | None = None) -> str:
    """Claim a pending dispatch and send it, for at most ``budget_seconds``; return what happened.

    Returns one of ``not-claimed`` (someone else has it, or it is finished), ``stopped``
    (emergency stop: handed back), ``continue`` (budget used: handed back and re-enqueued),
    ``lost-claim``, or the dispatch's final status.
    """
    budget = settings.CRIER_DISPATCH_TASK_BUDGET if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    me = worker_id()
    if sending_stopped():
        return "stopped"
    now = timezone.now()
    claimed = Dispatch.objects.filter(pk=dispatch_id, status=DispatchStatus.PENDING).update(
        status=DispatchStatus.RUNNING, claimed_by=me, heartbeat_at=now
    )
    if not claimed:
        return "not-claimed"
    dispatch = Dispatch.objects.select_related(
        "campaign__provider_account", "campaign__audience", "campaign__template", "campaign__template_version"
    ).get(pk=dispatch_id)
    if dispatch.started_at is None:
        Dispatch.objects.filter(pk=dispatch_id).update(started_at=now)
    campaign = dispatch.campaign
    account = campaign.provider_account

    if dispatch.planned_at is None:
        if not dispatch.is_preview:
            expires = dispatch.due_at + timedelta(seconds=campaign.expired_seconds)
            if now > expires:
                return _end_without_sending(
                    dispatch,
                    me,
                    DispatchStatus.EXPIRED,
                    f"reached at {now:%Y-%m-%d %H:%M:%S} UTC, "
                    f"{int((now - dispatch.due_at).total_seconds())} s after its due time; "
                    f"expired_seconds is {campaign.expired_seconds}",
                )
            from campaigns.snapshot import campaign_hash

            current = campaign_hash(campaign)
            if not campaign.approved_hash or current != campaign.approved_hash:
                refused = _end_without_sending(
                    dispatch,
                    me,
                    DispatchStatus.REFUSED,
                    "the campaign changed since it was approved (content hash differs); not sent",
                )
                from campaigns.services import campaign_void_if_changed

                # Back to draft, with what changed in the audit trail: it needs a new review.
                campaign_void_if_changed(campaign=campaign)
                return refused
            Dispatch.objects.filter(pk=dispatch_id).update(content_hash=current)
            if campaign.status == CampaignStatus.APPROVED:
                _campaign_transition(
                    campaign,
                    CampaignStatus.SENDING,
                    f"occurrence due {dispatch.due_at:%Y-%m-%d %H:%M:%S} UTC",
                )
        if not account.enabled:
            _release(dispatch_id, me, f"provider account {account.name!r} is disabled; waiting")
            return "stopped"
        provider = provider_for(account)
        try:
            dispatch_plan(dispatch, provider)
        except DispatchRefused as exc:
            return _end_without_sending(dispatch, me, DispatchStatus.FAILED, str(exc))
    else:
        provider = provider_for(account)

    # What is sent: the campaign's message and the options Crier fills in at send time.
    message = send_message(campaign, dispatch=dispatch)
    return _send_loop(dispatch, provider, message, me=me, deadline=deadline)


def _send_loop(dispatch: Dispatch, provider: Provider, message: Message, *, me: str, deadline: float) -> str:
    account = dispatch.campaign.provider_account
    concurrency = max(1, account.max_concurrency)
    # Requests that are not deduplicated by the provider go in small chunks, so a crash
    # leaves few of them in flight (each becomes `unknown`); deduplicated ones in larger.
    chunk_size = concurrency * (20 if provider.limits.idempotent else 1)
    # …and no chunk should take much longer than a few seconds at the account's rate.
    chunk_size = max(concurrency, min(chunk_size, int(account.rate_limit * 5)))
    bucket = TokenBucket(account.rate_limit, burst=min(account.rate_limit, concurrency))
    expires = None
    if not dispatch.is_preview:
        expires = dispatch.due_at + timedelta(seconds=dispatch.campaign.expired_seconds)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with (
        httpx.Client(timeout=account.timeout_seconds, limits=limits) as client,
        ThreadPoolExecutor(concurrency, thread_name_prefix=f"dispatch-{dispatch.pk}") as pool,
        RateShare(account, bucket, concurrency),
    ):
        # The progress counters on the dispatch are a GROUP BY over all its deliveries:
        # recounting after every chunk made a dispatch quadratic in its size, so recount
        # at most every COUNT_INTERVAL seconds, and whenever this task hands over or ends.
        counted_at = time.monotonic()
        # Where the provider deduplicates our key, chunk N's outcomes are written while
        # chunk N+1 is on the wire (the sending threads were idle during those writes):
        # `unrecorded` holds a chunk whose answers are in but not yet stored. If the worker
        # dies in between, the watchdog resends those requests, which the provider drops
        # as duplicates. Every database call stays on this thread.
        # The next chunk is also read (with its addresses, into ready batches) while this
        # one is sent; it is marked in flight only when it is sent, so leaving the loop
        # early leaves it open, and an expiry in between discards it.
        pipelined = provider.limits.idempotent
        unrecorded: tuple[list[Delivery], list[Result]] | None = None
        ahead: tuple[list[Delivery], list[Batch]] | None = None

        def prepare(now: datetime) -> tuple[list[Delivery], list[Batch]]:
            chunk = list(
                Delivery.objects.filter(dispatch_id=dispatch.pk, status__in=OPEN_DELIVERY)
                .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
                .order_by("batch_no")[:chunk_size]
            )
            recipients = _addresses(provider.kind, (t for d in chunk if not _routed(d) for t in d.targets))
            return chunk, [_batch_for(d, provider, recipients) for d in chunk]

        def record(sent: tuple[list[Delivery], list[Result]] | None) -> None:
            if sent is not None:
                _record(
                    sent[0],
                    sent[1],
                    provider=provider,
                    campaign=dispatch.campaign,
                    max_attempts=account.max_attempts,
                )

        while True:
            if sending_stopped():
                record(unrecorded)
                _store_counts(dispatch.pk)
                _release(dispatch.pk, me, "halted by the emergency stop")
                return "stopped"
            if not _heartbeat(dispatch.pk, me):
                record(unrecorded)  # real answers from the provider: keep them
                return "lost-claim"
            now = timezone.now()
            if expires is not None and now > expires:
                n = _expire_open(dispatch.pk, "the occurrence expired before this request was sent")
                logger.warning("dispatch %s: %s unsent requests expired", dispatch.pk, n)
                ahead = None  # it may hold requests that have just expired
            chunk, batches = ahead if ahead is not None else prepare(now)
            ahead = None
            if not chunk:
                if unrecorded is not None:  # its retries may be what is left to send
                    record(unrecorded)
                    unrecorded = None
                    continue
                waiting = Delivery.objects.filter(
                    dispatch_id=dispatch.pk, status=DeliveryStatus.RETRY
                ).aggregate(at=Min("next_attempt_at"))["at"]
                if waiting is None:
                    if Delivery.objects.filter(
                        dispatch_id=dispatch.pk, status=DeliveryStatus.IN_FLIGHT
                    ).exists():
                        # Only a crashed predecessor leaves these; the watchdog settles them.
                        _release(dispatch.pk, me, "requests in flight from a stopped worker")
                        return "stopped"
                    return _finish(dispatch)
                wait = max(0.0, (waiting - timezone.now()).total_seconds())
                if time.monotonic() + wait > deadline:
                    _store_counts(dispatch.pk)
                    _release(dispatch.pk, me, f"waiting {wait:.0f} s to retry")
                    enqueue_dispatch(dispatch.pk)
                    return "continue"
                time.sleep(min(wait, 1.0))
                continue
            ids = [d.pk for d in chunk]
            marked = Delivery.objects.filter(pk__in=ids, status__in=OPEN_DELIVERY).update(
                status=DeliveryStatus.IN_FLIGHT, attempts=F("attempts") + 1, updated_at=now
            )
            if marked != len(ids):
                # A row was read open but is not any more (read ahead, then settled elsewhere):
                # send exactly the rows this update marked (its updated_at is this `now`).
                mine = set(
                    Delivery.objects.filter(
                        pk__in=ids, status=DeliveryStatus.IN_FLIGHT, updated_at=now
                    ).values_list("pk", flat=True)
                )
                logger.warning("dispatch %s: %d of %d requests were no longer open", dispatch.pk,
                               len(ids) - len(mine), len(ids))
                kept = [(d, b) for d, b in zip(chunk, batches, strict=True) if d.pk in mine]
                chunk, batches = [d for d, _b in kept], [b for _d, b in kept]
                if not chunk:
                    continue
            for d in chunk:
                d.attempts += 1
                d.status = DeliveryStatus.IN_FLIGHT
            beat = HeartbeatThread(dispatch.pk, me, max(0.5, settings.CRIER_STALE_DISPATCH_SECONDS / 4))
            beat.start()
            try:
                futures = [pool.submit(_send_one, provider, client, bucket, message, b) for b in batches]
                record(unrecorded)  # the previous chunk, while this one is sent
                unrecorded = None
                if pipelined:
                    ahead = prepare(timezone.now())
                results = [future.result() for future in futures]
            finally:
                beat.stop()
            if pipelined:
                unrecorded = (chunk, results)
            else:
                record((chunk, results))
            if time.monotonic() > deadline:
                record(unrecorded)
                _store_counts(dispatch.pk)
                if _release(dispatch.pk, me, "continuing in a new task"):
                    enqueue_dispatch(dispatch.pk)
                return "continue"
            if time.monotonic() - counted_at >= COUNT_INTERVAL:
                _store_counts(dispatch.pk)
                counted_at = time.monotonic()


# --- scheduling: due occurrences become dispatches ---------------------------------------


def _next_after(campaign: Campaign, after: datetime) -> datetime | None:
    from campaigns.schedules.spec import ScheduleSpec, occurrences

    if campaign.schedule_kind in ("now", "once") or native.applies(campaign):
        return None  # (mPaaS native scheduling: mPaaS fires the occurrences, not us)
    return next(iter(occurrences(ScheduleSpec.from_campaign(campaign), after=after, limit=1)), None)


def dispatcher_tick(*, now: datetime | None = None, limit: int = 100) -> list[int]:
    """Turn every due occurrence into exactly one Dispatch and wake a worker for it.

    The claim is a compare-and-swap on ``next_due_at``: of several tickers (clusters)
    firing at once, one advances it and creates the dispatch; the unique constraint on
    (campaign, due_at) backs that up. Returns the ids of dispatches created.
    """
    now = now or timezone.now()
    if sending_stopped():
        return []
    due = list(
        Campaign.objects.filter(
            next_due_at__lte=now, status__in=[CampaignStatus.APPROVED, CampaignStatus.SENDING]
        )
        .order_by("next_due_at")
        .values_list("pk", "next_due_at")[:limit]
    )
    created = []
    for campaign_id, due_at in due:
        with transaction.atomic():
            campaign = Campaign.objects.get(pk=campaign_id)
            if native.native_finish(campaign, due_at):
                continue  # its mPaaS schedule has ended: finished, nothing to dispatch
            following = _next_after(campaign, due_at)
            won = Campaign.objects.filter(pk=campaign_id, next_due_at=due_at).update(next_due_at=following)
            if not won:
                continue
            dispatch, made = Dispatch.objects.get_or_create(
                campaign_id=campaign_id, due_at=due_at, is_preview=False
            )
            if made:
                enqueue_dispatch(dispatch.pk)
                created.append(dispatch.pk)
    return created


# --- watchdog ---------------------------------------------------------------------------


def dispatches_recover(*, now: datetime | None = None) -> dict[str, int]:
    """Resume dispatches whose worker stopped or whose task was lost; return what was done.

    A running dispatch without a heartbeat for ``CRIER_STALE_DISPATCH_SECONDS`` is handed
    back; its in-flight requests are re-sent only where the provider deduplicates our key,
    and otherwise marked ``unknown`` for an operator. Pending dispatches nobody touched for
    that long are enqueued again (a duplicate task is harmless: the claim is atomic).
    """
    from providers.registry import provider_class

    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.CRIER_STALE_DISPATCH_SECONDS)
    report = Counter()
    if sending_stopped():
        return dict(report)
    for dispatch_id, kind, heartbeat in Dispatch.objects.filter(
        status=DispatchStatus.RUNNING, heartbeat_at__lt=stale
    ).values_list("pk", "campaign__provider_account__kind", "heartbeat_at"):
        with transaction.atomic():
            taken = Dispatch.objects.filter(
                pk=dispatch_id, status=DispatchStatus.RUNNING, heartbeat_at=heartbeat
            ).update(
                status=DispatchStatus.PENDING,
                claimed_by="",
                heartbeat_at=None,
                detail="resumed after its worker stopped",
            )
            if not taken:
                continue
            in_flight = Delivery.objects.filter(dispatch_id=dispatch_id, status=DeliveryStatus.IN_FLIGHT)
            if provider_class(kind).limits.idempotent:
                report["resent"] += in_flight.update(status=DeliveryStatus.PENDING, updated_at=now)
            else:
                report["unknown"] += in_flight.update(
                    status=DeliveryStatus.UNKNOWN,
                    provider_code="WORKER_LOST",
                    provider_message="the worker stopped while this request was in flight; the provider "
                    "may or may not have acted. Resend or close it.",
                    updated_at=now,
                )
            enqueue_dispatch(dispatch_id)
            report["resumed"] += 1
    for dispatch_id in Dispatch.objects.filter(
        status=DispatchStatus.PENDING, updated_at__lt=stale
    ).values_list("pk", flat=True):
        with transaction.atomic():
            # Touch it so the next watchdog pass waits another period before re-enqueueing.
            if Dispatch.objects.filter(pk=dispatch_id, status=DispatchStatus.PENDING).update(updated_at=now):
                enqueue_dispatch(dispatch_id)
                report["requeued"] += 1
    return dict(report)


# --- operator actions --------------------------------------------------------------------


def delivery_resolve(*, delivery: Delivery, action: str, actor=None) -> Delivery:
    """Resolve an ``unknown`` delivery: ``resend`` it with the same key, or ``close`` it."""
    if action not in {"resend", "close"}:
        raise ValueError(f"action {action!r} is not one of: resend, close")
    target = DeliveryStatus.PENDING if action == "resend" else DeliveryStatus.CLOSED
    with transaction.atomic():
        changed = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.UNKNOWN).update(
            status=target, updated_at=timezone.now(), next_attempt_at=None
        )
        if not changed:
            raise DeliveryNotUnknown(
                f"delivery {delivery.idempotency_key} is not unknown; nothing to resolve"
            )
        dispatch = delivery.dispatch
        try:
            from audit.services import record_event

            record_event(
                campaign=dispatch.campaign,
                object_type="delivery",
                object_id=str(delivery.pk),
                action=f"delivery_{action}",
                from_state=DeliveryStatus.UNKNOWN,
                to_state=target,
                actor=actor,
            )
        except ImportError:  # pragma: no cover - approvals is always installed
            pass
        if action == "resend":
            # Reopen a finished dispatch so a worker sends the request again.
            Dispatch.objects.filter(pk=dispatch.pk, status__in=FINAL_DISPATCH).update(
                status=DispatchStatus.PENDING, finished_at=None
            )
            enqueue_dispatch(dispatch.pk)
    if action == "close":
        # A finished dispatch gets its final status again; a live one finishes by itself.
        _finish(dispatch, from_statuses=FINAL_DISPATCH)
    delivery.refresh_from_db()
    return delivery


class DeliveryNotUnknown(Exception):
    conflict = True


def sending_stop(*, actor=None, reason: str = "") -> None:
    """Halt all dispatching at once, across workers (checked before every chunk)."""
    SendSwitch.objects.update_or_create(
        pk=1, defaults={"stopped": True, "reason": reason, "changed_by": actor}
    )


def sending_resume(*, actor=None) -> int:
    """Lift the emergency stop and wake workers for every pending dispatch; return how many."""
    SendSwitch.objects.update_or_create(pk=1, defaults={"stopped": False, "reason": "", "changed_by": actor})
    ids = list(Dispatch.objects.filter(status=DispatchStatus.PENDING).values_list("pk", flat=True))
    with transaction.atomic():
        for dispatch_id in ids:
            enqueue_dispatch(dispatch_id)
    return len(ids)


def run_preview(dispatch_id: int) -> None:
    """Wake a worker for a preview dispatch (created by campaigns.services)."""
    enqueue_dispatch(dispatch_id)


def total_recipients_delivered(dispatch: Dispatch) -> int:
    """Return how many recipients the delivered requests of ``dispatch`` addressed."""
    return (
        Delivery.objects.filter(dispatch=dispatch, status=DeliveryStatus.DELIVERED).aggregate(
            n=Sum("target_count")
        )["n"]
        or 0
    )


def close_connections() -> None:
    """Drop stale DB connections between loop iterations of long-running tasks."""
    close_old_connections()
