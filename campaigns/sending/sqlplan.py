"""Planning lists of ids in SQL on PostgreSQL: one statement classifies the next window of the
audience, counts its skips by reason and INSERTs the step's ``Delivery`` rows (``jsonb_agg``),
with no Python per recipient (BENCHMARKS.md, "This round"; docs/architecture.md, *Planning*).

It plans exactly what the Python path (``plan._id_requests``) plans: the same requests of
``ids_per_request`` targets in the same batches (the last one partial only at the audience's
end), the same targets, routes and skips. The skip rules are not written here: the window is
``AudienceStream.classified_sql``, the same CASE the review page's skip sample counts with.
The caller (``Planner``) runs it inside the step's transaction and then moves the cursor by
its compare-and-swap; the unique (dispatch, batch_no) refuses rows of a stale cursor.
SQLite keeps the Python path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from campaigns.audiences.rules import address_has_rule
from campaigns.audiences.stream import AudienceStream, sql_checks_address
from campaigns.models import Delivery, DeliveryStatus, Dispatch
from providers.base import Provider

# The window holds the step's targets and this many requests more, for the skips among them.
SLACK_REQUESTS = 1


@dataclass(frozen=True)
class Window:
    """What one step planned: requests, their targets, the cursor and the skips up to it."""

    requests: int
    targets: int
    position: int
    finished: bool
    skipped: dict[str, int]


def sql_plannable(provider: Provider) -> bool:
    """Whether a dispatch planned as a list of ids can be planned in SQL: on PostgreSQL, where
    every address check can be done there too (no rule, or one ``rules.address_check_sql``
    translates; a credential is stored encrypted, so a rule on it stays in Python)."""
    if connection.vendor != "postgresql" or provider.limits.ids_per_request < 1:
        return False
    return not address_has_rule(provider.kind) or sql_checks_address(provider.kind)


def _window_sql(classified: str, keep_routes: bool) -> str:
    """The step's statement over the classified window ``c`` (see ``plan_window``'s params)."""
    quote = connection.ops.quote_name
    meta = Delivery._meta
    columns = ", ".join(
        quote(meta.get_field(name).column)
        for name in (
            "dispatch", "batch_no", "idempotency_key", "targets", "routes", "target_count", "selector",
            "status", "attempts", "provider_code", "provider_message", "provider_message_id",
            "created_at", "updated_at",
        )
    )
    # json_agg cast once, not jsonb_agg: building a jsonb value per id cost 6 ms of a 20,000-id
    # step (BENCHMARKS.md, "This round"); the stored jsonb is the same.
    routes = "'[]'::jsonb"
    if keep_routes:
        routes = "json_agg(k.address ORDER BY k.rn)::jsonb"
    # %(…)s: rows (the window), size (ids per request), cap (targets at most), after (the
    # cursor), first (the step's first batch_no), dispatch, prefix, status, now, expired (no row).
    return f"""
WITH c AS MATERIALIZED ({classified}),
k AS (SELECT position, external_id, address, language, row_number() OVER (ORDER BY position) AS rn
      FROM c WHERE reason IS NULL),
w AS (SELECT count(*) AS n_read, max(position) AS last_read FROM c),
kc AS (SELECT count(*) AS n_kept, min(position) AS first_kept FROM k),
p AS (SELECT w.n_read < %(rows)s AND kc.n_kept <= %(cap)s AS finished, w.last_read, kc.n_kept, kc.first_kept,
             LEAST(CASE WHEN w.n_read < %(rows)s THEN kc.n_kept
                        ELSE kc.n_kept / %(size)s * %(size)s END, %(cap)s) AS planned
      FROM w, kc),
cut AS (SELECT p.*, CASE
          WHEN p.finished AND p.n_kept %% %(size)s <> 0 THEN (SELECT position FROM k WHERE rn = p.n_kept)
          WHEN p.finished THEN COALESCE(p.last_read, %(after)s)
          WHEN p.planned > 0 THEN (SELECT position FROM k WHERE rn = p.planned)
          WHEN p.first_kept IS NULL THEN p.last_read
          ELSE (SELECT max(position) FROM c WHERE position < p.first_kept) END AS position
        FROM p),
