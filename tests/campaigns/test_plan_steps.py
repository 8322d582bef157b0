"""Planning in committed steps (campaigns/sending/plan.py): a planner that resumes from the
committed cursor — after every step, as after a crash — plans exactly what one pass plans:
the same requests in the same batches, every target once, the same totals and skips."""

from __future__ import annotations

import pytest

from campaigns.models import Delivery, Dispatch, Recipient
from campaigns.sending.inserts import ROWS, insert_deliveries
from campaigns.sending.plan import PlanConflict, Planner, dispatch_plan
from campaigns.sending.ticker import dispatcher_tick
from tests.campaigns.conftest import make_audience, make_recipients

pytestmark = pytest.mark.django_db


def _dispatch(dispatch_id: int) -> Dispatch:
    return Dispatch.objects.select_related(
        "campaign__provider_account", "campaign__audience", "campaign__template"
    ).get(pk=dispatch_id)


def _provider(dispatch: Dispatch):
    return dispatch.campaign.provider_account.provider(with_credentials=True)


def _planned(dispatch_id: int) -> list[tuple[int, list[str], int]]:
    return list(
        Delivery.objects.filter(dispatch_id=dispatch_id)
        .order_by("batch_no")
        .values_list("batch_no", "targets", "target_count")
    )


def _totals(dispatch_id: int) -> tuple:
    d = Dispatch.objects.get(pk=dispatch_id)
    done = d.planned_at is not None
    return d.total_requests, d.total_recipients, d.skipped, d.skipped_reasons, d.detail, done


def _two_dispatches(make_account, approved_campaign, kind: str, audience_of):
    """Two identical occurrences of one audience: one planned in one pass, one step by step."""
    account, _server = make_account(kind)
    first = approved_campaign(account, audience_of("first"))
    second = approved_campaign(account, audience_of("second"))
    dispatcher_tick()
    return (
        Dispatch.objects.get(campaign=first).pk,
        Dispatch.objects.get(campaign=second).pk,
    )


def _resume_after_every_step(dispatch_id: int, *, max_requests: int, max_targets: int) -> int:
    """Plan with a new Planner for every step (each resumes from the committed cursor)."""
    steps = 0
    while True:
        dispatch = _dispatch(dispatch_id)
        planner = Planner(dispatch, _provider(dispatch))
        if planner.done:
            return steps
        planner.step(max_requests=max_requests, max_targets=max_targets)
        steps += 1


def test_jiguang_ids_planned_step_by_step_with_skips_equal_one_pass(make_account, approved_campaign):
    """Requests of 1,000 ids end mid-page, skipped ids lie between them: resuming from the
    cursor after each small step plans the same batches and counts each skip once."""
    ids = make_recipients(5300, kind="jiguang")
    # Skips spread over the audience: ids opted out, and listed ids that are not valid at Jiguang.
    Recipient.objects.filter(external_id__in=ids[5:5300:97]).update(opted_out_providers=["jiguang"])
    listed = ids[:2600] + [f"bad id {i}" for i in range(7)] + ids[2600:]

    def audience(name: str):
        return make_audience("users", name=name, user_ids=listed)

    one_pass, stepwise = _two_dispatches(make_account, approved_campaign, "jiguang", audience)
    dispatch_plan(_dispatch(one_pass), _provider(_dispatch(one_pass)))

    steps = _resume_after_every_step(stepwise, max_requests=1, max_targets=1)

    assert steps >= 6  # really resumed many times
    expected = _planned(one_pass)
    assert [(n, t, c) for n, t, c in _planned(stepwise)] == expected
    assert _totals(stepwise)[:5] == _totals(one_pass)[:5] and _totals(stepwise)[5]
    targets = [t for _n, batch, _c in expected for t in batch]
    assert len(targets) == len(set(targets)) == Dispatch.objects.get(pk=one_pass).total_recipients
    total, recipients, skipped, reasons, detail, _done = _totals(stepwise)
    assert skipped == sum(reasons.values()) > 0 and "skipped:" in detail
    assert recipients + skipped == len(listed)


