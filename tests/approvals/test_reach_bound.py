"""Issue #14: an approval survives a living audience. Its reach is approved as a bound;
an occurrence within ``approved reach × (1 + CRIER_REACH_TOLERANCE)`` is sent as approved,
one above it is held for a reviewer, who confirms it (four-eyes rule, approval rules) or
cancels it; nobody's decision before its expiry leaves it expired. Fewer recipients never
hold.

Driven through the REST API as the users would, with the send engine run in-process
against the Jiguang emulator and the clock moved to each daily occurrence (the qcluster
version is tests/campaigns/test_reach_integration.py).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.models import ApprovalRule, Review
from approvals.reach import reach_limit
from audit.models import AuditEvent
from audit.services import audit_verify
from campaigns.audiences.recipients import recipient_opt_out
from campaigns.models import AudienceMember, Campaign, CampaignStatus, Dispatch, DispatchStatus
from campaigns.sending.run import dispatch_run
from campaigns.sending.ticker import dispatcher_tick
from campaigns.sending.watchdog import dispatches_recover
from tests.approvals.factories import make_audience
from tests.campaigns.conftest import make_account  # noqa: F401  (fixture)
from tests.providers.conftest import start_emulator  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def join(marketer, first: int, count: int, tag: str = "club") -> None:
    """``count`` recipients with a Jiguang address join ``tag``, through the bulk API."""
    rows = [
        {"external_id": f"m{n:03d}", "language": "en", "tags": [tag], "addresses": {"jiguang": f"j{n:03d}"}}
        for n in range(first, first + count)
    ]
    response = client_for(marketer).post("/api/v1/recipients/bulk/", rows, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["error_count"] == 0


@pytest.fixture
def jiguang(make_account):  # noqa: F811
    return make_account("jiguang")


@pytest.fixture(autouse=True)
def tolerance(settings):
    settings.CRIER_REACH_TOLERANCE = 0.10


@pytest.fixture
def schedule_days() -> int:
    return 30


@pytest.fixture
def daily(marketer, reviewer, template, jiguang, schedule_days) -> Campaign:
    """A daily recurring Jiguang campaign to the tag ``club`` of 10 for ``schedule_days``
    days after today, created, submitted and approved through the API."""
    account, _server = jiguang
    join(marketer, 0, 10)
    today = timezone.localdate()
    body = {
        "name": "Daily club news",
        "template": template.pk,
        "provider_account": account.pk,
        "audience": make_audience("tags", tags=["club"], user_ids=()).pk,
        "language": "en",
        "parameters": {"name": "Ada", "pct": "20"},
        "expired_seconds": 3600,
        "schedule": {
            "kind": "recurring",
            "circle_type": 1,
            "time": "09:00:00",
            "timezone": "UTC",
            "start_date": today.isoformat(),
            "end_date": (today + timedelta(days=schedule_days)).isoformat(),
        },
    }
    created = client_for(marketer).post("/api/v1/campaigns/", body, format="json")
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert client_for(marketer).post(f"/api/v1/campaigns/{pk}/submit/").status_code == 200
    approved = client_for(reviewer).post(f"/api/v1/campaigns/{pk}/approve/", {}, format="json")
    assert approved.json()["status"] == "approved", approved.json()
    return Campaign.objects.get(pk=pk)


def next_occurrence(campaign: Campaign) -> Dispatch:
    """Move the clock to the campaign's next due time, tick, and run that occurrence."""
    campaign.refresh_from_db()
    with time_machine.travel(campaign.next_due_at + timedelta(seconds=1), tick=True):
        [dispatch_id] = dispatcher_tick()
        dispatch_run(dispatch_id)
    return Dispatch.objects.get(pk=dispatch_id)


def test_the_approval_records_the_reach_and_its_bound(daily):
    review = Review.objects.get(campaign=daily)

    assert review.reach == 10
    assert (daily.approved_reach, daily.reach_limit) == (10, 11)  # floor(10 × 1.10)


def test_one_member_joining_is_sent_as_approved(daily, marketer, jiguang):
    _account, server = jiguang
    join(marketer, 10, 1)

    dispatch = next_occurrence(daily)

    assert (dispatch.status, dispatch.reach) == (DispatchStatus.SENT, 11)
    assert len(server.app.accepted) == 1
    assert server.app.accepted[0].payload["aud_tag"] == ["club"]
    daily.refresh_from_db()
    assert daily.status == CampaignStatus.APPROVED  # for its later occurrences
    assert daily.approved_reach == 10  # within the bound: nothing to confirm


