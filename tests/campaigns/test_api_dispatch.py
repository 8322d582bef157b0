"""The send ledger over REST: dispatch progress, deliveries, resolving unknowns, the stop switch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from campaigns.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Dispatch,
    DispatchStatus,
    SendSwitch,
)
from tests.approvals.factories import make_account, make_audience, make_template
from tests.campaigns.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(make_user):
    return make_user("olga", "Operators")


@pytest.fixture
def campaign(marketer) -> Campaign:
    return Campaign.objects.create(
        name="Weekly digest",
        template=make_template("digest"),
        provider_account=make_account("jiguang"),
        audience=make_audience("users"),
        status=CampaignStatus.SENDING,
        created_by=marketer,
    )


def make_dispatch(campaign: Campaign, *, hours_ago: int = 1, **fields) -> Dispatch:
    return Dispatch.objects.create(
        campaign=campaign, due_at=timezone.now() - timedelta(hours=hours_ago), **fields
    )


def make_delivery(dispatch: Dispatch, batch_no: int, status: str, **fields) -> Delivery:
    return Delivery.objects.create(
        dispatch=dispatch,
        batch_no=batch_no,
        idempotency_key=f"key-{dispatch.pk}-{batch_no}",
        status=status,
        targets=fields.pop("targets", [f"u{batch_no}"]),
        target_count=fields.pop("target_count", 1),
        **fields,
    )


@pytest.fixture
def running(campaign) -> Dispatch:
    """A running dispatch with stored counters still at zero and deliveries in every state."""
    dispatch = make_dispatch(
        campaign, status=DispatchStatus.RUNNING, total_requests=8, total_recipients=8, skipped=2
    )
    for number, status in enumerate(
        [
            DeliveryStatus.DELIVERED,
            DeliveryStatus.DELIVERED,
            DeliveryStatus.FAILED,
            DeliveryStatus.EXPIRED,
            DeliveryStatus.RETRY,
            DeliveryStatus.IN_FLIGHT,
            DeliveryStatus.PENDING,
            DeliveryStatus.OPTED_OUT,
        ],
        start=1,
    ):
        make_delivery(dispatch, number, status, provider_code="0" if status == "delivered" else "E1")
    return dispatch


def test_campaign_dispatches_show_live_progress_counted_from_the_deliveries(marketer, campaign, running):
    finished = make_dispatch(
        campaign, hours_ago=30, status=DispatchStatus.SENT, delivered=3, total_requests=3
    )

    response = client_for(marketer).get(f"/api/v1/campaigns/{campaign.pk}/dispatches/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    latest, older = body["results"]
    assert latest["id"] == running.pk and older["id"] == finished.pk
    counters = ("delivered", "failed", "opted_out", "retrying", "in_flight", "unknown")
    assert {k: latest[k] for k in counters} == {
        "delivered": 2,
        "failed": 2,
        "opted_out": 1,
        "retrying": 1,
        "in_flight": 1,
        "unknown": 0,
    }
    assert latest["skipped"] == 2 and latest["total_requests"] == 8 and latest["status"] == "running"
    assert latest["is_preview"] is False and latest["campaign"] == campaign.pk
    # A dispatch without delivery rows keeps the counters the engine stored.
    assert older["delivered"] == 3 and older["failed"] == 0


def test_the_dispatch_list_counts_deliveries_in_one_query_whatever_the_page_size(marketer, campaign):
    for hours in range(1, 6):
        dispatch = make_dispatch(campaign, hours_ago=hours)
        make_delivery(dispatch, 1, DeliveryStatus.DELIVERED)
    client = client_for(marketer)
    client.get(f"/api/v1/campaigns/{campaign.pk}/dispatches/")  # warm caches (permissions, content types)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/v1/campaigns/{campaign.pk}/dispatches/")

    assert response.json()["count"] == 5
    delivery_queries = [q for q in queries.captured_queries if "campaigns_delivery" in q["sql"]]
    assert len(delivery_queries) == 1


def test_campaign_dispatches_filter_by_status_and_preview(marketer, campaign, running):
    make_dispatch(campaign, hours_ago=2, is_preview=True, status=DispatchStatus.SENT)
    client = client_for(marketer)
    url = f"/api/v1/campaigns/{campaign.pk}/dispatches/"

    assert [d["id"] for d in client.get(url, {"status": "running"}).json()["results"]] == [running.pk]
    assert [d["is_preview"] for d in client.get(url, {"is_preview": "true"}).json()["results"]] == [True]
    assert client.get(url, {"status": "done"}).json() == {
        "status": [
            "status 'done' is not one of: pending, running, sent, partially_failed, failed, expired, "
            "refused, held, cancelled"
        ]
    }


def test_dispatches_of_a_campaign_that_does_not_exist_are_not_found(marketer):
    assert client_for(marketer).get("/api/v1/campaigns/999999/dispatches/").status_code == 404


def test_a_single_dispatch_shows_its_live_progress(marketer, running):
    body = client_for(marketer).get(f"/api/v1/dispatches/{running.pk}/").json()

    assert body["delivered"] == 2 and body["pending"] == 1 and body["due_at"]


def test_deliveries_are_listed_in_batch_order_without_targets_and_filtered(marketer, running):
    client = client_for(marketer)
    url = f"/api/v1/dispatches/{running.pk}/deliveries/"

    body = client.get(url).json()
    assert body["count"] == 8
    first = body["results"][0]
    assert set(first) == {
        "id",
        "dispatch",
        "batch_no",
        "idempotency_key",
        "status",
        "attempts",
        "target_count",
        "provider_code",
        "provider_message",
        "provider_message_id",
        "next_attempt_at",
        "updated_at",
    }
    assert [d["batch_no"] for d in body["results"]] == list(range(1, 9))
    assert [d["batch_no"] for d in client.get(url, {"status": "delivered"}).json()["results"]] == [1, 2]
    assert client.get(url, {"provider_code": "E1"}).json()["count"] == 6
    assert "status" in client.get(url, {"status": "lost"}).json()


def test_deliveries_are_paginated(marketer, campaign):
    dispatch = make_dispatch(campaign)
    Delivery.objects.bulk_create(
        [
            Delivery(dispatch=dispatch, batch_no=n, idempotency_key=f"k{n}", status=DeliveryStatus.PENDING)
            for n in range(1, 61)
        ]
    )
    body = client_for(marketer).get(f"/api/v1/dispatches/{dispatch.pk}/deliveries/", {"page": 2}).json()

    assert body["count"] == 60 and len(body["results"]) == 10 and body["results"][0]["batch_no"] == 51


def test_a_single_delivery_shows_its_targets_and_every_attempt(marketer, running):
    delivery = running.deliveries.get(batch_no=3)
    DeliveryAttempt.objects.create(
        delivery=delivery, number=1, outcome="retry", provider_code="5xx", http_status=503, duration_ms=12
    )
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=2,
        outcome="failed",
        provider_code="E1",
        provider_message="invalid user",
        http_status=200,
        duration_ms=9,
    )

    body = client_for(marketer).get(f"/api/v1/deliveries/{delivery.pk}/").json()

    assert body["targets"] == ["u3"] and body["status"] == "failed"
    assert [(a["number"], a["outcome"], a["http_status"]) for a in body["attempt_log"]] == [
        (1, "retry", 503),
        (2, "failed", 200),
    ]


@pytest.fixture
def unknown_delivery(campaign) -> Delivery:
    dispatch = make_dispatch(campaign, status=DispatchStatus.PARTIALLY_FAILED, finished_at=timezone.now())
    make_delivery(dispatch, 1, DeliveryStatus.DELIVERED)
    return make_delivery(dispatch, 2, DeliveryStatus.UNKNOWN, provider_code="WORKER_LOST")


def test_an_operator_closes_an_unknown_delivery_and_the_audit_trail_says_who(operator, unknown_delivery):
    response = client_for(operator).post(
        f"/api/v1/deliveries/{unknown_delivery.pk}/resolve/", {"action": "close"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "closed"
    event = AuditEvent.objects.get(action="delivery_close")
    assert event.actor == operator and event.object_id == str(unknown_delivery.pk)


def test_an_operator_resends_an_unknown_delivery_and_its_dispatch_reopens(operator, unknown_delivery):
    response = client_for(operator).post(
        f"/api/v1/deliveries/{unknown_delivery.pk}/resolve/", {"action": "resend"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    assert Dispatch.objects.get(pk=unknown_delivery.dispatch_id).status == DispatchStatus.PENDING


def test_resolving_a_delivery_that_is_not_unknown_is_a_conflict(operator, unknown_delivery):
    client = client_for(operator)
    url = f"/api/v1/deliveries/{unknown_delivery.pk}/resolve/"
    client.post(url, {"action": "close"}, format="json")

    response = client.post(url, {"action": "resend"}, format="json")

    assert response.status_code == 409
    key = unknown_delivery.idempotency_key
    assert response.json() == {"detail": f"delivery {key} is not unknown; nothing to resolve"}


def test_resolve_names_a_wrong_action(operator, unknown_delivery):
    response = client_for(operator).post(
        f"/api/v1/deliveries/{unknown_delivery.pk}/resolve/", {"action": "retry"}, format="json"
    )

    assert response.status_code == 400 and "action" in response.json()


def test_only_operators_resolve_deliveries(marketer, reviewer, unknown_delivery):
    for user in (marketer, reviewer):
        response = client_for(user).post(
            f"/api/v1/deliveries/{unknown_delivery.pk}/resolve/", {"action": "close"}, format="json"
        )
        assert response.status_code == 403
    assert Delivery.objects.get(pk=unknown_delivery.pk).status == DeliveryStatus.UNKNOWN


def test_users_who_are_not_staff_see_no_dispatches(django_user_model, running):
    user = django_user_model.objects.create_user(username="eve", password="x")
    assert client_for(user).get(f"/api/v1/dispatches/{running.pk}/").status_code == 403


# --- emergency stop -----------------------------------------------------------------------


def test_the_stop_switch_reads_running_before_anyone_touched_it(marketer):
    assert client_for(marketer).get("/api/v1/stop/").json() == {
        "stopped": False,
        "reason": "",
        "changed_by": None,
        "changed_at": None,
    }


def test_an_operator_stops_and_resumes_sending(operator, marketer, campaign):
    pending = make_dispatch(campaign, status=DispatchStatus.PENDING)
    client = client_for(operator)

    stopped = client.post("/api/v1/stop/", {"reason": "provider outage"}, format="json")

    assert stopped.status_code == 200
    assert stopped.json()["stopped"] is True and stopped.json()["changed_by"] == "olga"
    assert SendSwitch.objects.get(pk=1).stopped
    seen = client_for(marketer).get("/api/v1/stop/").json()
    assert seen["stopped"] is True and seen["reason"] == "provider outage"

    resumed = client.post("/api/v1/resume/")

    assert resumed.status_code == 200
    assert resumed.json()["stopped"] is False and resumed.json()["woken"] == 1
    assert not SendSwitch.objects.get(pk=1).stopped
    assert Dispatch.objects.get(pk=pending.pk).status == DispatchStatus.PENDING


def test_only_operators_stop_or_resume_sending(marketer, reviewer):
    for user in (marketer, reviewer):
        client = client_for(user)
        assert client.post("/api/v1/stop/", {"reason": "x"}, format="json").status_code == 403
        assert client.post("/api/v1/resume/").status_code == 403
    assert not SendSwitch.objects.filter(stopped=True).exists()


def test_a_method_the_stop_route_lacks_answers_405(operator):
    assert client_for(operator).delete("/api/v1/stop/").status_code == 405
