"""Approving a campaign whose volume has warnings: the API answers 409 with them until the
reviewer acknowledges them, the command needs --acknowledge-warnings, and the audit trail
names what was acknowledged."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.services import campaign_submit
from audit.models import AuditEvent
from campaigns.models import CampaignStatus
from tests.approvals.factories import make_account, make_audience, make_campaign

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def every_minute(marketer, template):
    """A cron every minute for three weeks, Jiguang to three listed ids, in review."""
    today = timezone.now().date()
    campaign = make_campaign(
        marketer,
        template=template,
        provider_account=make_account("jiguang"),
        audience=make_audience("users"),
        schedule_kind="cron",
        cron="* * * * *",
        start_date=today + dt.timedelta(days=1),
        end_date=today + dt.timedelta(days=21),
        timezone="UTC",
    )
    campaign_submit(campaign=campaign, actor=marketer)
    return campaign


def test_approve_answers_409_with_the_warnings_and_records_nothing(every_minute, reviewer):
    before = AuditEvent.objects.count()

    response = client_for(reviewer).post(f"/api/v1/campaigns/{every_minute.pk}/approve/", {}, format="json")

    assert response.status_code == 409
    body = response.json()
    (warning,) = [w for w in body["warnings"] if w["code"] == "occurrences_per_hour"]
    assert warning["value"] == 60 and warning["limit"] == 1
    assert "acknowledge" in body["detail"]
    every_minute.refresh_from_db()
    assert every_minute.status == CampaignStatus.IN_REVIEW
    assert AuditEvent.objects.count() == before
    assert not every_minute.reviews.get().decisions.exists()


def test_acknowledging_approves_and_the_audit_names_the_warnings(every_minute, reviewer):
    response = client_for(reviewer).post(
        f"/api/v1/campaigns/{every_minute.pk}/approve/",
        {"comment": "read the volume", "acknowledge_warnings": True},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == CampaignStatus.APPROVED
    decision = AuditEvent.objects.get(object_type="review_decision", action="approve")
    codes = [w["code"] for w in decision.data["acknowledged_warnings"]]
    assert "occurrences_per_hour" in codes
    approval = AuditEvent.objects.get(object_type="campaign", action="approve")
    assert [w["code"] for w in approval.data["acknowledged_warnings"]] == codes
    assert approval.reason == "read the volume"


def test_acknowledge_warnings_must_be_a_boolean(every_minute, reviewer):
    response = client_for(reviewer).post(
        f"/api/v1/campaigns/{every_minute.pk}/approve/", {"acknowledge_warnings": "perhaps"}, format="json"
    )
    assert response.status_code == 400
    assert "acknowledge_warnings" in response.json()


def test_a_campaign_without_warnings_needs_no_acknowledgement(draft, marketer, reviewer):
    campaign_submit(campaign=draft, actor=marketer)

    response = client_for(reviewer).post(f"/api/v1/campaigns/{draft.pk}/approve/", {}, format="json")

    assert response.status_code == 200
    decision = AuditEvent.objects.get(object_type="review_decision", action="approve")
    assert "acknowledged_warnings" not in decision.data


def test_the_command_needs_acknowledge_warnings(every_minute, reviewer):
    with pytest.raises(CommandError, match="--acknowledge-warnings"):
        call_command("approve_campaign", every_minute.pk, "--as", "reviewer")
    every_minute.refresh_from_db()
    assert every_minute.status == CampaignStatus.IN_REVIEW

    call_command("approve_campaign", every_minute.pk, "--as", "reviewer", "--acknowledge-warnings")

    every_minute.refresh_from_db()
    assert every_minute.status == CampaignStatus.APPROVED
    assert AuditEvent.objects.filter(
        object_type="review_decision", action="approve", data__has_key="acknowledged_warnings"
    ).exists()


def test_the_review_page_shows_the_total_and_asks_for_the_acknowledgement(every_minute, reviewer):
    client = Client()
    client.force_login(reviewer)
    url = reverse("admin:campaigns_campaign_review", args=[every_minute.pk])

    page = client.get(url).content.decode()

    assert 'id="review-volume"' in page and "more than" in page and "occurrences" in page
    assert 'data-code="occurrences_per_hour"' in page
    assert 'name="acknowledge_warnings"' in page

    refused = client.post(url, {"decision": "approve", "comment": ""}, follow=True)
    every_minute.refresh_from_db()
    assert every_minute.status == CampaignStatus.IN_REVIEW
    assert any("acknowledge" in str(m) for m in refused.context["messages"])

    client.post(url, {"decision": "approve", "comment": "", "acknowledge_warnings": "on"})
    every_minute.refresh_from_db()
    assert every_minute.status == CampaignStatus.APPROVED


def test_the_form_preview_answers_totals_for_the_chosen_audience_and_account(reviewer, marketer):
    account, audience = make_account("jiguang"), make_audience("users")
    client = Client()
    client.force_login(marketer)
    today = timezone.now().date()
    query = {
        "schedule_kind": "cron", "cron": "0 9 * * *", "timezone": "UTC",
        "start_date": str(today + dt.timedelta(days=1)), "end_date": str(today + dt.timedelta(days=10)),
        "audience": audience.pk, "provider_account": account.pk,
    }

    volume = client.get(reverse("admin:campaigns_campaign_schedule_preview"), query).json()["volume"]

    assert (volume["occurrences"], volume["reach"], volume["messages"], volume["requests"]) == (10, 3, 30, 10)
    assert volume["warnings"] == []
    assert volume["summary"] == "10 occurrences × 3 recipients = 30 messages in 10 provider requests."

    query["cron"] = "*/30 * * * *"
    volume = client.get(reverse("admin:campaigns_campaign_schedule_preview"), query).json()["volume"]
    assert [w["code"] for w in volume["warnings"]] == ["occurrences_per_hour"]
