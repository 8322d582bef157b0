"""Prepared multi-row ``INSERT``s for the send ledger's high-volume rows.

``bulk_create`` builds every row through the model (``pre_save``, ``get_db_prep_save`` per
field and object) and its SQL anew for each batch; planning 20,000 Alipay+ requests spent
most of its time there (BENCHMARKS.md, "What limits the missed goal"). Here one statement
of ``ROWS`` rows is prepared once and executed for every full group of rows (the driver
does the rest, as ``campaigns.sending.outcomes.write_outcomes`` does for outcomes), the
remainder in one statement of its own. Works on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.db.models import Model
from django.utils import timezone

from campaigns.models import Delivery, DeliveryAttempt, DeliveryStatus

# Rows per statement: 100 rows of 14 columns stay far below SQLite's 32,766 parameters.
ROWS = 100

# Columns a planned Delivery is written with (the nullable ones stay NULL), in this order.
DELIVERY_COLUMNS = (
    "dispatch",
    "batch_no",
    "idempotency_key",
    "targets",
    "routes",
    "target_count",
    "selector",
    "status",
    "attempts",
    "provider_code",
    "provider_message",
    "provider_message_id",
    "created_at",
    "updated_at",
)
ATTEMPT_COLUMNS = (
    "delivery",
    "number",
    "outcome",
    "provider_code",
    "provider_message",
    "http_status",
    "duration_ms",
    "created_at",
)


def _insert(model: type[Model], fields: Sequence[str], rows: list[tuple]) -> None:
    """INSERT ``rows`` (values already adapted, in ``fields`` order) in groups of ``ROWS``."""
    if not rows:
        return
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in fields)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    head = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "
    full = len(rows) - len(rows) % ROWS
    with connection.cursor() as cursor:
        if full:
            groups = [
                [value for row in rows[start : start + ROWS] for value in row]
                for start in range(0, full, ROWS)
            ]
            cursor.executemany(head + ", ".join([one] * ROWS), groups)
        if full < len(rows):
            rest = rows[full:]
            cursor.execute(head + ", ".join([one] * len(rest)), [value for row in rest for value in row])


def insert_deliveries(rows: list[tuple]) -> None:
    """Insert planned deliveries: (dispatch_id, batch_no, key, targets, routes, target_count, selector).

    Pending, no attempt yet; JSON values are adapted as ``JSONField`` does for the backend.
    """
    ops = connection.ops
    now = ops.adapt_datetimefield_value(timezone.now())
    json = ops.adapt_json_value
    pending = str(DeliveryStatus.PENDING)
    _insert(
        Delivery,
        DELIVERY_COLUMNS,
        [
            (
                dispatch_id,
                batch_no,
                key,
                json(targets, None),
                json(routes, None),
                count,
                json(selector, None),
                pending,
                0,
                "",
                "",
                "",
                now,
                now,
            )
            for dispatch_id, batch_no, key, targets, routes, count, selector in rows
        ],
    )


def insert_attempts(attempts: list[DeliveryAttempt]) -> None:
    """Insert the attempts of one chunk (unsaved ``DeliveryAttempt`` objects)."""
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    _insert(
        DeliveryAttempt,
        ATTEMPT_COLUMNS,
        [
            (
                a.delivery_id,
                a.number,
                a.outcome,
                a.provider_code,
                a.provider_message,
                a.http_status,
                a.duration_ms,
                now,
            )
            for a in attempts
        ],
    )
