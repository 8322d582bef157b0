"""Four-eyes review: submit, approve, reject, withdraw, quorum, snapshot binding."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings
from django.utils import timezone

from approvals.models import Review, ReviewStatus
from approvals.rules import approval_blockers, campaigns_awaiting_review, user_may_approve
from approvals.services import (
    ApprovalVoided,
    ReviewConflict,
    campaign_approve,
    campaign_reject,
    campaign_submit,
    campaign_withdraw,
)
from audit.models import AuditEvent
from campaigns.lifecycle import CampaignTransitionError
from campaigns.models import AudienceMember, Campaign, CampaignStatus, Dispatch, DispatchStatus
from campaigns.services import campaign_edit, campaign_verify_approval
from campaigns.snapshot import campaign_hash
from tests.approvals.factories import make_account, make_audience, make_campaign

pytestmark = pytest.mark.django_db


def test_a_submission_renders_the_message_once(draft, marketer):
    """Submit renders each language once: the field rules' provider option checks, the
    provider's checks and the snapshot all take the message the submission built."""
    from unittest import mock

    import templates_registry.rendering as rendering

    with mock.patch.object(rendering, "render_version", wraps=rendering.render_version) as render:
        review = campaign_submit(campaign=draft, actor=marketer)

    assert render.call_count == len(draft.template_version.variants) == len(review.snapshot["messages"]) == 2


def test_submitting_freezes_the_snapshot_and_its_hash_on_a_review(draft, marketer):
    review = campaign_submit(campaign=draft, actor=marketer)

    assert draft.status == CampaignStatus.IN_REVIEW
    assert review.status == ReviewStatus.PENDING
    assert review.content_hash == draft.submitted_hash == campaign_hash(draft)
    assert [m["body"] for m in review.snapshot["messages"]] == ["Save 20% today", "今天省 20%"]
    assert review.snapshot["requests"][0]["templateCode"] == "TP_5800000001"
    assert review.snapshot["audience"]["members"]["count"] == 3
    assert review.approvals_required == 1


def test_snapshot_never_contains_credentials(draft, marketer):
    account = draft.provider_account
    account.set_credentials({"client_id": "cid", "private_key": "very-secret-key"})
    account.save()

    review = campaign_submit(campaign=draft, actor=marketer)

    assert "very-secret-key" not in str(review.snapshot)


def test_submitting_needs_the_submit_permission(draft, reviewer):
    with pytest.raises(PermissionDenied, match="campaigns.submit_campaign"):
        campaign_submit(campaign=draft, actor=reviewer)


def test_submitting_twice_is_a_conflict(draft, marketer):
    campaign_submit(campaign=draft, actor=marketer)

    with pytest.raises(CampaignTransitionError, match="only a draft can be submitted"):
        campaign_submit(campaign=draft, actor=marketer)


def test_submitting_a_campaign_with_a_missing_parameter_names_the_field(draft, marketer):
    # Every save refuses a missing value now (one validation path, admin and API)...
    with pytest.raises(ValidationError) as refused:
        campaign_edit(campaign=draft, actor=marketer, changes={"parameters": {"name": "Ada"}})
    assert "pct" in str(refused.value.message_dict["parameters"])
    # ...and submit still refuses a draft stored without it (e.g. saved before that rule).
    Campaign.objects.filter(pk=draft.pk).update(parameters={"name": "Ada"})
    draft.refresh_from_db()

    with pytest.raises(ValidationError) as caught:
        campaign_submit(campaign=draft, actor=marketer)

    assert "pct" in str(caught.value.message_dict)
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.DRAFT


def test_submitting_a_schedule_in_the_past_is_refused_with_field_errors(draft, marketer):
    campaign_edit(
        campaign=draft,
        actor=marketer,
        changes={"schedule_kind": "once", "fixed_time": timezone.now() - timezone.timedelta(days=1)},
    )

    with pytest.raises(ValidationError) as caught:
        campaign_submit(campaign=draft, actor=marketer)

    assert "fixed_time" in caught.value.message_dict


def test_approving_records_the_reviewed_hash_and_the_first_due_time(draft, marketer, reviewer):
    review = campaign_submit(campaign=draft, actor=marketer)
    before = timezone.now()

    review = campaign_approve(campaign=draft, actor=reviewer, comment="looks good")

    assert review.status == ReviewStatus.APPROVED
    assert draft.status == CampaignStatus.APPROVED
    assert draft.approved_hash == review.content_hash
    assert before <= draft.next_due_at <= timezone.now()
    assert campaign_verify_approval(campaign=draft)