def test_alipayplus_all_planned_step_by_step_equals_one_pass_and_counts_opt_outs_once(
    make_account, approved_campaign
):
    ids = make_recipients(2 * ROWS + 37)
    Recipient.objects.filter(external_id__in=ids[::9]).update(opted_out_providers=["alipayplus"])
    one_pass, stepwise = _two_dispatches(
        make_account, approved_campaign, "alipayplus", lambda name: make_audience("all", name=name)
    )
    dispatch_plan(_dispatch(one_pass), _provider(_dispatch(one_pass)))

    _resume_after_every_step(stepwise, max_requests=ROWS + 3, max_targets=10_000)

    assert _planned(stepwise) == _planned(one_pass)
    assert _totals(stepwise) == _totals(one_pass)
    assert _totals(one_pass)[:3] == (len(ids) - len(ids[::9]), len(ids) - len(ids[::9]), len(ids[::9]))


def test_a_planner_behind_the_committed_cursor_plans_nothing(make_account, approved_campaign):
    """Two planners from the same cursor (a worker that lost its claim and its successor):
    the second to commit writes no row and moves no cursor."""
    account, _server = make_account("alipayplus")
    make_recipients(30)
    approved_campaign(account, make_audience("all"))
    [dispatch_id] = dispatcher_tick()
    first = Planner(_dispatch(dispatch_id), _provider(_dispatch(dispatch_id)))
    late = Planner(_dispatch(dispatch_id), _provider(_dispatch(dispatch_id)))

    assert first.step(max_requests=10) == 10
    with pytest.raises(PlanConflict):
        late.step(max_requests=10)

    assert _planned(dispatch_id) == [(n, [f"u{n - 1:06d}"], 1) for n in range(1, 11)]
    assert _totals(dispatch_id)[:2] == (10, 10)
    assert not _totals(dispatch_id)[5]  # planning is not complete: the dispatch cannot finish


def test_progress_does_not_claim_100_percent_while_planning_is_incomplete(make_account, approved_campaign):
    from campaigns.admin.dashboard import running_dispatches

    account, _server = make_account("alipayplus")
    make_recipients(30)
    approved_campaign(account, make_audience("all"))
    [dispatch_id] = dispatcher_tick()
    planner = Planner(_dispatch(dispatch_id), _provider(_dispatch(dispatch_id)))
    planner.step(max_requests=10)
    Delivery.objects.filter(dispatch_id=dispatch_id).update(status="delivered")
    Dispatch.objects.filter(pk=dispatch_id).update(status="running")

    [row] = running_dispatches()
    assert (row["settled"], row["total"], row["percent"]) == (10, 10, 99)

    dispatch_plan(_dispatch(dispatch_id), _provider(_dispatch(dispatch_id)))  # the rest: 20 more
    Delivery.objects.filter(dispatch_id=dispatch_id).update(status="delivered")
    [row] = running_dispatches()
    assert (row["settled"], row["total"], row["percent"]) == (30, 30, 100)


def test_a_worker_that_lost_its_claim_plans_nothing(make_account, approved_campaign):
    account, _server = make_account("alipayplus")
    make_recipients(5)
    approved_campaign(account, make_audience("all"))
    [dispatch_id] = dispatcher_tick()
    Dispatch.objects.filter(pk=dispatch_id).update(status="running", claimed_by="the-watchdog-gave-it-away")

    with pytest.raises(PlanConflict):
        Planner(_dispatch(dispatch_id), _provider(_dispatch(dispatch_id)), me="me").step()

    assert _planned(dispatch_id) == [] and _totals(dispatch_id)[0] == 0


def test_attempts_written_by_the_prepared_insert_read_back_as_made(make_account, approved_campaign):
    from campaigns.models import DeliveryAttempt
    from campaigns.sending.inserts import insert_attempts

    account, _server = make_account("alipayplus")
    make_recipients(2 * ROWS + 3)  # two full statements and a remainder
    approved_campaign(account, make_audience("all"))
    [dispatch_id] = dispatcher_tick()
    dispatch_plan(_dispatch(dispatch_id), _provider(_dispatch(dispatch_id)))
    deliveries = list(Delivery.objects.filter(dispatch_id=dispatch_id).order_by("batch_no"))
    made = [
        DeliveryAttempt(delivery=d, number=1, outcome="retry", provider_code=f"C{d.batch_no}",
                        provider_message="slow down 限流", http_status=None if d.batch_no % 2 else 429,
                        duration_ms=d.batch_no)
        for d in deliveries
    ]

    insert_attempts(made)

    fields = (
        "delivery_id", "number", "outcome", "provider_code", "provider_message", "http_status", "duration_ms"
    )
    stored = list(DeliveryAttempt.objects.order_by("delivery__batch_no").values_list(*fields))
    assert stored == [tuple(getattr(a, f) for f in fields) for a in made]
    assert not DeliveryAttempt.objects.filter(created_at__isnull=True).exists()


