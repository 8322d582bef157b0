"""Prepared multi-row ``INSERT``s for the send ledger's high-volume rows.

``bulk_create`` builds every row through the model (``pre_save``, ``get_db_prep_save`` per
field and object) and its SQL anew for each batch; planning 20,000 Alipay+ requests spent
most of its time there (BENCHMARKS.md, "What limits the missed goal"). Here one statement
of ``ROWS`` rows is prepared once and executed for every full group of rows (the driver
does the rest, as ``campaigns.sending.outcomes.write_outcomes`` does for outcomes), the
remainder in one statement of its own. Works on SQLite and PostgreSQL.

On PostgreSQL the rows go as one parameter instead, a JSON document of all of them that
the database unpacks (:func:`json_rows_sql`): psycopg merges parameters client-side and
re-parses a statement of more than 50 parameters on every execution, and dumps each
parameter in Python; that was most of the dispatch thread's CPU in writing the rows of a
5,000 Alipay+ dispatch (BENCHMARKS.md, "This round"). ``json.dumps`` of the rows is C.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

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


def _iso(value: datetime) -> str:
    return value.isoformat()


def json_rows(rows: list[tuple]) -> str:
    """``rows`` as one JSON document (an array of arrays; datetimes in ISO 8601)."""
    return json.dumps(rows, default=_iso, separators=(",", ":"))


def json_rows_sql(model: type[Model], fields: Sequence[str]) -> tuple[str, list[str]]:
    """PostgreSQL: the ``FROM`` source that unpacks :func:`json_rows` (one ``%s``), and per
    field the expression of its value in the column's type (a JSON column's as it is)."""
    meta = model._meta
    values = []
    for i, name in enumerate(fields):
        db_type = meta.get_field(name).db_type(connection)
        values.append(f"u.e->{i}" if db_type == "jsonb" else f"(u.e->>{i})::{db_type}")
    return "jsonb_array_elements(%s::jsonb) AS u(e)", values


def _adapted(model: type[Model], fields: Sequence[str], rows: list[tuple]) -> list[tuple]:
    """The rows with JSON and datetime values adapted for the backend's driver (SQLite)."""
    ops = connection.ops
    kinds = [model._meta.get_field(name).get_internal_type() for name in fields]
    adapt = [
        (lambda v: ops.adapt_json_value(v, None))
        if kind == "JSONField"
        else ops.adapt_datetimefield_value
        if kind == "DateTimeField"
        else None
        for kind in kinds
    ]
    if not any(adapt):
        return rows
    return [tuple(f(v) if f else v for f, v in zip(adapt, row, strict=True)) for row in rows]


def _insert(model: type[Model], fields: Sequence[str], rows: list[tuple]) -> None:
    """INSERT ``rows`` (values in ``fields`` order; JSON and datetimes as Python values)."""
    if not rows:
        return
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in fields)
    if connection.vendor == "postgresql":
        source, values = json_rows_sql(model, fields)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({columns}) SELECT {', '.join(values)} FROM {source}",
                [json_rows(rows)],
            )
        return
    rows = _adapted(model, fields, rows)
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

    Pending, no attempt yet.
    """
    now = timezone.now()
    pending = str(DeliveryStatus.PENDING)
    _insert(
        Delivery,
        DELIVERY_COLUMNS,
        [
            (
                dispatch_id,
                batch_no,
                key,
                targets,
                routes,
                count,
                selector,
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
    fields = ("delivery_id", *ATTEMPT_COLUMNS[1:-1])  # all but created_at, set here
    insert_attempt_rows([tuple(getattr(a, f) for f in fields) for a in attempts])


def insert_attempt_rows(rows: list[tuple]) -> None:
    """Insert attempts given as (delivery_id, number, outcome, provider_code, provider_message,
    http_status, duration_ms): the send loop makes no model object per attempt."""
    now = timezone.now()
    _insert(DeliveryAttempt, ATTEMPT_COLUMNS, [(*row, now) for row in rows])
