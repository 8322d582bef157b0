"""Phase ``digest``: what a reviewer waits for on a large audience (issue 21).

* **review page, 1,000,000-id list**: p95 of ``GET /admin/campaigns/campaign/<id>/review/``
  of a campaign in review to a ``users`` audience of ``digest_size`` ids (the page checks the
  approval snapshot, whose audience digest is kept by the database:
  ``campaigns.audiences.digest``), and p95 of ``campaign_hash`` alone (what the send engine
  computes before every occurrence).
* **reach count, tag audience of 1,000,000**: p95 of ``campaign_reach`` — the count the
  submission, every occurrence and the review page make (``campaigns.sending.reach``) — of a
  tag audience of ``digest_size`` recipients, on Jiguang (ids) and on Alipay+ (recipients with
  a token).

Seeds what it needs (reusing the Jiguang phase's recipients and largest list when it ran).
"""

from __future__ import annotations

import time
from typing import Any

from bench import seed
from bench.report import Figure

GOAL_MS = 200


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))] * 1000


def _timed_runs(fn, n: int) -> list[float]:
    fn()  # warm-up
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def _seed(b, size: int) -> tuple[Any, Any]:
    """Return (users audience of ``size`` ids, tag audience of ``size`` recipients)."""
    from django.db import connection, transaction

    from campaigns.models import Audience, Recipient, RecipientTag

    if Recipient.objects.filter(external_id__startswith="jg").count() < size:
        seed.seed_recipients("dg", size, kind="jiguang")
        prefix = "dg"
    else:
        prefix = "jg"
    if b.jiguang_audiences and max(b.jiguang_audiences) >= size:
        users = b.jiguang_audiences[max(b.jiguang_audiences)]
    else:
        users = seed.make_audience(f"bench digest users {size}")
        seed.seed_members(users.pk, prefix, size)
    # One INSERT … SELECT (a COPY fed by a cursor on the same connection would wait on itself).
    tag_table, recipient_table = RecipientTag._meta.db_table, Recipient._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {tag_table} (recipient_id, tag) SELECT id, %s FROM {recipient_table} "
            "WHERE external_id LIKE %s ORDER BY id LIMIT %s",
            ["reach1m", f"{prefix}%", size],
        )
    tags = Audience.objects.create(name=f"bench digest tags {size}", kind="tags", tags=["reach1m"])
    seed.analyze()
    return users, tags


def phase_digest(b) -> None:
    """Review page of a 1,000,000-id list and reach count of a 1,000,000-recipient tag audience."""
    from django.test import Client

    from approvals.services import campaign_submit
    from campaigns.sending.reach import campaign_reach
    from campaigns.snapshot import campaign_hash

    size, n = b.sizes["digest_size"], b.sizes["digest_requests"]
    b.section(f"Digests and reach at {size:,}: review page of a {size:,}-id list, reach of a tag audience")
    started = time.perf_counter()
    users, tags = _seed(b, size)
    b.say(f"seeded in {time.perf_counter() - started:.1f} s")

    listed = seed.make_campaign(
        name="bench digest review", template=b.template, account=b.accounts["jiguang"],
        audience=users, author=b.author,
    )
    campaign_submit(campaign=listed, actor=b.author)
    client = Client()
    client.force_login(seed.make_user("bench-digest-admin", superuser=True))
    url = f"/admin/campaigns/campaign/{listed.pk}/review/"
    if client.get(url).status_code != 200:
        b.report.error(f"review page {url} did not answer 200")
        return
    figures: list[tuple[str, str, list[float]]] = [
        ("digest.review_page_p95_ms", f"review page, {size:,}-id list, p95",
         _timed_runs(lambda: client.get(url), n)),
        ("digest.campaign_hash_p95_ms", f"approval hash, {size:,}-id list, p95",
         _timed_runs(lambda: campaign_hash(listed), n)),
    ]
    reached: dict[str, Any] = {}
    for kind in ("jiguang", "alipayplus"):
        campaign = seed.make_campaign(
            name=f"bench digest reach {kind}", template=b.template, account=b.accounts[kind],
            audience=tags, author=b.author,
        )
        reached[kind] = campaign_reach(campaign)
        figures.append((
            f"digest.reach_{kind}_p95_ms",
            f"reach count, tag audience of {size:,} ({kind}: {reached[kind]:,}), p95",
            _timed_runs(lambda campaign=campaign: campaign_reach(campaign), n),
        ))
    for key, label, times in figures:
        p95 = _p95(times)
        b.report.add(Figure(key, label, p95, "ms", goal=f"p95 <= {GOAL_MS} ms", met=p95 <= GOAL_MS,
                            note=f"p50 {sorted(times)[len(times) // 2] * 1000:,.0f} ms, n={len(times)}"))
    b.details["digest"] = {"size": size, "reach": reached, "review_url": url}
