"""What a provider's answers make of the requests of one chunk, stored in bulk.

``retry`` outcomes wait with exponential backoff and full jitter (honouring the provider's
retry-after) and go again with the same key, up to the account's ``max_attempts``;
``failed`` is final; ``opted_out`` is recorded on the recipient. Where the provider
deduplicates our key, an ``unknown`` answer is simply retried.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from campaigns.audiences.recipients import recipient_opt_out
from campaigns.models import Campaign, Delivery, DeliveryStatus
from campaigns.sending.inserts import insert_attempt_rows, json_rows, json_rows_sql
from observability.metrics import outcomes_recorded
from providers.base import Outcome, Provider, Result

_OUTCOME_FIELDS = (
    "status",
    "provider_code",
    "provider_message",
    "provider_message_id",
    "next_attempt_at",
    "updated_at",
)


def backoff_seconds(attempt: int, *, base: float | None = None, cap: float | None = None) -> float:
    """Return a full-jitter exponential backoff for the ``attempt``-th retry (1-based)."""
    base = settings.CRIER_RETRY_BASE_SECONDS if base is None else base
    cap = settings.CRIER_RETRY_MAX_SECONDS if cap is None else cap
    return random.uniform(0, min(cap, base * (2 ** max(0, attempt - 1))))


def _retry_or_give_up(delivery: Delivery, result: Result, max_attempts: int, now: datetime) -> None:
    if delivery.attempts >= max_attempts:
        delivery.status = DeliveryStatus.FAILED
        delivery.provider_message = f"gave up after {delivery.attempts} attempts: {result.message}"[:2000]
        return
    delivery.status = DeliveryStatus.RETRY
    wait = backoff_seconds(delivery.attempts)
    if result.retry_after is not None:
        wait = max(wait, result.retry_after)
    delivery.next_attempt_at = now + timedelta(seconds=wait)


def _opt_out(delivery: Delivery, result: Result, provider: Provider, campaign: Campaign) -> None:
    delivery.status = DeliveryStatus.OPTED_OUT
    template_key = campaign.template.key if result.code in provider.template_opt_out_codes else None
    for external_id in delivery.targets:
        recipient_opt_out(
            external_id=external_id,
            provider_kind=provider.kind,
            template_key=template_key,
            provider_code=result.code,
        )


def _apply(
    delivery: Delivery,
    result: Result,
    *,
    provider: Provider,
    campaign: Campaign,
    max_attempts: int,
    now: datetime,
) -> tuple:
    """Set ``delivery``'s outcome from ``result`` (in memory) and return the attempt to log
    (a row of ``inserts.insert_attempt_rows``)."""
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
        _opt_out(delivery, result, provider, campaign)
    elif outcome == Outcome.RETRY:
        _retry_or_give_up(delivery, result, max_attempts, now)
    elif outcome == Outcome.UNKNOWN:
        delivery.status = DeliveryStatus.UNKNOWN
    else:
        delivery.status = DeliveryStatus.FAILED
    delivery.updated_at = now
    # A row for insert_attempt_rows, not a DeliveryAttempt: a model object per request was
    # CPU of the dispatch thread, beside the sending threads (BENCHMARKS.md, "This round").
    return (
        delivery.pk,
        delivery.attempts,
        result.outcome.value,
        result.code[:64],
        result.message[:2000],
        result.http_status,
        result.duration_ms,
    )


def record_outcomes(
    deliveries: list[Delivery],
    results: list[Result],
    *,
    provider: Provider,
    campaign: Campaign,
    max_attempts: int,
) -> None:
    """Store outcomes and attempts of one chunk in bulk. ``deliveries`` are ``Delivery``
    objects or the send loop's ``batches.OpenDelivery`` rows (the same attributes)."""
    now = timezone.now()
    attempts = [
        _apply(delivery, result, provider=provider, campaign=campaign, max_attempts=max_attempts, now=now)
        for delivery, result in zip(deliveries, results, strict=True)
    ]
    with transaction.atomic():
        write_outcomes(deliveries)
        insert_attempt_rows(attempts)  # a prepared multi-row INSERT, not bulk_create's per-object work
    outcomes_recorded(provider.kind, (d.status for d in deliveries))  # docs/metrics.md


def write_outcomes(deliveries: list[Delivery]) -> None:
    """Store each delivery's outcome with one prepared UPDATE executed for all rows.

    ``bulk_update`` builds a CASE expression per field and row in Python, which cost
    ~4 ms a row (measured: more than half the send loop); ``executemany`` of one plain
    statement does the same work in the driver. It writes by primary key, not by status:
    these are the provider's real answers and they outrank what the watchdog guessed
    meanwhile (``campaigns.sending.transitions``).
    """
    meta = Delivery._meta
    ops = connection.ops
    if not deliveries:
        return
    table, pk = ops.quote_name(meta.db_table), ops.quote_name(meta.pk.column)
    if connection.vendor == "postgresql":
        # One statement, the rows as one JSON parameter: executemany's statement a row, its
        # parameters dumped in Python, cost more of the dispatch thread's CPU than the rows
        # themselves (campaigns/sending/inserts.py; BENCHMARKS.md, "This round").
        source, values = json_rows_sql(Delivery, (*_OUTCOME_FIELDS, "id"))
        assigned = ", ".join(
            f"{ops.quote_name(meta.get_field(f).column)} = {v}"
            for f, v in zip(_OUTCOME_FIELDS, values, strict=False)
        )
        rows = [(*(getattr(d, f) for f in _OUTCOME_FIELDS), d.pk) for d in deliveries]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {assigned} FROM {source} WHERE {table}.{pk} = {values[-1]}",
                [json_rows(rows)],
            )
        return
    columns = ", ".join(f"{ops.quote_name(meta.get_field(f).column)} = %s" for f in _OUTCOME_FIELDS)
    sql = f"UPDATE {table} SET {columns} WHERE {pk} = %s"
    rows = []
    for d in deliveries:
        values = [getattr(d, f) for f in _OUTCOME_FIELDS]
        values[4] = ops.adapt_datetimefield_value(values[4])
        values[5] = ops.adapt_datetimefield_value(values[5])
        rows.append((*values, d.pk))
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