b AS (SELECT (k.rn - 1) / %(size)s AS b, json_agg(k.external_id ORDER BY k.rn)::jsonb AS targets,
             {routes} AS routes, count(*) AS n
      FROM k, cut WHERE k.rn <= cut.planned AND NOT %(expired)s GROUP BY 1),
ins AS (INSERT INTO {quote(meta.db_table)} ({columns})
        SELECT %(dispatch)s, %(first)s + b.b, %(prefix)s || (%(first)s + b.b)::text, b.targets, b.routes,
               b.n, '{{}}'::jsonb, %(status)s, 0, '', '', '', %(now)s, %(now)s FROM b
        RETURNING 1)
SELECT cut.planned, cut.finished, cut.position, (SELECT count(*) FROM ins),
       (SELECT COALESCE(jsonb_object_agg(reason, n), '{{}}'::jsonb) FROM
          (SELECT c.reason, count(*) AS n FROM c
           WHERE c.reason IS NOT NULL AND (cut.finished OR c.position <= cut.position)
           GROUP BY c.reason) s)
FROM cut"""


def plan_window(
    dispatch: Dispatch,
    provider: Provider,
    *,
    prefix: str,
    max_requests: int,
    max_targets: int,
    expired: bool = False,
) -> Window:
    """Plan the next requests after ``dispatch.plan_after`` in SQL: at most ``max_requests``
    (and about ``max_targets`` targets; at least one request), full ones unless the
    audience ends. Run it inside the step's transaction, before the cursor's compare-and-swap.

    The window is the next ``rows`` recipients; when it holds no whole request and its
    first row is a target (so no cursor can move past a skip), it is read again twice as
    large: a step always moves the cursor. With ``expired`` (past the occurrence's expiry,
    ``Planner.expired``) no row is written: ``targets`` are those it would have planned."""
    campaign = dispatch.campaign
    size = provider.limits.ids_per_request
    requests = max(1, min(max_requests, -(-max_targets // size)))
    rows = (requests + SLACK_REQUESTS) * size
    stream = AudienceStream(
        campaign.audience,
        provider_kind=provider.kind,
        template_key=campaign.template.key,
        after=dispatch.plan_after,
    )
    in_sql = sql_checks_address(provider.kind)
    keep_routes = not provider.address_is_credential
    while True:
        classified, params = stream.classified_sql(rows, check_address=in_sql)
        names = {f"p{i}": value for i, value in enumerate(params)}
        sql = _window_sql(_named(classified, list(names)), keep_routes=keep_routes)
        values = {
            **names, "rows": rows, "size": size, "cap": requests * size, "after": dispatch.plan_after,
            "first": dispatch.total_requests + 1, "dispatch": dispatch.pk, "prefix": prefix,
            "status": str(DeliveryStatus.PENDING), "now": timezone.now(), "expired": expired,
        }
        with connection.cursor() as cursor:
            cursor.execute(sql, values)
            planned, finished, position, inserted, skipped = cursor.fetchone()
        if position is not None:
            # Django reads jsonb as text (JSONField decodes it itself).
            skipped = json.loads(skipped) if isinstance(skipped, str) else skipped
            return Window(inserted, planned, position, finished, {k: int(v) for k, v in skipped.items()})
        rows *= 2


def _named(sql: str, names: list[str]) -> str:
    """``sql`` with its positional ``%s`` turned into ``%(name)s``, in order."""
    parts = sql.split("%s")
    if len(parts) != len(names) + 1:
        raise ValueError(f"{len(parts) - 1} placeholders for {len(names)} parameters")
    out = [parts[0]]
    for name, part in zip(names, parts[1:], strict=True):
        out.append(f"%({name})s{part}")
    return "".join(out)
