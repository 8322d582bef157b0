"""Planning lists of ids in SQL on PostgreSQL (campaigns/sending/sqlplan.py) plans exactly what
the Python path plans: the same requests in the same batches, the same targets, routes, keys,
totals and skips, in one pass and resumed after every step, for every skip reason."""

from __future__ import annotations

import pytest
from django.db import connection

from campaigns.audiences.recipients import recipient_opt_out, recipients_bulk_upsert
from campaigns.audiences.services import audience_create
from campaigns.models import Delivery, Dispatch, Recipient
from campaigns.sending.plan import Planner, idempotency_key
from campaigns.sending.ticker import dispatcher_tick

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite keeps the Python path"),
]

N = 2600  # more than two Jiguang requests of 1,000 ids, the last one partial


def _case(i: int) -> tuple[str, dict]:
    """Recipient i and what it hits, in a mix: every SkipReason on Jiguang or Alipay+."""
    n = i % 13
    if n == 1:
        return f"bad-{i}", {"tags": ["t1"]}  # "-": no Jiguang address; no Alipay+ address
    if n == 2:
        return f"ok{i}", {"tags": ["t2"], "addresses": {"jiguang": f"jg_{i}"}}  # no Alipay+ address
    if n == 3:
        return f"bad-{i}", {"tags": ["t1"], "addresses": {"jiguang": f"jg{i}", "alipayplus": f"tk{i}"}}
    return f"u{i:05d}", {"tags": ["t1" if i % 2 else "t2"], "addresses": {"alipayplus": f"tk{i}"}}


@pytest.fixture
def audiences():
    rows = [
        {"external_id": ext, "language": "zh-Hans" if i % 5 == 0 else "", **extra}
        for i, (ext, extra) in enumerate(_case(i) for i in range(N))
    ]
    for row in rows:
        if not row["language"]:
            del row["language"]
    report = recipients_bulk_upsert(actor=None, rows=rows)
    assert report.invalid == 0, report.errors
    ids = [row["external_id"] for row in rows]
    Recipient.objects.filter(external_id__in=ids[4::97]).update(addresses={"jiguang": "", "alipayplus": ""})
    for ext in ids[5::101]:
        recipient_opt_out(external_id=ext, provider_kind="alipayplus")
    for ext in ids[6::103]:
        recipient_opt_out(external_id=ext, provider_kind="jiguang")
    for ext in ids[7::89]:
        recipient_opt_out(external_id=ext, provider_kind="binance", template_key="promo")
    # Listed ids that are no recipient: one valid at Jiguang, one not, one with "¥".
    listed = ids[:1200] + ["ghost1", "ghost-x", "gh¥st"] + ids[1200:]
    suppressed = ids[8::71]
    return {
        "users": audience_create(
            actor=None, name="Listed", kind="users", user_ids=listed, suppressed_ids=suppressed
        ),
        "tags": audience_create(
            actor=None, name="Tagged", kind="tags", tags=["t1", "t2"], suppressed_ids=suppressed
        ),
        "all": audience_create(actor=None, name="All", kind="all", suppressed_ids=suppressed),
    }


def _load(dispatch_id: int) -> Dispatch:
    return Dispatch.objects.select_related(
        "campaign__provider_account", "campaign__audience", "campaign__template"
    ).get(pk=dispatch_id)


def _plan(dispatch_id: int, *, sql: bool, resume: bool = False, max_requests: int = 2000) -> int:
    """Plan to the end; with ``resume`` a new Planner for every step (from the committed cursor)."""
    steps = 0
    planner = None
    while True:
        if planner is None or resume:
            dispatch = _load(dispatch_id)
            planner = Planner(
                dispatch, dispatch.campaign.provider_account.provider(with_credentials=True), sql=sql
            )
        if planner.done:
            return steps
        planner.step(max_requests=max_requests, max_targets=max_requests)
        steps += 1


def _plan_of(dispatch_id: int) -> tuple:
    d = Dispatch.objects.get(pk=dispatch_id)
    rows = [
        (n, key == idempotency_key(d, n), targets, routes, count, selector, status)
        for n, key, targets, routes, count, selector, status in Delivery.objects.filter(
            dispatch_id=dispatch_id
        )
        .order_by("batch_no")
        .values_list("batch_no", "idempotency_key", "targets", "routes", "target_count", "selector", "status")
    ]
    totals = (
        d.total_requests,
        d.total_recipients,
        d.skipped,
        d.skipped_reasons,
        d.detail,
        d.planned_at is not None,
    )
    return rows, totals


# Audiences Jiguang and Alipay+ are sent as lists of ids (Jiguang sends tags and everyone itself).
CASES = [("jiguang", "users"), ("alipayplus", "users"), ("alipayplus", "tags"), ("alipayplus", "all")]