def test_beyond_the_bound_the_occurrence_is_held_and_only_a_reviewer_may_confirm_it(
    daily, marketer, reviewer, make_user, jiguang
):
    _account, server = jiguang
    join(marketer, 10, 6)  # 16 > 11

    held = next_occurrence(daily)

    assert (held.status, held.reach) == (DispatchStatus.HELD, 16)
    assert "16" in held.detail and "11" in held.detail
    assert server.app.accepted == []  # nothing reached the provider
    assert not held.deliveries.exists()
    daily.refresh_from_db()
    assert daily.status == CampaignStatus.APPROVED and daily.next_due_at > held.due_at
    shown = client_for(marketer).get(f"/api/v1/dispatches/{held.pk}/").json()
    assert (shown["status"], shown["reach"]) == ("held", 16)

    url = f"/api/v1/dispatches/{held.pk}/confirm/"
    author = client_for(marketer).post(url)
    assert author.status_code == 403, author.json()
    operator = client_for(make_user("ops", "Operators")).post(url)
    assert operator.status_code == 403
    confirmed = client_for(reviewer).post(url)
    assert confirmed.status_code == 200, confirmed.json()
    assert confirmed.json()["status"] == "pending"
    assert client_for(reviewer).post(url).status_code == 409  # no longer held

    daily.refresh_from_db()
    assert (daily.approved_reach, daily.reach_limit) == (16, 17)
    with time_machine.travel(held.due_at + timedelta(seconds=5), tick=True):
        assert dispatch_run(held.pk) == DispatchStatus.SENT
    assert len(server.app.accepted) == 1
    event = AuditEvent.objects.get(object_type="dispatch", object_id=str(held.pk), action="confirm")
    assert event.actor == reviewer
    assert event.data["approved_reach"] == {"from": 10, "to": 16}
    assert AuditEvent.objects.filter(object_type="dispatch", object_id=str(held.pk), action="hold").exists()
    assert audit_verify().ok


def test_fewer_recipients_never_hold(daily, marketer, jiguang):
    _account, server = jiguang
    for n in range(3):  # opt-outs learned from the provider
        recipient_opt_out(external_id=f"m{n:03d}", provider_kind="jiguang", provider_code="1011")
    AudienceMember.objects.create(audience=daily.audience, external_id="m003", suppressed=True)
    client = client_for(marketer)
    leaving = client.get("/api/v1/recipients/", {"external_id": "m004"}).json()["results"][0]
    assert (
        client.patch(f"/api/v1/recipients/{leaving['id']}/", {"tags": []}, format="json").status_code == 200
    )

    dispatch = next_occurrence(daily)

    assert dispatch.status == DispatchStatus.SENT and dispatch.reach == 8
    daily.refresh_from_db()
    assert daily.status == CampaignStatus.APPROVED and daily.approved_reach == 10


def test_a_held_occurrence_not_confirmed_before_its_expiry_is_expired(daily, marketer, reviewer):
    join(marketer, 10, 5)
    held = next_occurrence(daily)
    assert held.status == DispatchStatus.HELD

    with time_machine.travel(held.due_at + timedelta(seconds=3601), tick=True):
        report = dispatches_recover()
        late = client_for(reviewer).post(f"/api/v1/dispatches/{held.pk}/confirm/")

    held.refresh_from_db()
    assert report["held_expired"] == 1
    assert held.status == DispatchStatus.EXPIRED and "not confirmed before its expiry" in held.detail
    assert late.status_code == 409
    assert AuditEvent.objects.filter(object_type="dispatch", object_id=str(held.pk), action="expire").exists()
    daily.refresh_from_db()
    assert daily.status == CampaignStatus.APPROVED


def test_a_confirmation_after_the_expiry_is_refused_and_records_it_expired(daily, marketer, reviewer):
    join(marketer, 10, 5)
    held = next_occurrence(daily)

    with time_machine.travel(held.due_at + timedelta(seconds=3601), tick=True):
        late = client_for(reviewer).post(f"/api/v1/dispatches/{held.pk}/confirm/")

    assert late.status_code == 409 and "expiry" in late.json()["detail"]
    held.refresh_from_db()
    assert held.status == DispatchStatus.EXPIRED