def test_planning_alipayplus_decrypts_no_access_token(make_account, approved_campaign, monkeypatch):
    """Planning keeps no token (sending reads the current one from Recipient): it asks only
    whether a recipient has one, so it decrypts none (BENCHMARKS.md, "This round")."""
    from cryptography.fernet import MultiFernet

    account, _server = make_account("alipayplus")
    ids = make_recipients(ROWS + 7)
    Recipient.objects.filter(external_id=ids[3]).update(addresses={})
    listed = ids + ["nobody"]
    approved_campaign(account, make_audience("users", user_ids=listed))
    [dispatch_id] = dispatcher_tick()
    dispatch = _dispatch(dispatch_id)
    provider = _provider(dispatch)  # the account's own credentials are decrypted here, before
    decrypted: list[bytes] = []
    real = MultiFernet.decrypt
    monkeypatch.setattr(
        MultiFernet, "decrypt", lambda self, token, *a: decrypted.append(token) or real(self, token, *a)
    )

    dispatch_plan(dispatch, provider)

    assert decrypted == []
    total, recipients, skipped, reasons, _detail, done = _totals(dispatch_id)
    assert done and (recipients, skipped) == (len(ids) - 1, 2)
    assert reasons == {"no address": 1, "unknown recipient": 1}
    assert not Delivery.objects.filter(dispatch_id=dispatch_id).exclude(routes=[]).exists()


def test_outcomes_and_planned_rows_written_in_one_statement_read_back_as_made(
    make_account, approved_campaign
):
    """On PostgreSQL the rows travel as one JSON parameter (inserts.json_rows_sql): every type
    of column — text with quotes and CJK, NULLs, microsecond datetimes, JSON — reads back as made."""
    from datetime import UTC, datetime

    from campaigns.sending.outcomes import write_outcomes

    account, _server = make_account("jiguang")
    make_recipients(5, kind="jiguang")
    approved_campaign(account, make_audience("all"))
    [dispatch_id] = dispatcher_tick()
    dispatch = _dispatch(dispatch_id)
    dispatch_plan(dispatch, _provider(dispatch))  # one request of its own: batch 1
    prefix = "crier-x-"
    routes = [["jg_1", "zh-CN"], ["a \"quoted\" \\ id", ""]]
    insert_deliveries([(dispatch_id, 7, f"{prefix}7", ["u1", "ü2"], routes, 2, {"tags": ["新", "b"]})])
    [delivery] = Delivery.objects.filter(dispatch=dispatch, batch_no=7)
    assert (delivery.targets, delivery.routes) == (["u1", "ü2"], routes)
    assert delivery.selector == {"tags": ["新", "b"]}
    assert (delivery.status, delivery.attempts, delivery.provider_code) == ("pending", 0, "")
    at = datetime(2026, 12, 6, 14, 50, 1, 123456, tzinfo=UTC)
    message = "限流 'slow' \"down\"\n"
    delivery.status, delivery.provider_code, delivery.provider_message = "retry", "429", message
    delivery.provider_message_id, delivery.next_attempt_at, delivery.updated_at = "", at, at
    other = Delivery.objects.get(dispatch=dispatch, batch_no=1)

    write_outcomes([delivery])

    fields = ("status", "provider_code", "provider_message", "provider_message_id", "next_attempt_at")
    stored = Delivery.objects.values_list(*fields, "updated_at").get(pk=delivery.pk)
    assert stored == ("retry", "429", message, "", at, at)
    assert Delivery.objects.values_list(*fields).get(pk=other.pk) == ("pending", "", "", "", None)
