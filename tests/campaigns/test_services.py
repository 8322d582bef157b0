"""The campaign life cycle: transitions, edits, cancellation, previews, approval checks."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from approvals.models import ReviewStatus
from approvals.services import campaign_approve, campaign_submit
from audit.models import AuditEvent
from campaigns.lifecycle import TRANSITIONS, CampaignTransitionError, campaign_transition
from campaigns.models import AudienceMember, Campaign, CampaignStatus, Dispatch, DispatchStatus
from campaigns.previews import campaign_preview
from campaigns.services import (
    campaign_cancel,
    campaign_create,
    campaign_edit,
    campaign_verify_approval,
    campaign_void_if_changed,
)
from campaigns.snapshot import campaign_hash
from tests.approvals.factories import make_account, make_audience, make_campaign, make_template

pytestmark = pytest.mark.django_db
S = CampaignStatus


@pytest.fixture
def sale_template(db):
    return make_template("sale")


@pytest.fixture
def draft(marketer, sale_template) -> Campaign:
    return make_campaign(marketer, template=sale_template)


@pytest.fixture
def approved(draft, marketer, reviewer) -> Campaign:
    campaign_submit(campaign=draft, actor=marketer)
    campaign_approve(campaign=draft, actor=reviewer)
    return draft


# --- the transition table -----------------------------------------------------------------


def test_the_table_follows_the_design_life_cycle():
    assert TRANSITIONS[(S.DRAFT, S.IN_REVIEW)] == "submit"
    assert TRANSITIONS[(S.IN_REVIEW, S.APPROVED)] == "approve"
    assert TRANSITIONS[(S.APPROVED, S.SENDING)] == "start"
    assert TRANSITIONS[(S.SENDING, S.APPROVED)] == "rearm"
    assert {to for (frm, to) in TRANSITIONS if frm == S.SENDING} == {
        S.APPROVED, S.SENT, S.PARTIALLY_FAILED, S.FAILED,
    }
    for final in (S.SENT, S.PARTIALLY_FAILED, S.FAILED, S.CANCELLED):
        assert not [to for (frm, to) in TRANSITIONS if frm == final]


def test_an_illegal_transition_is_an_error_naming_the_states_never_a_no_op(draft):
    with pytest.raises(CampaignTransitionError, match="is draft; it cannot move to sending") as caught:
        campaign_transition(campaign=draft, to=S.SENDING)

    assert caught.value.conflict is True
    draft.refresh_from_db()
    assert draft.status == S.DRAFT


def test_a_stale_instance_loses_the_compare_and_swap(approved):
    stale = Campaign.objects.get(pk=approved.pk)
    campaign_transition(campaign=approved, to=S.SENDING, reason="due")

    with pytest.raises(CampaignTransitionError, match="no longer approved"):
        campaign_transition(campaign=stale, to=S.SENDING)


def test_the_engine_moves_a_recurring_campaign_back_to_approved_and_finally_to_sent(approved):
    due = timezone.now() + timezone.timedelta(days=1)
    campaign_transition(campaign=approved, to=S.SENDING, reason="occurrence due")
    campaign_transition(campaign=approved, to=S.APPROVED, fields={"next_due_at": due})
    assert (approved.status, approved.next_due_at) == (S.APPROVED, due)
    campaign_transition(campaign=approved, to=S.SENDING)
    campaign_transition(campaign=approved, to=S.SENT, reason="last occurrence finished")

    approved.refresh_from_db()
    assert (approved.status, approved.next_due_at) == (S.SENT, None)
    actions = list(
        AuditEvent.objects.filter(campaign=approved, object_type="campaign").values_list("action", flat=True)
    )
    assert actions[-4:] == ["start", "rearm", "start", "finish"]


def test_every_transition_writes_an_audit_event_with_actor_and_states(draft, marketer):
    campaign_submit(campaign=draft, actor=marketer)

    event = AuditEvent.objects.filter(campaign=draft, object_type="campaign").last()
    assert (event.action, event.from_state, event.to_state, event.actor) == (
        "submit", S.DRAFT, S.IN_REVIEW, marketer,
    )


# --- create and edit ------------------------------------------------------------------------


def test_creating_pins_the_current_template_version_and_records_the_author(draft, marketer, sale_template):
    assert draft.status == S.DRAFT
    assert draft.template_version.number == sale_template.version
    assert draft.created_by == marketer
    assert AuditEvent.objects.filter(campaign=draft, action="create", actor=marketer).exists()


def test_creating_with_bad_values_names_each_field(marketer, sale_template):
    with pytest.raises(ValidationError) as caught:
        make_campaign(
            marketer, template=sale_template, priority=7, test_uids=["a", "b", "c", "d", "e", "f"],
            timezone="Mars/Olympus",
        )

    errors = caught.value.message_dict
    assert {"priority", "test_uids", "timezone"} <= set(errors)
    assert "6 ids" in errors["test_uids"][0]
    assert "“Mars/Olympus” is not a time zone" in errors["timezone"][0]


def test_creating_needs_the_add_permission(reviewer, sale_template):
    with pytest.raises(PermissionDenied):
        make_campaign(reviewer, template=sale_template)


def test_creating_with_an_unknown_field_is_refused(marketer, sale_template):
    with pytest.raises(ValidationError) as caught:
        campaign_create(actor=marketer, data={"name": "x", "status": "approved"})
    assert "status" in caught.value.message_dict


def test_editing_a_draft_records_what_changed(draft, marketer):
    campaign_edit(campaign=draft, actor=marketer, changes={"path": "/promo", "name": draft.name})

    event = AuditEvent.objects.filter(campaign=draft, action="edit").get()
    assert event.data["changes"] == {"path": {"from": "", "to": "/promo"}}
    assert draft.path == "/promo"


def test_an_edit_that_changes_nothing_records_nothing(draft, marketer):
    campaign_edit(campaign=draft, actor=marketer, changes={"name": draft.name})

    assert not AuditEvent.objects.filter(campaign=draft, action="edit").exists()


def test_editing_a_campaign_in_review_is_refused_until_withdrawn(draft, marketer):
    campaign_submit(campaign=draft, actor=marketer)

    with pytest.raises(CampaignTransitionError, match="withdraw it from review first"):
        campaign_edit(campaign=draft, actor=marketer, changes={"path": "/x"})


def test_an_edit_after_approval_voids_it_and_returns_the_campaign_to_draft(approved, marketer):
    review = approved.reviews.get()

    campaign_edit(campaign=approved, actor=marketer, changes={"parameters": {"name": "Bob", "pct": "20"}})

    review.refresh_from_db()
    assert review.status == ReviewStatus.VOIDED
    assert (approved.status, approved.approved_hash, approved.next_due_at) == (S.DRAFT, "", None)
    event = AuditEvent.objects.filter(campaign=approved, object_type="campaign").last()
    assert (event.action, event.from_state, event.to_state) == ("edit", S.APPROVED, S.DRAFT)
    assert event.reason.startswith("approval voided")
    assert not campaign_verify_approval(campaign=approved)


def test_changing_the_template_pins_the_new_templates_current_version(draft, marketer):
    other = make_template("other")

    campaign_edit(campaign=draft, actor=marketer, changes={"template": other})

    assert draft.template_version.template == other


def test_a_template_version_of_another_template_is_refused(draft, marketer):
    other = make_template("other")

    with pytest.raises(ValidationError) as caught:
        campaign_edit(campaign=draft, actor=marketer, changes={"template_version": other.versions.get()})
    assert "template_version" in caught.value.message_dict


# --- the approval check ---------------------------------------------------------------------


def test_an_approved_unchanged_campaign_verifies(approved):
    assert campaign_verify_approval(campaign=approved)
    assert campaign_void_if_changed(campaign=approved) is False


def test_an_audience_changed_directly_makes_the_approval_fail_to_verify(approved):
    AudienceMember.objects.create(audience=approved.audience, external_id="u-new")

    assert campaign_verify_approval(campaign=approved) is False


def test_a_suppression_added_directly_does_not_break_the_approval(approved):
    # Issue #14: fewer recipients (opt-outs, suppression) never need a new review.
    AudienceMember.objects.create(audience=approved.audience, external_id="u2", suppressed=True)

    assert campaign_verify_approval(campaign=approved) is True


@pytest.mark.parametrize(
    "change",
    [
        {"settings": {"region": "eu"}},
        {"base_url": "https://elsewhere.example"},
        {"app_id": "app-2"},
    ],
)
def test_a_provider_account_change_breaks_the_approval(approved, change):
    type(approved.provider_account).objects.filter(pk=approved.provider_account_id).update(**change)

    assert campaign_verify_approval(campaign=approved) is False


def test_rotating_credentials_does_not_break_the_approval(approved):
    account = approved.provider_account
    account.set_credentials({"client_id": "new", "private_key": "new-key"})
    account.save()

    assert campaign_verify_approval(campaign=approved)


def test_void_if_changed_returns_a_changed_campaign_to_draft_naming_what_changed(approved, reviewer):
    AudienceMember.objects.create(audience=approved.audience, external_id="u-new")

    assert campaign_void_if_changed(campaign=approved, actor=reviewer) is True

    assert approved.status == S.DRAFT
    event = AuditEvent.objects.filter(campaign=approved, object_type="campaign", action="void").get()
    assert event.reason == "approval voided: audience changed since submission"
    assert event.data["changed"] == ["audience"]
    assert approved.reviews.get().status == ReviewStatus.VOIDED


def test_a_hash_is_stable_for_the_same_content_and_changes_with_it(draft, marketer):
    first = campaign_hash(draft)
    assert campaign_hash(Campaign.objects.get(pk=draft.pk)) == first

    for changes in (
        {"priority": 3},
        {"expired_seconds": 3600},
        {"path": "/elsewhere"},
        {"provider_options": {"customerBelongsTo": "GCASH"}},
        {"test_uids": ["tester-2"]},
        {"timezone": "Asia/Shanghai"},
        {"language": "zh-CN"},
    ):
        campaign_edit(campaign=draft, actor=marketer, changes=changes)
        assert campaign_hash(draft) != first, changes
        first = campaign_hash(draft)


def test_the_campaign_name_is_not_part_of_what_users_receive(draft, marketer):
    before = campaign_hash(draft)
    campaign_edit(campaign=draft, actor=marketer, changes={"name": "Renamed"})
    assert campaign_hash(draft) == before


# --- cancel ---------------------------------------------------------------------------------


def test_cancelling_an_approved_campaign_stops_its_schedule_and_pending_occurrences(approved, marketer):
    pending = Dispatch.objects.create(campaign=approved, due_at=timezone.now())

    campaign_cancel(campaign=approved, actor=marketer, reason="wrong week")

    pending.refresh_from_db()
    assert (approved.status, approved.next_due_at) == (S.CANCELLED, None)
    assert pending.status == DispatchStatus.CANCELLED
    event = AuditEvent.objects.filter(campaign=approved, action="cancel").get()
    assert (event.from_state, event.reason) == (S.APPROVED, "wrong week")


def test_cancelling_a_campaign_in_review_withdraws_its_review(draft, marketer):
    review = campaign_submit(campaign=draft, actor=marketer)

    campaign_cancel(campaign=draft, actor=marketer)

    review.refresh_from_db()
    assert review.status == ReviewStatus.WITHDRAWN


def test_cancelling_while_sending_or_after_the_end_is_a_conflict(approved, marketer):
    campaign_transition(campaign=approved, to=S.SENDING)
    with pytest.raises(CampaignTransitionError, match="is sending"):
        campaign_cancel(campaign=approved, actor=marketer)
    campaign_transition(campaign=approved, to=S.SENT)
    with pytest.raises(CampaignTransitionError, match="is sent"):
        campaign_cancel(campaign=approved, actor=marketer)


def test_cancelling_needs_the_cancel_permission(draft, make_user):
    viewer = make_user("viewer")
    with pytest.raises(PermissionDenied):
        campaign_cancel(campaign=draft, actor=viewer)


# --- previews -------------------------------------------------------------------------------


def test_a_preview_creates_a_preview_dispatch_bound_to_the_content_and_wakes_the_engine(draft, marketer):
    with mock.patch("campaigns.previews.start_preview") as run_preview:
        dispatch = campaign_preview(campaign=draft, actor=marketer)

    assert dispatch.is_preview and dispatch.status == DispatchStatus.PENDING
    assert dispatch.content_hash == campaign_hash(draft)
    assert abs((dispatch.due_at - timezone.now()).total_seconds()) < 5
    run_preview.assert_called_once_with(dispatch.pk)
    assert AuditEvent.objects.filter(campaign=draft, action="preview", actor=marketer).exists()


def test_a_preview_needs_test_uids(draft, marketer):
    campaign_edit(campaign=draft, actor=marketer, changes={"test_uids": []})

    with pytest.raises(ValidationError) as caught:
        campaign_preview(campaign=draft, actor=marketer)
    assert "test_uids" in caught.value.message_dict


def test_previews_are_refused_after_approval(approved, marketer):
    with pytest.raises(CampaignTransitionError, match="only before approval"):
        campaign_preview(campaign=approved, actor=marketer)


def test_a_reviewer_may_preview_a_campaign_in_review(draft, marketer, reviewer):
    campaign_submit(campaign=draft, actor=marketer)
    with mock.patch("campaigns.previews.start_preview"):
        dispatch = campaign_preview(campaign=draft, actor=reviewer)
    assert dispatch.content_hash == draft.submitted_hash


def test_a_user_list_on_a_broadcast_only_provider_cannot_be_submitted(marketer, sale_template):
    campaign = make_campaign(
        marketer, template=sale_template, provider_account=make_account("binance"),
        audience=make_audience("users"),
    )

    with pytest.raises(ValidationError) as caught:
        campaign_submit(campaign=campaign, actor=marketer)
    assert "audience" in caught.value.message_dict


def test_a_preview_through_a_provider_without_a_preview_audience_is_refused(marketer, sale_template):
    campaign = make_campaign(
        marketer, template=sale_template, provider_account=make_account("mpaas"),
        audience=make_audience("all"),
    )

    with pytest.raises(ValidationError) as caught:
        campaign_preview(campaign=campaign, actor=marketer)
    assert "has no preview audience" in caught.value.message_dict["test_uids"][0]


def test_a_campaign_that_can_no_longer_be_built_hashes_to_something_no_approval_holds(approved):
    Campaign.objects.filter(pk=approved.pk).update(parameters={})
    approved.refresh_from_db()

    assert campaign_hash(approved) != approved.approved_hash  # no exception: the engine refuses
    assert campaign_verify_approval(campaign=approved) is False
    assert campaign_void_if_changed(campaign=approved) is True
    event = AuditEvent.objects.filter(campaign=approved, object_type="campaign", action="void").get()
    assert "can no longer be built" in event.reason and "pct" in event.reason