def test_a_reviewer_cancels_a_held_occurrence_and_the_later_ones_go_on(daily, marketer, reviewer, jiguang):
    _account, server = jiguang
    join(marketer, 10, 5)
    held = next_occurrence(daily)

    cancelled = client_for(reviewer).post(
        f"/api/v1/dispatches/{held.pk}/cancel/", {"reason": "too many"}, format="json"
    )

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client_for(reviewer).post(f"/api/v1/dispatches/{held.pk}/cancel/").status_code == 409
    event = AuditEvent.objects.get(object_type="dispatch", object_id=str(held.pk), action="cancel")
    assert (event.actor, event.reason) == (reviewer, "too many")
    again = next_occurrence(daily)  # still 15 recipients, still above the bound
    assert again.status == DispatchStatus.HELD
    assert server.app.accepted == []


@pytest.mark.parametrize("schedule_days", [1])
def test_the_last_occurrence_held_keeps_the_campaign_open_until_it_is_decided(daily, marketer, reviewer):
    join(marketer, 10, 5)
    held = [next_occurrence(daily)]
    daily.refresh_from_db()  # after 09:00 UTC the first one was the last (today's has passed)
    while daily.next_due_at is not None:  # today's (if still to come) and tomorrow's
        held.append(next_occurrence(daily))
        daily.refresh_from_db()
    assert {dispatch.status for dispatch in held} == {DispatchStatus.HELD}
    assert daily.status == CampaignStatus.SENDING  # not finished while a reviewer may still send it

    for dispatch in held:
        client_for(reviewer).post(f"/api/v1/dispatches/{dispatch.pk}/cancel/")

    daily.refresh_from_db()
    assert daily.status == CampaignStatus.FAILED  # nothing of it was sent


def test_the_command_confirms_as_a_named_reviewer_with_the_same_rules(daily, marketer, reviewer, capsys):
    join(marketer, 10, 5)
    held = next_occurrence(daily)

    with pytest.raises(CommandError, match="needs the permission campaigns.approve_campaign"):
        call_command("confirm_dispatch", str(held.pk), "--as", "marketer")
    marketer.groups.add(Group.objects.get(name="Reviewers"))  # a reviewer now, still its author
    with pytest.raises(CommandError, match="four-eyes rule: 'marketer' created and submitted campaign"):
        call_command("confirm_dispatch", str(held.pk), "--as", "marketer")
    call_command("confirm_dispatch", str(held.pk), "--as", "reviewer")

    assert "confirmed at a reach of 15" in capsys.readouterr().out
    held.refresh_from_db()
    assert held.status == DispatchStatus.PENDING
    with pytest.raises(CommandError, match="only a held occurrence can be cancelled"):
        call_command("confirm_dispatch", str(held.pk), "--as", "reviewer", "--cancel", "--reason", "late")


def test_growing_into_a_stricter_rule_needs_a_reviewer_who_satisfies_it(daily, marketer, reviewer, make_user):
    compliance = Group.objects.get_or_create(name="Compliance")[0]
    officer = make_user("officer", "Reviewers")
    officer.groups.add(compliance)
    ApprovalRule.objects.create(
        name="Big reach needs Compliance", min_reach=14, approvals_required=1, required_group=compliance
    )
    join(marketer, 10, 5)  # 15: above the bound, and the rule applies from 14
    held = next_occurrence(daily)

    refused = client_for(reviewer).post(f"/api/v1/dispatches/{held.pk}/confirm/")
    assert refused.status_code == 403
    assert "Big reach needs Compliance" in refused.json()["detail"]
    assert client_for(officer).post(f"/api/v1/dispatches/{held.pk}/confirm/").status_code == 200

    daily.refresh_from_db()
    assert (daily.approved_reach, daily.reach_limit) == (15, 16)


def test_the_bound_stops_below_a_rule_the_approvers_did_not_satisfy(daily, settings):
    compliance = Group.objects.get_or_create(name="Compliance")[0]
    ApprovalRule.objects.create(
        name="Compliance from 11", min_reach=11, approvals_required=1, required_group=compliance
    )
    settings.CRIER_REACH_TOLERANCE = 0.5

    approvers = [Review.objects.get(campaign=daily).decisions.get().reviewer]
    assert reach_limit(daily, reach=10, approvers=approvers) == 10  # min(floor(15), 11 - 1)
    assert reach_limit(daily, reach=None, approvers=approvers) is None  # only the provider knows


def test_the_review_page_shows_the_reach_approved_as_a_bound(daily, reviewer, client):
    client.force_login(reviewer)
    page = client.get(f"/admin/campaigns/campaign/{daily.pk}/review/").content.decode()
    row = page[page.index('id="review-reach"'):]
    row = row[: row.index("</td>")]
    assert "10 recipients" in row
    assert "an occurrence that reaches more than 11 is held until a reviewer confirms it" in row
