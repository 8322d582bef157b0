"""The admin: reviewer queue, review page, transition buttons, editing through the services."""

from __future__ import annotations

from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse

from approvals.models import ReviewStatus
from approvals.services import campaign_approve, campaign_submit
from audit.models import AuditEvent
from campaigns.models import Campaign, CampaignStatus
from tests.approvals.factories import make_account, make_audience

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def review_url(campaign) -> str:
    return reverse("admin:campaigns_campaign_review", args=[campaign.pk])


def transition_url(campaign, action: str) -> str:
    return reverse("admin:campaigns_campaign_transition", args=[campaign.pk, action])


def change_url(campaign) -> str:
    return reverse("admin:campaigns_campaign_change", args=[campaign.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- the reviewer queue -------------------------------------------------------------------


def test_queue_lists_what_awaits_my_review_and_not_my_own_submissions(draft, marketer, reviewer, make_user):
    both = make_user("both", "Marketing", "Reviewers")
    campaign_submit(campaign=draft, actor=both)

    theirs = browser(reviewer).get(reverse("admin:campaigns_campaign_review_queue"))
    mine = browser(both).get(reverse("admin:campaigns_campaign_review_queue"))

    assert theirs.status_code == 200
    assert review_url(draft) in theirs.content.decode()
    assert review_url(draft) not in mine.content.decode()
    assert "Nothing awaits your review" in mine.content.decode()


def test_changelist_links_to_the_queue_with_a_count(draft, marketer, reviewer):
    campaign_submit(campaign=draft, actor=marketer)

    page = browser(reviewer).get(reverse("admin:campaigns_campaign_changelist")).content.decode()

    assert "Awaiting my review (1)" in page


# --- the review page ------------------------------------------------------------------------


def test_review_page_shows_what_will_be_sent_and_the_approve_button(draft, marketer, reviewer):
    campaign_submit(campaign=draft, actor=marketer)

    response = browser(reviewer).get(review_url(draft))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Save 20% today" in page and "今天省 20%" in page  # every language, rendered
    assert "Hello Ada" in page
    assert "TP_5800000001" in page and "&quot;templateCode&quot;" in page  # the request body
    assert "Listed ids</th><td>3" in page  # the audience
    assert "as soon as approved" in page  # the schedule
    assert 'value="approve"' in page and 'value="reject"' in page


def test_review_page_has_no_approve_button_for_the_submitter(draft, make_user):
    both = make_user("both", "Marketing", "Reviewers")
    campaign_submit(campaign=draft, actor=both)

    page = browser(both).get(review_url(draft)).content.decode()

    assert 'value="approve"' not in page
    assert "four-eyes rule" in page


def test_posting_a_self_approval_through_the_admin_is_refused(draft, make_user):
    both = make_user("both", "Marketing", "Reviewers")
    campaign_submit(campaign=draft, actor=both)

    response = browser(both).post(review_url(draft), {"decision": "approve", "comment": "mine"}, follow=True)

    draft.refresh_from_db()
    assert draft.status == CampaignStatus.IN_REVIEW
    assert any("four-eyes rule" in m for m in messages_of(response))


def test_a_non_reviewer_posting_approve_is_refused(draft, marketer, make_user):
    campaign_submit(campaign=draft, actor=marketer)
    colleague = make_user("colleague", "Marketing")

    response = browser(colleague).post(review_url(draft), {"decision": "approve"}, follow=True)

    draft.refresh_from_db()
    assert draft.status == CampaignStatus.IN_REVIEW
    assert any("campaigns.approve_campaign" in m for m in messages_of(response))


def test_a_reviewer_approves_from_the_review_page(draft, marketer, reviewer):
    campaign_submit(campaign=draft, actor=marketer)

    decision = {"decision": "approve", "comment": "ok"}
    response = browser(reviewer).post(review_url(draft), decision, follow=True)

    draft.refresh_from_db()
    assert draft.status == CampaignStatus.APPROVED
    assert any("approved" in m for m in messages_of(response))


def test_rejecting_from_the_review_page_needs_a_comment(draft, marketer, reviewer):
    campaign_submit(campaign=draft, actor=marketer)
    client = browser(reviewer)

    response = client.post(review_url(draft), {"decision": "reject", "comment": "  "}, follow=True)
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.IN_REVIEW
    # The error is shown by the comment box (not at the top), with what was typed kept.
    assert response.status_code == 400
    assert not messages_of(response)
    page = response.content.decode()
    error_at = page.index('id="comment-error"')
    assert "a rejection must tell the author what to change" in page[error_at:page.index("</span>", error_at)]
    assert error_at < page.index('<textarea name="comment" id="id_comment"') < error_at + 400
    assert 'aria-invalid="true"' in page

    client.post(review_url(draft), {"decision": "reject", "comment": "wrong discount"})
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.REJECTED


def test_review_page_explains_that_binance_accepts_for_its_own_review(broadcast, marketer, reviewer):
    campaign_submit(campaign=broadcast, actor=marketer)

    page = browser(reviewer).get(review_url(broadcast)).content.decode()

    assert "accepted for Binance review" in page
    assert "known only to the provider" in page


def test_opening_the_review_page_voids_a_review_whose_content_changed(draft, marketer, reviewer):
    review = campaign_submit(campaign=draft, actor=marketer)
    draft.audience.members.create(external_id="sneaked-in")

    response = browser(reviewer).get(review_url(draft), follow=True)

    review.refresh_from_db()
    assert review.status == ReviewStatus.VOIDED
    assert any("changed since it was submitted" in m for m in messages_of(response))
    assert 'value="approve"' not in response.content.decode()


# --- the change page ------------------------------------------------------------------------


def test_change_page_shows_only_the_buttons_the_user_may_press(draft, marketer, reviewer):
    marketer_page = browser(marketer).get(change_url(draft)).content.decode()
    reviewer_page = browser(reviewer).get(change_url(draft)).content.decode()

    assert transition_url(draft, "submit") in marketer_page
    assert transition_url(draft, "preview") in marketer_page
    assert transition_url(draft, "cancel") in marketer_page
    assert transition_url(draft, "submit") not in reviewer_page
    assert 'name="status"' not in marketer_page  # status is never editable


def test_buttons_submit_and_withdraw_through_the_services(draft, marketer):
    client = browser(marketer)

    client.post(transition_url(draft, "submit"))
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.IN_REVIEW
    page = client.get(change_url(draft)).content.decode()
    assert transition_url(draft, "withdraw") in page and transition_url(draft, "submit") not in page

    client.post(transition_url(draft, "withdraw"))
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.DRAFT


def test_a_refused_button_shows_the_reason(draft, reviewer):
    response = browser(reviewer).post(transition_url(draft, "submit"), follow=True)

    draft.refresh_from_db()
    assert draft.status == CampaignStatus.DRAFT
    assert any("campaigns.submit_campaign" in m for m in messages_of(response))


def test_the_preview_button_hands_a_preview_to_the_engine(draft, marketer):
    with mock.patch("campaigns.previews.start_preview") as run_preview:
        browser(marketer).post(transition_url(draft, "preview"))

    dispatch = draft.dispatches.get()
    assert dispatch.is_preview
    run_preview.assert_called_once_with(dispatch.pk)


def test_the_change_page_shows_the_audit_trail(draft, marketer, reviewer):
    campaign_submit(campaign=draft, actor=marketer)

    page = browser(reviewer).get(change_url(draft)).content.decode()

    assert "Audit trail" in page or "audit trail" in page
    assert "submit" in page


def _form_data(campaign: Campaign, **overrides) -> dict:
    data = {
        "name": campaign.name,
        "template": campaign.template_id,
        "template_version": campaign.template_version_id,
        "provider_account": campaign.provider_account_id,
        "audience": campaign.audience_id,
        "language": campaign.language,
        "parameters": '{"name": "Ada", "pct": "20"}',
        "path": campaign.path,
        "provider_options": "{}",
        "priority": campaign.priority,
        "expired_seconds": campaign.expired_seconds,
        "test_uids": '["tester-1"]',
        "schedule_kind": campaign.schedule_kind,
        "circle_value": "[]",
        "cron": "",
        "timezone": campaign.timezone,
        "audit_events-TOTAL_FORMS": "0",
        "audit_events-INITIAL_FORMS": "0",
        "audit_events-MIN_NUM_FORMS": "0",
        "audit_events-MAX_NUM_FORMS": "0",
        "_save": "Save",
    }
    data.update(overrides)
    return data


def test_adding_a_campaign_in_the_admin_goes_through_the_service(draft, marketer):
    response = browser(marketer).post(
        reverse("admin:campaigns_campaign_add"), _form_data(draft, name="Added in the admin")
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    added = Campaign.objects.get(name="Added in the admin")
    assert added.created_by == marketer
    assert added.template_version == draft.template_version
    assert AuditEvent.objects.filter(campaign=added, action="create", actor=marketer).exists()


def test_editing_an_approved_campaign_in_the_admin_voids_the_approval(draft, marketer, reviewer):
    campaign_submit(campaign=draft, actor=marketer)
    campaign_approve(campaign=draft, actor=reviewer)

    confirmed = _form_data(draft, path="/changed", confirm_withdraw="1")
    response = browser(marketer).post(change_url(draft), confirmed)

    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.status, draft.path, draft.approved_hash) == (CampaignStatus.DRAFT, "/changed", "")
    event = AuditEvent.objects.filter(campaign=draft, object_type="campaign").last()
    assert (event.action, event.actor, event.from_state) == ("edit", marketer, CampaignStatus.APPROVED)


def test_a_bad_value_in_the_admin_form_is_a_field_error_not_a_crash(draft, marketer):
    six_uids = '["1","2","3","4","5","6"]'
    response = browser(marketer).post(change_url(draft), _form_data(draft, test_uids=six_uids))

    assert response.status_code == 200
    assert "test_uids" in response.context["adminform"].form.errors


def test_a_campaign_in_review_is_read_only_for_whoever_may_not_withdraw_it(draft, marketer, reviewer):
    campaign_submit(campaign=draft, actor=marketer)

    page = browser(reviewer).get(change_url(draft)).content.decode()

    assert 'name="name"' not in page and 'name="parameters"' not in page


# --- honest editing: saving an approved or in-review campaign is confirmed first ---------------


def test_the_change_page_of_an_approved_campaign_warns_before_any_save(draft, marketer, reviewer):
    campaign_submit(campaign=draft, actor=marketer)
    campaign_approve(campaign=draft, actor=reviewer)

    page = browser(marketer).get(change_url(draft)).content.decode()

    assert 'id="withdraw-note"' in page
    assert "Saving withdraws the approval; the campaign must be reviewed again." in page


def test_saving_an_approved_campaign_without_confirmation_saves_nothing_and_asks(draft, marketer, reviewer):
    campaign_submit(campaign=draft, actor=marketer)
    campaign_approve(campaign=draft, actor=reviewer)

    response = browser(marketer).post(change_url(draft), _form_data(draft, path="/changed"))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="withdraw-confirm"' in page
    assert "Saving withdraws the approval; the campaign must be reviewed again." in page
    assert 'name="confirm_withdraw"' in page and "Save anyway" in page and 'id="withdraw-cancel"' in page
    assert 'value="/changed"' in page  # the edit is kept in the form for "Save anyway"
    draft.refresh_from_db()
    assert (draft.status, draft.path) == (CampaignStatus.APPROVED, "")


def test_save_anyway_saves_returns_it_to_draft_and_says_so(draft, marketer, reviewer):
    campaign_submit(campaign=draft, actor=marketer)
    campaign_approve(campaign=draft, actor=reviewer)

    response = browser(marketer).post(
        change_url(draft), _form_data(draft, path="/changed", confirm_withdraw="1"), follow=True
    )

    draft.refresh_from_db()
    assert (draft.status, draft.path) == (CampaignStatus.DRAFT, "/changed")
    assert response.redirect_chain[-1][0] == change_url(draft)
    assert any(
        "was returned to draft: its approval was withdrawn; submit it for review again" in m
        for m in messages_of(response)
    )
    assert not any("changed successfully" in m for m in messages_of(response))


def test_saving_an_unchanged_approved_campaign_needs_no_confirmation(draft, marketer, reviewer):
    campaign_submit(campaign=draft, actor=marketer)
    campaign_approve(campaign=draft, actor=reviewer)

    response = browser(marketer).post(change_url(draft), _form_data(draft))

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.APPROVED


def test_a_campaign_in_review_is_edited_only_after_confirming_its_withdrawal(draft, marketer):
    campaign_submit(campaign=draft, actor=marketer)
    client = browser(marketer)

    asked = client.post(change_url(draft), _form_data(draft, path="/changed"))
    draft.refresh_from_db()
    assert asked.status_code == 200 and draft.status == CampaignStatus.IN_REVIEW
    assert "Saving withdraws the campaign from review" in asked.content.decode()

    confirmed = _form_data(draft, path="/changed", confirm_withdraw="1")
    done = client.post(change_url(draft), confirmed, follow=True)

    draft.refresh_from_db()
    assert (draft.status, draft.path) == (CampaignStatus.DRAFT, "/changed")
    assert draft.reviews.get().status == ReviewStatus.WITHDRAWN
    assert any("was withdrawn from review; submit it for review again" in m for m in messages_of(done))


def test_a_rejected_campaign_shows_the_reviewers_reason_at_the_top(draft, marketer, reviewer):
    from approvals.services import campaign_reject

    campaign_submit(campaign=draft, actor=marketer)
    campaign_reject(campaign=draft, actor=reviewer, comment="Say 25%, not 20%")

    page = browser(marketer).get(change_url(draft)).content.decode()

    assert 'id="rejection-banner"' in page
    assert "Say 25%, not 20%" in page and "<strong>reviewer</strong>" in page
    assert page.index('id="rejection-banner"') < page.index('id="campaign_form"')


def test_audit_events_cannot_be_changed_or_deleted_in_the_admin(draft, make_user):
    boss = make_user("boss", superuser=True)
    event = AuditEvent.objects.filter(campaign=draft).first()
    client = browser(boss)

    assert client.get(reverse("admin:audit_auditevent_change", args=[event.pk])).status_code == 200
    assert client.post(reverse("admin:audit_auditevent_delete", args=[event.pk])).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_a_user_list_for_binance_shows_the_problem_on_the_review_page(marketer, template):
    from tests.approvals.factories import make_campaign

    campaign = make_campaign(
        marketer, template=template, provider_account=make_account("binance"), audience=make_audience("users")
    )

    page = browser(marketer).get(review_url(campaign)).content.decode()

    assert "only broadcasts to everyone" in page


def test_the_api_says_in_warnings_that_an_edit_withdrew_the_approval(draft, marketer, reviewer):
    from rest_framework.test import APIClient

    campaign_submit(campaign=draft, actor=marketer)
    campaign_approve(campaign=draft, actor=reviewer)
    api = APIClient()
    api.force_authenticate(marketer)

    body = api.patch(f"/api/v1/campaigns/{draft.pk}/", {"path": "/changed"}, format="json").json()
    again = api.patch(f"/api/v1/campaigns/{draft.pk}/", {"path": "/changed-again"}, format="json").json()

    assert body["status"] == "draft"
    assert body["warnings"] == [
        f"campaign {draft.pk} was returned to draft: its approval was withdrawn; submit it for review again"
    ]
    assert (again["status"], again["warnings"]) == ("draft", [])  # a draft's edit withdraws nothing
