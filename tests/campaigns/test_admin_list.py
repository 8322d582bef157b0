"""The campaign list's columns and bulk actions, the delivery list's filter, read-only pages.

The actions run the same services as the single buttons, so they refuse whom and what the
services refuse, campaign by campaign (campaigns/admin/lists.py, ``run_bulk``).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from approvals.services import campaign_submit
from audit.models import AuditEvent
from campaigns.models import Campaign, CampaignStatus, Delivery, Dispatch, DispatchStatus
from tests.approvals.factories import make_campaign, make_template

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:campaigns_campaign_changelist"


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def run_action(user, action: str, campaigns: list[Campaign]):
    return browser(user).post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [c.pk for c in campaigns]},
        follow=True,
    )


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def actions_offered(user) -> set[str]:
    response = browser(user).get(reverse(CHANGELIST))
    assert response.status_code == 200
    return {name for name, _label in response.context["action_form"].fields["action"].choices if name}


@pytest.fixture
def template(db):
    return make_template()


# --- who is offered which action ----------------------------------------------------------


def test_each_role_is_offered_only_the_actions_its_permissions_allow(make_user):
    marketer = make_user("m", "Marketing")
    reviewer = make_user("r", "Reviewers")
    nobody = make_user("n")  # staff, no group: sees no list at all
    make_user("v", "Operators")

    every = {"duplicate_selected", "cancel_selected", "submit_selected", "withdraw_selected"}
    assert every <= actions_offered(marketer)
    offered = actions_offered(reviewer)
    assert "cancel_selected" in offered
    assert not offered & {"duplicate_selected", "submit_selected", "withdraw_selected"}
    assert browser(nobody).get(reverse(CHANGELIST)).status_code == 403


def test_a_forged_action_of_a_user_without_the_permission_is_refused(make_user, template):
    marketer = make_user("m", "Marketing")
    reviewer = make_user("r", "Reviewers")
    draft = make_campaign(marketer, template=template)

    response = run_action(reviewer, "submit_selected", [draft])

    draft.refresh_from_db()
    assert draft.status == CampaignStatus.DRAFT  # the action is not even offered: nothing ran
    assert not any(level == "success" for level, _ in messages_of(response))


# --- duplicate ----------------------------------------------------------------------------


def test_duplicate_makes_a_new_audited_draft_and_leaves_the_original(make_user, template):
    marketer = make_user("m", "Marketing")
    original = make_campaign(marketer, template=template, name="Spring sale",
                             parameters={"name": "A", "pct": "5"})
    campaign_submit(campaign=original, actor=marketer)

    response = run_action(marketer, "duplicate_selected", [original])

    copy = Campaign.objects.exclude(pk=original.pk).get()
    original.refresh_from_db()
    assert original.status == CampaignStatus.IN_REVIEW
    assert copy.status == CampaignStatus.DRAFT
    assert copy.name == "Copy of Spring sale"
    assert copy.parameters == original.parameters
    assert (copy.audience_id, copy.provider_account_id, copy.template_id) == (
        original.audience_id, original.provider_account_id, original.template_id,
    )
    assert copy.created_by == marketer and copy.submitted_hash == "" and copy.approved_hash == ""
    event = AuditEvent.objects.get(campaign=copy, action="duplicate")
    assert event.actor == marketer and event.data == {"source_campaign": original.pk}
    assert ("success", "Duplicated as new drafts: Spring sale.") in messages_of(response)


# --- bulk withdraw, submit, cancel: one refusal does not stop the others ----------------------


def test_bulk_withdraw_reports_each_campaign_and_goes_on_after_a_refusal(make_user, template):
    marketer = make_user("m", "Marketing")
    first = make_campaign(marketer, template=template, name="First")
    draft = make_campaign(marketer, template=template, name="Still a draft")
    last = make_campaign(marketer, template=template, name="Last")
    for campaign in (first, last):
        campaign_submit(campaign=campaign, actor=marketer)

    response = run_action(marketer, "withdraw_selected", [first, draft, last])

    for campaign in (first, draft, last):
        campaign.refresh_from_db()
    assert (first.status, draft.status, last.status) == (CampaignStatus.DRAFT,) * 3
    said = messages_of(response)
    assert ("success", "Withdrawn from review: First, Last.") in said
    refusals = [text for level, text in said if level == "error"]
    assert len(refusals) == 1 and refusals[0].startswith("Still a draft: refused: ")
    withdrawn = AuditEvent.objects.filter(
        action="withdraw", object_type="campaign", campaign__in=(first, last)
    )
    assert withdrawn.count() == 2


def test_bulk_submit_and_cancel_go_through_the_services(make_user, template):
    marketer = make_user("m", "Marketing")
    reviewer = make_user("r", "Reviewers")
    a = make_campaign(marketer, template=template, name="A")
    b = make_campaign(marketer, template=template, name="B")

    run_action(marketer, "submit_selected", [a, b])
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.status == b.status == CampaignStatus.IN_REVIEW
    submitted = AuditEvent.objects.filter(action="submit", object_type="campaign", campaign__in=[a, b])
    assert submitted.count() == 2

    response = run_action(reviewer, "cancel_selected", [a, b])
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.status == b.status == CampaignStatus.CANCELLED
    assert ("success", "Cancelled: A, B.") in messages_of(response)

    again = run_action(reviewer, "cancel_selected", [a])  # cancelled is final: refused, said
    assert [level for level, _ in messages_of(again)] == ["error"]


# --- the list's columns -----------------------------------------------------------------------


def test_the_list_shows_badges_progress_and_the_next_send_in_the_campaigns_zone(make_user, template):
    marketer = make_user("m", "Marketing")
    campaign = make_campaign(marketer, template=template, name="Zoned", timezone="Asia/Shanghai")
    due = dt.datetime(2030, 1, 2, 1, 30, tzinfo=dt.UTC)
    Campaign.objects.filter(pk=campaign.pk).update(next_due_at=due)
    old = Dispatch.objects.create(campaign=campaign, due_at=due - dt.timedelta(days=2), status="sent",
                                  total_requests=9, delivered=9)
    Dispatch.objects.create(campaign=campaign, due_at=due - dt.timedelta(days=1), status=DispatchStatus.SENT,
                            total_requests=4, delivered=2, failed=1)
    Dispatch.objects.create(campaign=campaign, due_at=due, is_preview=True, status="sent", total_requests=1)
    assert old.pk

    page = browser(marketer).get(reverse(CHANGELIST)).content.decode()

    assert 'class="crier-badge " data-status="draft">Draft</span>' in page
    assert '02 Jan 2030</span> <span class="crier-nowrap">Wed 09:30</span>' in page
    assert '<span class="crier-zone">Asia/Shanghai</span>' in page
    assert '<span class="count">3 / 4</span>' in page  # the last real occurrence, not the preview


def test_the_list_costs_the_same_queries_for_many_campaigns(make_user, template, django_assert_max_num_queries):  # noqa: E501
    marketer = make_user("m", "Marketing")
    client = browser(marketer)
    for n in range(2):
        Dispatch.objects.create(campaign=make_campaign(marketer, template=template, name=f"c{n}"),
                                due_at=timezone.now(), status="sent", total_requests=1)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse(CHANGELIST))
    for n in range(20):
        Dispatch.objects.create(campaign=make_campaign(marketer, template=template, name=f"d{n}"),
                                due_at=timezone.now(), status="running", total_requests=1)
    with django_assert_max_num_queries(len(few.captured_queries) + 1):  # +1: the running ones' live counts
        client.get(reverse(CHANGELIST))


# --- deliveries: previews hidden unless asked -----------------------------------------------


def test_the_delivery_list_shows_real_sends_by_default_with_campaign_and_occurrence(make_user, template):
    admin_user = make_user("root", superuser=True)
    campaign = make_campaign(admin_user, template=template, name="Real one")
    due = dt.datetime(2030, 3, 4, 5, 6, tzinfo=dt.UTC)
    real = Dispatch.objects.create(campaign=campaign, due_at=due)
    preview = Dispatch.objects.create(campaign=campaign, due_at=due, is_preview=True)
    Delivery.objects.create(dispatch=real, batch_no=1, idempotency_key="real-key")
    Delivery.objects.create(dispatch=preview, batch_no=1, idempotency_key="preview-key")
    client = browser(admin_user)
    url = reverse("admin:campaigns_delivery_changelist")

    default = client.get(url).content.decode()
    previews = client.get(url, {"send": "preview"}).content.decode()
    everything = client.get(url, {"send": "all"}).content.decode()

    assert "real-key" in default and "preview-key" not in default
    assert "Real one" in default and "2030-03-04 05:06 UTC" in default
    assert "preview-key" in previews and "real-key" not in previews
    assert "preview-key" in everything and "real-key" in everything


# --- read-only pages ------------------------------------------------------------------------


def test_a_campaign_in_review_shows_no_save_buttons_to_whoever_cannot_edit_it(make_user, template):
    marketer = make_user("m", "Marketing")
    reviewer = make_user("r", "Reviewers")
    draft = make_campaign(marketer, template=template)
    url = reverse("admin:campaigns_campaign_change", args=[draft.pk])
    assert 'name="_save"' in browser(marketer).get(url).content.decode()

    campaign_submit(campaign=draft, actor=marketer)

    assert 'name="_save"' not in browser(reviewer).get(url).content.decode()
    assert 'name="_continue"' not in browser(reviewer).get(url).content.decode()
    # Its author may still edit it: saving withdraws it first (approvals.admin asks).
    assert 'name="_continue"' in browser(marketer).get(url).content.decode()
    Campaign.objects.filter(pk=draft.pk).update(status=CampaignStatus.SENT)
    assert 'name="_continue"' not in browser(marketer).get(url).content.decode()
    assert browser(reviewer).post(url, {"name": "changed"}).status_code == 403
