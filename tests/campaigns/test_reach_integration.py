"""Issue #14 through a real ``qcluster``: a daily recurring Jiguang campaign to a tag of 10
lives with its audience. One member joining is sent as approved; five more hold the next
occurrence (nothing reaches the emulator) until a reviewer confirms it, which the author
may not; opt-outs never hold; a held occurrence nobody confirms expires.

Everything a user does goes through the REST API (this process); the ticker, the engine and
the watchdog run in the cluster. A separate process's clock cannot be moved, so each day's
occurrence is brought due by setting the campaign's ``next_due_at`` to now, as the day
arriving would (the ticker then advances it to the following day).
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.audiences.recipients import recipient_opt_out
from campaigns.models import AudienceMember, Campaign, CampaignStatus, Dispatch, DispatchStatus
from tests.campaigns.conftest import make_audience, wait_for
from tests.campaigns.test_engine_integration import start_ticker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

EXPIRED_SECONDS = 60


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def join(marketer, first: int, count: int) -> None:
    rows = [
        {
            "external_id": f"m{n:03d}",
            "language": "en",
            "tags": ["club"],
            "addresses": {"jiguang": f"j{n:03d}"},
        }
        for n in range(first, first + count)
    ]
    response = client_for(marketer).post("/api/v1/recipients/bulk/", rows, format="json")
    assert response.status_code == 200 and response.json()["error_count"] == 0, response.json()


def bring_due(campaign: Campaign, *, ago: float = 0) -> Dispatch:
    """Let the campaign's next daily occurrence come due (``ago`` seconds in the past) and
    return its dispatch once the cluster's ticker created it."""
    before = set(Dispatch.objects.filter(campaign=campaign).values_list("pk", flat=True))
    due = timezone.now() - timedelta(seconds=ago)
    assert Campaign.objects.filter(pk=campaign.pk).update(next_due_at=due) == 1
    new = wait_for(
        lambda: Dispatch.objects.filter(campaign=campaign).exclude(pk__in=before).first(),
        timeout=15,
        what="the ticker to create the occurrence",
    )
    return new


def settled(dispatch: Dispatch, *statuses: str, timeout: float = 20) -> Dispatch:
    def check():
        dispatch.refresh_from_db()
        return dispatch.status in statuses

    wait_for(check, timeout=timeout, what=f"dispatch {dispatch.pk} to become {' or '.join(statuses)}")
    return dispatch


def test_a_daily_tag_campaign_lives_with_its_audience(template, make_account, make_user, qcluster):
    marketer, reviewer = make_user("marketer", "Marketing"), make_user("reviewer", "Reviewers")
    account, server = make_account("jiguang")
    join(marketer, 0, 10)
    today = timezone.localdate()
    created = client_for(marketer).post(
        "/api/v1/campaigns/",
        {
            "name": "Daily club news",
            "template": template.pk,
            "provider_account": account.pk,
            "audience": make_audience("tags", tags=["club"]).pk,
            "language": "en",
            "parameters": {"name": "Ada", "bonus": "10 USDT"},
            "expired_seconds": EXPIRED_SECONDS,
            "schedule": {
                "kind": "recurring",
                "circle_type": 1,
                "time": "09:00:00",
                "timezone": "UTC",
                "start_date": today.isoformat(),
                "end_date": (today + timedelta(days=30)).isoformat(),
            },
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert client_for(marketer).post(f"/api/v1/campaigns/{pk}/submit/").status_code == 200
    assert client_for(reviewer).post(f"/api/v1/campaigns/{pk}/approve/").json()["status"] == "approved"
    campaign = Campaign.objects.get(pk=pk)
    assert (campaign.approved_reach, campaign.reach_limit) == (10, 11)
    qcluster()
    start_ticker()

    # One member joins: sent to 11, still approved.
    join(marketer, 10, 1)
    first = settled(bring_due(campaign), DispatchStatus.SENT)
    assert first.reach == 11
    assert len(server.app.accepted) == 1 and server.app.accepted[0].payload["aud_tag"] == ["club"]
    wait_for(lambda: Campaign.objects.get(pk=pk).status == CampaignStatus.APPROVED, timeout=10)

    # Five more join: 16 > 11, held; the author may not confirm, a reviewer does and it is sent.
    join(marketer, 11, 5)
    held = settled(bring_due(campaign), DispatchStatus.HELD)
    assert held.reach == 16
    time.sleep(1)
    assert len(server.app.accepted) == 1, "nothing of a held occurrence reaches the provider"
    wait_for(lambda: Campaign.objects.get(pk=pk).status == CampaignStatus.APPROVED, timeout=10)
    url = f"/api/v1/dispatches/{held.pk}/confirm/"
    assert client_for(marketer).post(url).status_code == 403
    confirmed = client_for(reviewer).post(url)
    assert confirmed.status_code == 200, confirmed.json()
    settled(held, DispatchStatus.SENT)
    assert len(server.app.accepted) == 2
    campaign.refresh_from_db()
    assert (campaign.approved_reach, campaign.reach_limit) == (16, 17)

    # Opt-outs and a suppression: fewer recipients never hold.
    for n in range(3):
        recipient_opt_out(external_id=f"m{n:03d}", provider_kind="jiguang", provider_code="1011")
    AudienceMember.objects.create(audience=campaign.audience, external_id="m003", suppressed=True)
    fewer = settled(bring_due(campaign), DispatchStatus.SENT)
    assert fewer.reach == 15
    assert len(server.app.accepted) == 3

    # Held and never confirmed: expired by the watchdog once its expiry passes.
    join(marketer, 16, 5)  # 20 > 17
    late = settled(bring_due(campaign, ago=EXPIRED_SECONDS - 4), DispatchStatus.HELD)
    settled(late, DispatchStatus.EXPIRED, timeout=25)
    assert "not confirmed before its expiry" in late.detail
    assert len(server.app.accepted) == 3
    assert client_for(reviewer).post(f"/api/v1/dispatches/{late.pk}/confirm/").status_code == 409
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.APPROVED
