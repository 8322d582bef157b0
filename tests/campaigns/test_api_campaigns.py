"""The campaigns REST API: CRUD through the services, transitions, 400/403/409 mapping."""

from __future__ import annotations

from unittest import mock

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.models import ReviewStatus
from campaigns.models import AudienceMember, Campaign, CampaignStatus
from tests.approvals.factories import make_account, make_audience, make_campaign
from tests.campaigns.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(marketer, sale_template, account, audience) -> Campaign:
    return make_campaign(marketer, template=sale_template, provider_account=account, audience=audience)


def submit(campaign, user) -> None:
    response = client_for(user).post(f"/api/v1/campaigns/{campaign.pk}/submit/")
    assert response.status_code == 200, response.json()


# --- CRUD ---------------------------------------------------------------------------------


def test_marketer_creates_a_draft_with_a_nested_schedule(marketer, payload, sale_template):
    response = client_for(marketer).post("/api/v1/campaigns/", payload, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "draft"
    assert body["template_version"] == sale_template.version
    assert body["schedule"]["kind"] == "now" and body["schedule"]["timezone"] == "Europe/Berlin"
    assert body["approvals"] is None
    assert body["next_occurrences"] == []
    campaign = Campaign.objects.get(pk=body["id"])
    assert campaign.created_by == marketer and campaign.timezone == "Europe/Berlin"


def test_a_recurring_schedule_lists_its_next_occurrences(marketer, payload):
    today = timezone.localdate()
    payload["schedule"] = {
        "kind": "recurring", "circle_type": 1, "time": "09:00:00", "timezone": "UTC",
        "start_date": today.isoformat(), "end_date": (today + timezone.timedelta(days=30)).isoformat(),
    }

    body = client_for(marketer).post("/api/v1/campaigns/", payload, format="json").json()

    assert len(body["next_occurrences"]) == 5
    assert all(moment.endswith("09:00:00+00:00") for moment in body["next_occurrences"])


def test_bad_input_is_400_with_field_errors(marketer, payload):
    payload.update(priority=9, test_uids=["a", "b", "c", "d", "e", "f"], template=999999)
    payload["schedule"] = {"kind": "weekly"}

    response = client_for(marketer).post("/api/v1/campaigns/", payload, format="json")

    assert response.status_code == 400
    assert {"priority", "test_uids", "template", "schedule"} <= set(response.json())


def test_a_model_rule_from_the_service_is_also_a_400_naming_the_field(marketer, payload):
    payload["schedule"] = {"kind": "once", "timezone": "Nowhere/Land"}

    response = client_for(marketer).post("/api/v1/campaigns/", payload, format="json")

    assert response.status_code == 400
    assert "“Nowhere/Land” is not a time zone" in response.json()["timezone"][0]


def test_a_reviewer_cannot_create_campaigns(reviewer, payload):
    assert client_for(reviewer).post("/api/v1/campaigns/", payload, format="json").status_code == 403


def test_anonymous_requests_are_refused(payload):
    assert APIClient().get("/api/v1/campaigns/").status_code in (401, 403)


def test_list_filters_by_status_and_retrieve_shows_one(marketer, draft):
    client = client_for(marketer)

    assert [c["id"] for c in client.get("/api/v1/campaigns/?status=draft").json()["results"]] == [draft.pk]
    assert client.get("/api/v1/campaigns/?status=approved").json()["results"] == []
    assert client.get(f"/api/v1/campaigns/{draft.pk}/").json()["name"] == draft.name


def test_patch_goes_through_campaign_edit_and_is_audited(marketer, draft):
    response = client_for(marketer).patch(
        f"/api/v1/campaigns/{draft.pk}/", {"path": "/new", "schedule": {"timezone": "Asia/Shanghai"}},
        format="json",
    )

    assert response.status_code == 200, response.json()
    draft.refresh_from_db()
    assert (draft.path, draft.timezone, draft.schedule_kind) == ("/new", "Asia/Shanghai", "now")
    events = client_for(marketer).get(f"/api/v1/campaigns/{draft.pk}/audit/").json()["results"]
    assert events[-1]["action"] == "edit"
    assert set(events[-1]["data"]["changes"]) == {"path", "timezone"}


def test_editing_an_approved_campaign_over_the_api_voids_its_approval(marketer, reviewer, draft):
    submit(draft, marketer)
    client_for(reviewer).post(f"/api/v1/campaigns/{draft.pk}/approve/", {"comment": "ok"}, format="json")

    body = client_for(marketer).patch(
        f"/api/v1/campaigns/{draft.pk}/", {"parameters": {"name": "Bob", "pct": "20"}}, format="json"
    ).json()

    assert body["status"] == "draft"
    assert body["approvals"]["status"] == ReviewStatus.VOIDED


def test_there_is_no_delete(marketer, draft):
    assert client_for(marketer).delete(f"/api/v1/campaigns/{draft.pk}/").status_code == 405


# --- transitions ------------------------------------------------------------------------------


def test_submit_then_approve_over_the_api(marketer, reviewer, draft):
    submit(draft, marketer)

    response = client_for(reviewer).post(
        f"/api/v1/campaigns/{draft.pk}/approve/", {"comment": "fine"}, format="json"
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "approved"
    assert body["approvals"]["approved_by"] == ["reviewer"]
    assert body["next_occurrences"] and body["next_due_at"]


def test_self_approval_over_the_api_is_403(make_user, draft):
    both = make_user("both", "Marketing", "Reviewers")
    submit(draft, both)

    response = client_for(both).post(f"/api/v1/campaigns/{draft.pk}/approve/", {}, format="json")

    assert response.status_code == 403
    assert "four-eyes rule" in response.json()["detail"]


def test_a_non_reviewer_approving_is_403(marketer, make_user, draft):
    submit(draft, marketer)
    colleague = make_user("colleague", "Marketing")

    response = client_for(colleague).post(f"/api/v1/campaigns/{draft.pk}/approve/", {}, format="json")

    assert response.status_code == 403
    assert "campaigns.approve_campaign" in response.json()["detail"]


def test_approving_a_draft_is_409_with_a_message(reviewer, draft):
    response = client_for(reviewer).post(f"/api/v1/campaigns/{draft.pk}/approve/", {}, format="json")

    assert response.status_code == 409
    assert "only a campaign in review can be approved" in response.json()["detail"]


def test_reject_without_a_comment_is_400_on_comment(marketer, reviewer, draft):
    submit(draft, marketer)

    response = client_for(reviewer).post(f"/api/v1/campaigns/{draft.pk}/reject/", {}, format="json")

    assert response.status_code == 400
    assert "comment" in response.json()


def test_reject_with_a_comment_then_withdraw_is_409(marketer, reviewer, draft):
    submit(draft, marketer)

    response = client_for(reviewer).post(
        f"/api/v1/campaigns/{draft.pk}/reject/", {"comment": "name the products"}, format="json"
    )
    assert response.json()["status"] == "rejected"
    assert client_for(marketer).post(f"/api/v1/campaigns/{draft.pk}/withdraw/").status_code == 409


def test_withdraw_and_cancel(marketer, draft):
    submit(draft, marketer)
    client = client_for(marketer)

    assert client.post(f"/api/v1/campaigns/{draft.pk}/withdraw/").json()["status"] == "draft"
    cancel = f"/api/v1/campaigns/{draft.pk}/cancel/"
    body = client.post(cancel, {"reason": "not needed"}, format="json").json()
    assert body["status"] == "cancelled"
    assert client.post(f"/api/v1/campaigns/{draft.pk}/submit/").status_code == 409


def test_submitting_an_invalid_campaign_is_400_with_field_errors(marketer, draft):
    Campaign.objects.filter(pk=draft.pk).update(parameters={"name": "Ada"})

    response = client_for(marketer).post(f"/api/v1/campaigns/{draft.pk}/submit/")

    assert response.status_code == 400
    assert "pct" in str(response.json())


def test_broadcast_needs_two_reviewers_over_the_api(marketer, reviewer, reviewer2, sale_template):
    campaign = make_campaign(
        marketer, template=sale_template, provider_account=make_account("binance"),
        audience=make_audience("all"),
    )
    submit(campaign, marketer)

    first = client_for(reviewer).post(f"/api/v1/campaigns/{campaign.pk}/approve/", {}, format="json").json()
    assert first["status"] == "in_review"
    assert first["approvals"]["required"] == 2
    assert client_for(reviewer).post(f"/api/v1/campaigns/{campaign.pk}/approve/").status_code == 409
    second = client_for(reviewer2).post(f"/api/v1/campaigns/{campaign.pk}/approve/").json()
    assert second["status"] == "approved"
    assert second["approvals"]["approved_by"] == ["reviewer", "reviewer2"]


def test_an_audience_change_during_review_makes_approve_409_and_returns_to_draft(marketer, reviewer, draft):
    submit(draft, marketer)
    AudienceMember.objects.create(audience=draft.audience, external_id="late-addition")

    response = client_for(reviewer).post(f"/api/v1/campaigns/{draft.pk}/approve/")

    assert response.status_code == 409
    assert "audience changed" in response.json()["detail"]
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.DRAFT


def test_preview_is_accepted_and_handed_to_the_engine(marketer, draft):
    with mock.patch("campaigns.previews.start_preview") as run_preview:
        response = client_for(marketer).post(f"/api/v1/campaigns/{draft.pk}/preview/")

    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "pending"
    run_preview.assert_called_once_with(response.json()["id"])


def test_audit_lists_the_campaign_trail_with_hashes(marketer, reviewer, draft):
    submit(draft, marketer)

    events = client_for(reviewer).get(f"/api/v1/campaigns/{draft.pk}/audit/").json()["results"]

    assert [e["action"] for e in events] == ["create", "open", "submit"]
    assert events[1]["prev_hash"] == events[0]["hash"]
    assert events[2]["actor"] == "marketer"