@pytest.mark.parametrize(("kind", "audience_kind"), CASES)
def test_sql_plans_what_python_plans_in_one_pass_and_resumed_after_every_step(
    audiences, make_account, approved_campaign, kind, audience_kind
):
    account, _server = make_account(kind)
    ways = ["python", "sql", "sql resumed", "sql resumed by 3"]
    campaigns = [approved_campaign(account, audiences[audience_kind]) for _ in ways]
    dispatcher_tick()
    ids = [Dispatch.objects.get(campaign=c).pk for c in campaigns]
    python, sql, resumed, by3 = ids

    assert _plan(python, sql=False) >= 1
    assert all(key for _n, key, *_rest in _plan_of(python)[0])
    _plan(sql, sql=True)
    # Alipay+ has one id a request: steps of 29 and 200 still end between every kind of row.
    steps = _plan(resumed, sql=True, resume=True, max_requests=1 if kind == "jiguang" else 29)
    _plan(by3, sql=True, resume=True, max_requests=3 if kind == "jiguang" else 200)

    expected_rows, expected_totals = _plan_of(python)
    # Keys differ by campaign and occurrence: each is its own dispatch's key of that batch.
    for way, dispatch_id in zip(ways[1:], ids[1:], strict=True):
        rows, totals = _plan_of(dispatch_id)
        assert totals == expected_totals, way
        assert rows == expected_rows, way
    reasons = expected_totals[3]
    if kind == "jiguang":
        assert expected_totals[0] == 3 and [len(r[2]) for r in expected_rows][:2] == [1000, 1000]
        assert steps >= 3
        assert set(reasons) == {
            "suppressed",
            "opted out of provider",
            "opted out of template",
            "id not valid at provider",
        }
        # An address for each target (routes keep addresses only since 2026-12-07).
        assert all(len(r[3]) == len(r[2]) for r in expected_rows)
        assert all(isinstance(a, str) and a for r in expected_rows for a in r[3])
        assert "gh¥st" in {t for r in expected_rows for t in r[2]} and "ghost1" in expected_rows[1][2]
    else:
        assert all(r[3] == [] and r[4] == 1 for r in expected_rows)  # no routes: credentials
        assert steps >= expected_totals[0] // 29
        wanted = {"suppressed", "opted out of provider", "opted out of template", "no address"}
        assert wanted | ({"unknown recipient"} if audience_kind == "users" else set()) == set(reasons)


def test_sql_planning_writes_its_rows_with_one_statement_a_step(audiences, make_account, approved_campaign):
    from django.test.utils import CaptureQueriesContext

    account, _server = make_account("jiguang")
    campaign = approved_campaign(account, audiences["users"])
    dispatcher_tick()
    dispatch = _load(Dispatch.objects.get(campaign=campaign).pk)
    planner = Planner(dispatch, account.provider(with_credentials=True))
    with CaptureQueriesContext(connection) as captured:
        assert planner.step(max_requests=2) == 2
    writes = [q["sql"] for q in captured.captured_queries if "INSERT" in q["sql"]]
    assert len(writes) == 1 and "json_agg(" in writes[0]
    assert len(captured.captured_queries) <= 8  # lock, suppressed?, the statement, the cursor; savepoints


@pytest.mark.parametrize(("kind", "audience_kind"), [("jiguang", "users"), ("alipayplus", "tags")])
def test_past_the_expiry_sql_counts_what_python_counts(
    audiences, make_account, approved_campaign, kind, audience_kind
):
    """One step planned, then the occurrence expires (Planner.expired): no more rows, the
    targets counted as 'occurrence expired' and the skips by their own reasons, both ways."""
    account, _server = make_account(kind)
    campaigns = [approved_campaign(account, audiences[audience_kind]) for _ in range(2)]
    dispatcher_tick()
    plans = []
    for campaign, sql in zip(campaigns, (False, True), strict=True):
        dispatch_id = Dispatch.objects.get(campaign=campaign).pk
        dispatch = _load(dispatch_id)
        provider = dispatch.campaign.provider_account.provider(with_credentials=True)
        Planner(dispatch, provider, sql=sql).step(max_requests=1, max_targets=1)
        late = Planner(_load(dispatch_id), provider, sql=sql)
        late.expired = True
        while not late.done:
            assert late.step(max_requests=3, max_targets=3) == 0
        plans.append(_plan_of(dispatch_id))
    assert plans[1] == plans[0]
    rows, totals = plans[0]
    assert len(rows) == totals[0] == 1 and totals[3]["occurrence expired"] > 0 and totals[5]


def test_planned_ids_and_routes_are_compressed_with_lz4():
    """Migration 0015: the 13 and 25 KB of a Jiguang request's ids and routes are written with
    lz4, not pglz (a fifth of a planning step; BENCHMARKS.md, "This round")."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        if not cursor.fetchone()[0]:
            pytest.skip("this PostgreSQL server was built without lz4")
        cursor.execute(
            "SELECT attname, attcompression FROM pg_attribute WHERE attrelid = %s::regclass "
            "AND attname IN ('targets', 'routes') ORDER BY attname",
            [Delivery._meta.db_table],
        )
        assert cursor.fetchall() == [("routes", "l"), ("targets", "l")]