def test_approving_a_once_campaign_sets_next_due_at_to_its_fixed_time(template, marketer, reviewer):
    from tests.approvals.factories import make_campaign

    at = (timezone.now() + timezone.timedelta(days=2)).replace(microsecond=0)
    campaign = make_campaign(marketer, template=template, schedule_kind="once", fixed_time=at)
    campaign_submit(campaign=campaign, actor=marketer)

    campaign_approve(campaign=campaign, actor=reviewer)

    assert campaign.next_due_at == at


def test_reviewer_cannot_approve_own_submission(draft, make_user):
    both = make_user("both", "Marketing", "Reviewers")
    draft.created_by = both  # not the creator path: only the submitter
    campaign_submit(campaign=draft, actor=both)

    with pytest.raises(PermissionDenied, match="four-eyes rule: 'both' submitted"):
        campaign_approve(campaign=draft, actor=both)


def test_creator_can_never_approve_even_as_superuser(template, make_user):
    from tests.approvals.factories import make_campaign

    boss = make_user("boss", superuser=True)
    campaign = make_campaign(boss, template=template)
    other = make_user("other", "Marketing")
    campaign_submit(campaign=campaign, actor=other)

    with pytest.raises(PermissionDenied, match="four-eyes rule: 'boss' created"):
        campaign_approve(campaign=campaign, actor=boss)


def test_reviewer_who_edited_since_the_last_approval_cannot_approve(draft, marketer, make_user, reviewer2):
    editor = make_user("editor", "Marketing", "Reviewers")
    campaign_edit(campaign=draft, actor=editor, changes={"name": "Spring sale (edited)"})
    campaign_submit(campaign=draft, actor=marketer)

    assert approval_blockers(campaign=draft)[editor.pk] == ["edited"]
    with pytest.raises(PermissionDenied, match="'editor' edited"):
        campaign_approve(campaign=draft, actor=editor)
    campaign_approve(campaign=draft, actor=reviewer2)
    assert draft.status == CampaignStatus.APPROVED


def test_editing_before_an_earlier_approval_does_not_block_a_later_one(draft, marketer, make_user, reviewer):
    editor = make_user("editor", "Marketing", "Reviewers")
    campaign_edit(campaign=draft, actor=editor, changes={"name": "First version"})
    campaign_submit(campaign=draft, actor=marketer)
    campaign_approve(campaign=draft, actor=reviewer)
    campaign_edit(campaign=draft, actor=marketer, changes={"name": "Second version"})
    campaign_submit(campaign=draft, actor=marketer)

    campaign_approve(campaign=draft, actor=editor)

    assert draft.status == CampaignStatus.APPROVED


def test_non_reviewer_cannot_approve(draft, marketer, make_user):
    colleague = make_user("colleague", "Marketing")
    campaign_submit(campaign=draft, actor=marketer)

    with pytest.raises(PermissionDenied, match="campaigns.approve_campaign"):
        campaign_approve(campaign=draft, actor=colleague)
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.IN_REVIEW


def test_broadcast_to_everyone_needs_two_distinct_reviewers(broadcast, marketer, reviewer, reviewer2):
    review = campaign_submit(campaign=broadcast, actor=marketer)
    assert review.approvals_required == 2

    review = campaign_approve(campaign=broadcast, actor=reviewer, comment="one")
    assert review.status == ReviewStatus.PENDING
    assert broadcast.status == CampaignStatus.IN_REVIEW
    with pytest.raises(ReviewConflict, match="already decided"):
        campaign_approve(campaign=broadcast, actor=reviewer)

    review = campaign_approve(campaign=broadcast, actor=reviewer2, comment="two")
    assert review.status == ReviewStatus.APPROVED
    assert broadcast.status == CampaignStatus.APPROVED


@override_settings(CRIER_APPROVALS_REQUIRED=2)
def test_quorum_for_other_audiences_follows_the_setting(draft, marketer, reviewer, reviewer2):
    campaign_submit(campaign=draft, actor=marketer)
    campaign_approve(campaign=draft, actor=reviewer)
    assert draft.status == CampaignStatus.IN_REVIEW
    campaign_approve(campaign=draft, actor=reviewer2)
    assert draft.status == CampaignStatus.APPROVED


def test_rejecting_needs_a_comment(draft, marketer, reviewer):
    campaign_submit(campaign=draft, actor=marketer)

    with pytest.raises(ValidationError) as caught:
        campaign_reject(campaign=draft, actor=reviewer, comment="   ")

    assert "comment" in caught.value.message_dict
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.IN_REVIEW


def test_rejecting_with_a_comment_rejects_the_review_and_editing_returns_it_to_draft(
    draft, marketer, reviewer
):
    campaign_submit(campaign=draft, actor=marketer)

    review = campaign_reject(campaign=draft, actor=reviewer, comment="say which products")

    assert review.status == ReviewStatus.REJECTED
    assert draft.status == CampaignStatus.REJECTED
    with pytest.raises(CampaignTransitionError, match="edit it first"):
        campaign_submit(campaign=draft, actor=marketer)
    campaign_edit(campaign=draft, actor=marketer, changes={"parameters": {"name": "Ada", "pct": "25"}})
    assert draft.status == CampaignStatus.DRAFT


