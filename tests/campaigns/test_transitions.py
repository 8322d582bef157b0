"""The dispatch and delivery life cycles: legal moves move (once), illegal ones are refused."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Delivery, DeliveryStatus, Dispatch, DispatchStatus
from campaigns.sending.transitions import (
    DELIVERY_TRANSITIONS,
    DISPATCH_TRANSITIONS,
    IllegalTransition,
    delivery_move,
    dispatch_move,
    dispatches_move,
)
from tests.approvals.factories import make_account, make_audience, make_template

pytestmark = pytest.mark.django_db


@pytest.fixture
def dispatch(make_user) -> Dispatch:
    campaign = Campaign.objects.create(
        created_by=make_user("mara", "Marketers"),
        name="transitions",
        template=make_template(),
        provider_account=make_account(),
        audience=make_audience(),
    )
    return Dispatch.objects.create(campaign=campaign, due_at=timezone.now())


def _deliveries(dispatch: Dispatch, *statuses: str) -> list[Delivery]:
    return [
        Delivery.objects.create(
            dispatch=dispatch, batch_no=n, idempotency_key=f"k-{dispatch.pk}-{n}", status=status
        )
        for n, status in enumerate(statuses, start=1)
    ]


def test_every_status_appears_in_the_tables():
    assert {s for pair in DISPATCH_TRANSITIONS for s in pair} == set(DispatchStatus.values)
    assert {s for pair in DELIVERY_TRANSITIONS for s in pair} == set(DeliveryStatus.values)


def test_a_legal_dispatch_move_moves_once_and_sets_its_fields(dispatch):
    now = timezone.now()
    claimed = dispatch_move(
        dispatch.pk, DispatchStatus.PENDING, DispatchStatus.RUNNING, claimed_by="me", heartbeat_at=now
    )
    assert claimed == 1
    dispatch.refresh_from_db()
    assert (dispatch.status, dispatch.claimed_by) == (DispatchStatus.RUNNING, "me")
    assert dispatch.heartbeat_at == now
    # The compare-and-swap: a second claim finds it running and moves nothing.
    assert dispatch_move(dispatch.pk, DispatchStatus.PENDING, DispatchStatus.RUNNING, claimed_by="other") == 0
    assert Dispatch.objects.get(pk=dispatch.pk).claimed_by == "me"


def test_extra_conditions_are_part_of_the_compare_and_swap(dispatch):
    Dispatch.objects.filter(pk=dispatch.pk).update(status=DispatchStatus.RUNNING, claimed_by="me")
    assert dispatch_move(
        dispatch.pk, DispatchStatus.RUNNING, DispatchStatus.PENDING, where={"claimed_by": "other"}
    ) == 0
    assert dispatch_move(
        dispatch.pk, DispatchStatus.RUNNING, DispatchStatus.PENDING, where={"claimed_by": "me"}, claimed_by=""
    ) == 1
    assert Dispatch.objects.get(pk=dispatch.pk).status == DispatchStatus.PENDING


@pytest.mark.parametrize(
    ("frm", "to"),
    [
        (DispatchStatus.PENDING, DispatchStatus.SENT),  # never sent without running
        (DispatchStatus.REFUSED, DispatchStatus.PENDING),  # a refused occurrence stays refused
        (DispatchStatus.EXPIRED, DispatchStatus.RUNNING),
        (DispatchStatus.CANCELLED, DispatchStatus.PENDING),
    ],
)
def test_an_illegal_dispatch_move_raises_and_touches_nothing(dispatch, frm, to):
    Dispatch.objects.filter(pk=dispatch.pk).update(status=frm)
    with pytest.raises(IllegalTransition):
        dispatch_move(dispatch.pk, frm, to)
    assert Dispatch.objects.get(pk=dispatch.pk).status == frm


def test_one_illegal_source_among_legal_ones_refuses_the_whole_move(dispatch):
    with pytest.raises(IllegalTransition, match="expired"):
        dispatch_move(dispatch.pk, (DispatchStatus.RUNNING, DispatchStatus.EXPIRED), DispatchStatus.SENT)


def test_a_bulk_delivery_move_moves_only_rows_in_a_source_status(dispatch):
    S = DeliveryStatus
    rows = _deliveries(dispatch, S.PENDING, S.RETRY, S.DELIVERED, S.UNKNOWN)
    moved = delivery_move(
        (DeliveryStatus.PENDING, DeliveryStatus.RETRY),
        DeliveryStatus.EXPIRED,
        where={"dispatch_id": dispatch.pk},
        provider_message="too late",
    )
    assert moved == 2
    statuses = dict(Delivery.objects.filter(pk__in=[d.pk for d in rows]).values_list("batch_no", "status"))
    assert statuses == {
        1: DeliveryStatus.EXPIRED,
        2: DeliveryStatus.EXPIRED,
        3: DeliveryStatus.DELIVERED,
        4: DeliveryStatus.UNKNOWN,
    }


@pytest.mark.parametrize(
    ("frm", "to"),
    [
        (DeliveryStatus.DELIVERED, DeliveryStatus.PENDING),  # a delivered request is never resent
        (DeliveryStatus.FAILED, DeliveryStatus.IN_FLIGHT),
        (DeliveryStatus.PENDING, DeliveryStatus.DELIVERED),  # only an answer to a request in flight
        (DeliveryStatus.CLOSED, DeliveryStatus.PENDING),
    ],
)
def test_an_illegal_delivery_move_raises_and_touches_nothing(dispatch, frm, to):
    [row] = _deliveries(dispatch, frm)
    with pytest.raises(IllegalTransition):
        delivery_move(frm, to, where={"pk": row.pk})
    assert Delivery.objects.get(pk=row.pk).status == frm


def test_an_operator_resolves_an_unknown_delivery_only_once(dispatch):
    [row] = _deliveries(dispatch, DeliveryStatus.UNKNOWN)
    later = timezone.now() + dt.timedelta(seconds=1)
    closed = delivery_move(
        DeliveryStatus.UNKNOWN, DeliveryStatus.CLOSED, where={"pk": row.pk}, updated_at=later
    )
    assert closed == 1
    assert delivery_move(DeliveryStatus.UNKNOWN, DeliveryStatus.PENDING, where={"pk": row.pk}) == 0
    assert Delivery.objects.get(pk=row.pk).status == DeliveryStatus.CLOSED


def test_cancelling_moves_every_pending_occurrence_and_leaves_the_others(dispatch):
    running = Dispatch.objects.create(
        campaign=dispatch.campaign,
        due_at=dispatch.due_at + dt.timedelta(days=1),
        status=DispatchStatus.RUNNING,
    )
    moved = dispatches_move(
        DispatchStatus.PENDING, DispatchStatus.CANCELLED, where={"campaign": dispatch.campaign}
    )
    assert moved == 1
    assert Dispatch.objects.get(pk=dispatch.pk).status == DispatchStatus.CANCELLED
    assert Dispatch.objects.get(pk=running.pk).status == DispatchStatus.RUNNING
    with pytest.raises(IllegalTransition):
        dispatches_move(
            DispatchStatus.RUNNING, DispatchStatus.CANCELLED, where={"campaign": dispatch.campaign}
        )


def test_the_heartbeat_renews_only_its_own_running_claim_and_the_stop_reads_the_switch(dispatch):
    """``claims.heartbeat`` and ``operations.sending_stopped`` are fixed SQL statements, not
    ORM queries: they must still write what the watchdog's ORM queries read, and nothing else."""
    from campaigns.models import SendSwitch
    from campaigns.sending.claims import claim, heartbeat, release
    from campaigns.sending.operations import sending_stopped

    long_ago = timezone.now() - dt.timedelta(hours=1)
    assert claim(dispatch.pk, "me", long_ago)
    before = timezone.now()
    assert heartbeat(dispatch.pk, "me") is True
    dispatch.refresh_from_db()
    assert dispatch.heartbeat_at >= before and dispatch.claimed_by == "me"
    assert Dispatch.objects.filter(pk=dispatch.pk, heartbeat_at__gte=before).exists(), "comparable as stored"
    assert heartbeat(dispatch.pk, "another worker") is False
    assert release(dispatch.pk, "me")
    assert heartbeat(dispatch.pk, "me") is False, "a claim handed back is not renewed"
    dispatch.refresh_from_db()
    assert dispatch.heartbeat_at is None and dispatch.status == DispatchStatus.PENDING

    assert sending_stopped() is False
    SendSwitch.objects.update_or_create(pk=1, defaults={"stopped": False})
    assert sending_stopped() is False
    SendSwitch.objects.filter(pk=1).update(stopped=True)
    assert sending_stopped() is True