def test_non_reviewer_cannot_reject(draft, marketer):
    campaign_submit(campaign=draft, actor=marketer)

    with pytest.raises(PermissionDenied):
        campaign_reject(campaign=draft, actor=marketer, comment="no")


def test_withdrawing_returns_the_campaign_to_draft(draft, marketer):
    review = campaign_submit(campaign=draft, actor=marketer)

    campaign_withdraw(campaign=draft, actor=marketer)

    review.refresh_from_db()
    assert review.status == ReviewStatus.WITHDRAWN
    assert draft.status == CampaignStatus.DRAFT
    assert draft.submitted_hash == ""


def test_approving_a_draft_is_a_conflict(draft, reviewer):
    with pytest.raises(CampaignTransitionError, match="only a campaign in review can be approved"):
        campaign_approve(campaign=draft, actor=reviewer)


def test_audience_changed_during_review_voids_the_review_instead_of_approving(draft, marketer, reviewer):
    review = campaign_submit(campaign=draft, actor=marketer)
    AudienceMember.objects.create(audience=draft.audience, external_id="u4")

    with pytest.raises(ApprovalVoided, match="audience changed since submission"):
        campaign_approve(campaign=draft, actor=reviewer)

    review.refresh_from_db()
    draft.refresh_from_db()
    assert review.status == ReviewStatus.VOIDED
    assert draft.status == CampaignStatus.DRAFT
    assert draft.approved_hash == ""
    assert AuditEvent.objects.filter(campaign=draft, action="void").exists()


@override_settings(CRIER_REQUIRE_PREVIEW=True)
def test_a_required_preview_must_have_succeeded_for_the_reviewed_content(draft, marketer, reviewer):
    review = campaign_submit(campaign=draft, actor=marketer)
    with pytest.raises(ValidationError) as caught:
        campaign_approve(campaign=draft, actor=reviewer)
    assert "preview" in caught.value.message_dict

    Dispatch.objects.create(
        campaign=draft, due_at=timezone.now(), is_preview=True, status=DispatchStatus.SENT,
        content_hash="another-content",
    )
    with pytest.raises(ValidationError):
        campaign_approve(campaign=draft, actor=reviewer)

    Dispatch.objects.create(
        campaign=draft, due_at=timezone.now(), is_preview=True, status=DispatchStatus.SENT,
        content_hash=review.content_hash,
    )
    campaign_approve(campaign=draft, actor=reviewer)
    assert draft.status == CampaignStatus.APPROVED


def test_queue_shows_only_campaigns_the_user_may_approve(draft, broadcast, marketer, reviewer, reviewer2):
    campaign_submit(campaign=draft, actor=marketer)
    campaign_submit(campaign=broadcast, actor=marketer)
    campaign_approve(campaign=broadcast, actor=reviewer)

    assert [c.pk for c in campaigns_awaiting_review(user=reviewer)] == [draft.pk]
    assert {c.pk for c in campaigns_awaiting_review(user=reviewer2)} == {draft.pk, broadcast.pk}
    assert campaigns_awaiting_review(user=marketer) == []
    assert not user_may_approve(user=marketer, campaign=draft)


def test_every_step_of_a_review_is_in_the_audit_trail(draft, marketer, reviewer):
    campaign_submit(campaign=draft, actor=marketer)
    campaign_approve(campaign=draft, actor=reviewer, comment="fine")

    trail = list(AuditEvent.objects.filter(campaign=draft).values_list("object_type", "action", "to_state"))

    assert trail == [
        ("campaign", "create", "draft"),
        ("review", "open", "pending"),
        ("campaign", "submit", "in_review"),
        ("review_decision", "approve", "approve"),
        ("review", "approve", "approved"),
        ("campaign", "approve", "approved"),
    ]
    assert Review.objects.get(campaign=draft).decisions.get().comment == "fine"


def test_the_review_queue_costs_the_same_queries_for_many_campaigns(
    template, marketer, reviewer, django_assert_max_num_queries
):
    account, audience = make_account("alipayplus"), make_audience("users")
    for i in range(12):
        campaign = make_campaign(
            marketer, template=template, provider_account=account, audience=audience, name=f"c{i}"
        )
        campaign_submit(campaign=campaign, actor=marketer)
    reviewer = type(reviewer).objects.get(pk=reviewer.pk)  # fresh permission cache

    with django_assert_max_num_queries(6):
        queue = campaigns_awaiting_review(user=reviewer)

    assert len(queue) == 12
    assert all(c.open_review.submitted_by_id == marketer.pk for c in queue)
