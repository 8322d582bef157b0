"""Approval rules (issue #14): how many approvals a campaign needs and from whom, managed by
administrators as data; the strictest matching rule applies, a required group must be among
the approvers, and ``reach_ceiling`` tells the approval where a stricter rule would start."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from approvals.models import ApprovalRule, ReviewStatus
from approvals.rules import reach_ceiling, requirement_for
from approvals.services import campaign_approve, campaign_submit
from audit.services import audit_verify
from campaigns.models import CampaignStatus
from tests.approvals.factories import make_account, make_audience, make_campaign

pytestmark = pytest.mark.django_db

LARGE = 1_000


@pytest.fixture
def compliance(db):
    return Group.objects.create(name="Compliance")


@pytest.fixture
def officer(make_user, compliance):
    """A reviewer who is also in Compliance."""
    return make_user("officer", "Reviewers", "Compliance")


@pytest.fixture
def large_rule(compliance, officer):
    return ApprovalRule.objects.create(
        name="Large audiences need Compliance", min_reach=LARGE, approvals_required=2,
        required_group=compliance,
    )


def large_campaign(marketer, template, size: int = 1_200, **fields):
    """A Jiguang campaign to a list of ``size`` user ids: its reach is ``size``."""
    audience = make_audience("users", user_ids=[f"user-{n}" for n in range(size)])
    return make_campaign(
        marketer, template=template, provider_account=make_account("jiguang"), audience=audience, **fields
    )


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_seeded_broadcast_rule_is_todays_behaviour():
    rule = ApprovalRule.objects.get(name="Broadcast to everyone")
    assert (rule.enabled, rule.audience_kind, rule.approvals_required) == (True, "all", 2)
    assert rule.min_reach is None and rule.provider_kind == "" and rule.required_group is None


def test_reach_of_1000_needs_two_approvals_one_from_compliance(
    large_rule, marketer, template, reviewer, reviewer2, officer
):
    campaign = large_campaign(marketer, template)
    review = campaign_submit(campaign=campaign, actor=marketer)

    assert review.reach == 1_200
    assert review.approvals_required == 2
    assert review.requirement["source"] == {"kind": "rule", "name": large_rule.name}
    assert [g["name"] for g in review.requirement["groups"]] == ["Compliance"]

    # Two reviewers outside Compliance: enough approvals, but not the group.
    campaign_approve(campaign=campaign, actor=reviewer)
    review = campaign_approve(campaign=campaign, actor=reviewer2)
    assert review.status == ReviewStatus.PENDING
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.IN_REVIEW

    approvals = api(reviewer).get(f"/api/v1/campaigns/{campaign.pk}/").json()["approvals"]
    assert approvals["status"] == "pending"
    assert approvals["rules"] == [
        {"name": "Large audiences need Compliance", "approvals_required": 2, "group": "Compliance"}
    ]
    assert approvals["requirement"]["approvals_required"] == 2
    assert approvals["requirement"]["reach"] == 1_200
    assert approvals["missing_approvals"] == 0
    assert approvals["missing_groups"] == ["Compliance"]
    assert approvals["missing"] == "needs 1 more approval from a member of Compliance"

    # A Compliance member's approval completes it.
    review = campaign_approve(campaign=campaign, actor=officer)
    assert review.status == ReviewStatus.APPROVED
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.APPROVED
    approvals = api(reviewer).get(f"/api/v1/campaigns/{campaign.pk}/").json()["approvals"]
    assert approvals["missing"] == "" and approvals["approved_by"] == ["reviewer", "reviewer2", "officer"]
    assert audit_verify().ok


def test_a_compliance_approval_alone_is_not_enough_when_two_are_required(
    large_rule, marketer, template, officer, reviewer
):
    campaign = large_campaign(marketer, template)
    campaign_submit(campaign=campaign, actor=marketer)

    review = campaign_approve(campaign=campaign, actor=officer)
    assert review.status == ReviewStatus.PENDING
    missing = api(officer).get(f"/api/v1/campaigns/{campaign.pk}/").json()["approvals"]["missing"]
    assert missing == "needs 1 more approval"

    assert campaign_approve(campaign=campaign, actor=reviewer).status == ReviewStatus.APPROVED


def test_below_the_threshold_the_rule_does_not_apply(large_rule, marketer, template, reviewer):
    campaign = large_campaign(marketer, template, size=999)
    review = campaign_submit(campaign=campaign, actor=marketer)

    assert review.approvals_required == 1
    assert review.requirement["rules"] == [] and review.requirement["groups"] == []
    assert review.requirement["source"] == {"kind": "setting", "name": "CRIER_APPROVALS_REQUIRED"}
    assert campaign_approve(campaign=campaign, actor=reviewer).status == ReviewStatus.APPROVED


def test_a_disabled_rule_does_nothing(large_rule, marketer, template, reviewer):
    large_rule.enabled = False
    large_rule.save()
    campaign = large_campaign(marketer, template)

    review = campaign_submit(campaign=campaign, actor=marketer)

    assert review.approvals_required == 1 and review.requirement["rules"] == []
    assert campaign_approve(campaign=campaign, actor=reviewer).status == ReviewStatus.APPROVED
    assert reach_ceiling(campaign, approvers=[reviewer]) is None


def test_the_strictest_rule_applies_and_every_named_group_is_required(
    compliance, officer, make_user, marketer, template
):
    legal = Group.objects.create(name="Legal")
    make_user("counsel", "Reviewers", "Legal")
    ApprovalRule.objects.create(name="Jiguang needs Legal", approvals_required=1, required_group=legal)
    ApprovalRule.objects.create(name="Three for lists", audience_kind="users", approvals_required=3)
    ApprovalRule.objects.create(name="Two from Compliance", min_reach=LARGE, approvals_required=2,
                                required_group=compliance)
    ApprovalRule.objects.create(name="Only cron", schedule_kind="cron", approvals_required=5)
    campaign = large_campaign(marketer, template)

    requirement = requirement_for(campaign, reach=1_200)

    assert requirement.approvals_required == 3
    assert (requirement.source_kind, requirement.source) == ("rule", "Three for lists")
    assert [g.name for g in requirement.groups] == ["Legal", "Compliance"]
    assert {r.name for r in requirement.rules} == {
        "Jiguang needs Legal", "Three for lists", "Two from Compliance"
    }
    # At equal counts, a rule naming a group is the stricter one.
    ApprovalRule.objects.filter(name="Three for lists").update(approvals_required=2)
    assert requirement_for(campaign, reach=1_200).source == "Two from Compliance"


@override_settings(CRIER_APPROVALS_REQUIRED=3)
def test_the_setting_stays_the_baseline_below_which_no_rule_goes(large_rule, marketer, template):
    campaign = large_campaign(marketer, template)

    requirement = requirement_for(campaign, reach=1_200)

    assert requirement.approvals_required == 3
    assert requirement.source == "CRIER_APPROVALS_REQUIRED"
    assert [g.name for g in requirement.groups] == ["Compliance"]


def test_a_reach_only_the_provider_knows_meets_every_threshold(large_rule, marketer, template):
    campaign = large_campaign(marketer, template)
    assert requirement_for(campaign, reach=None).approvals_required == 2
    assert requirement_for(campaign, reach=LARGE - 1).approvals_required == 1


def test_reach_ceiling_is_the_threshold_minus_one_only_when_the_approvers_do_not_satisfy_the_rule(
    large_rule, marketer, template, reviewer, reviewer2, officer
):
    campaign = large_campaign(marketer, template, size=10)

    assert reach_ceiling(campaign, approvers=[reviewer]) == LARGE - 1  # too few
    assert reach_ceiling(campaign, approvers=[reviewer, reviewer2]) == LARGE - 1  # no Compliance
    assert reach_ceiling(campaign, approvers=[officer]) == LARGE - 1  # Compliance, but alone
    assert reach_ceiling(campaign, approvers=[reviewer, officer]) is None
    assert reach_ceiling(campaign, approvers=[officer, officer]) == LARGE - 1  # distinct approvers

    # The smallest unmet threshold wins; rules whose other conditions fail do not count.
    ApprovalRule.objects.create(name="Two above 500", min_reach=500, approvals_required=2)
    ApprovalRule.objects.create(
        name="Cron above 50", min_reach=50, schedule_kind="cron", approvals_required=9
    )
    assert reach_ceiling(campaign, approvers=[reviewer]) == 499
    assert reach_ceiling(campaign, approvers=[reviewer, officer]) is None


def test_the_seeded_broadcast_rule_keeps_needing_two_reviewers(broadcast, marketer, reviewer, reviewer2):
    review = campaign_submit(campaign=broadcast, actor=marketer)

    assert review.approvals_required == 2
    assert review.requirement["source"] == {"kind": "rule", "name": "Broadcast to everyone"}
    assert campaign_approve(campaign=broadcast, actor=reviewer).status == ReviewStatus.PENDING
    assert campaign_approve(campaign=broadcast, actor=reviewer2).status == ReviewStatus.APPROVED


def test_the_review_page_shows_the_rules_and_what_is_missing(
    large_rule, marketer, template, reviewer, reviewer2
):
    campaign = large_campaign(marketer, template)
    campaign_submit(campaign=campaign, actor=marketer)
    campaign_approve(campaign=campaign, actor=reviewer)
    client = Client()
    client.force_login(reviewer2)

    page = client.get(reverse("admin:campaigns_campaign_review", args=[campaign.pk])).content.decode()

    assert 'id="review-rules"' in page
    assert "Large audiences need Compliance" in page
    assert "2 approvals including a member of Compliance" in page
    assert "at a reach of 1200 recipients" in page
    assert "Still missing:</strong> needs 1 more approval from a member of Compliance" in page

    # The approver's answer in the admin says the same.
    response = client.post(
        reverse("admin:campaigns_campaign_review", args=[campaign.pk]), {"decision": "approve"}, follow=True
    )
    said = [str(m) for m in response.context["messages"]]
    assert any("needs 1 more approval from a member of Compliance" in m for m in said), said


def test_a_draft_shows_the_rules_that_would_apply(large_rule, marketer, template, reviewer):
    campaign = large_campaign(marketer, template)
    client = Client()
    client.force_login(reviewer)

    page = client.get(reverse("admin:campaigns_campaign_review", args=[campaign.pk])).content.decode()

    assert "If submitted now, at a reach of 1200 recipients, these rules would apply." in page
    assert "Large audiences need Compliance" in page


def test_a_rule_edited_during_a_review_does_not_change_it(
    large_rule, marketer, template, reviewer, reviewer2
):
    campaign = large_campaign(marketer, template)
    campaign_submit(campaign=campaign, actor=marketer)
    large_rule.delete()

    campaign_approve(campaign=campaign, actor=reviewer)
    assert campaign_approve(campaign=campaign, actor=reviewer2).status == ReviewStatus.PENDING


# --- the admin of rules -------------------------------------------------------------------


def rule_form(**fields) -> dict:
    return {
        "name": "Big", "enabled": "on", "min_reach": "", "audience_kind": "", "provider_kind": "",
        "schedule_kind": "", "approvals_required": "1", "required_group": "", **fields,
    }


def test_only_administrators_change_rules_and_everyone_reads_them(make_user, reviewer, compliance, officer):
    admin_user = make_user("root", superuser=True)
    add = reverse("admin:approvals_approvalrule_add")
    listing = reverse("admin:approvals_approvalrule_changelist")
    client = Client()
    client.force_login(reviewer)
    assert client.get(listing).status_code == 200
    assert client.post(add, rule_form()).status_code == 403

    client.force_login(admin_user)
    response = client.post(
        add, rule_form(min_reach="100", approvals_required="2", required_group=compliance.pk)
    )
    assert response.status_code == 302
    rule = ApprovalRule.objects.get(name="Big")
    assert (rule.min_reach, rule.approvals_required, rule.required_group) == (100, 2, compliance)

    manager = make_user("manager")
    from django.contrib.auth.models import Permission

    manager.user_permissions.add(Permission.objects.get(codename="manage_approval_rules"))
    client.force_login(manager)
    assert client.get(reverse("admin:approvals_approvalrule_change", args=[rule.pk])).status_code == 200


def test_rule_form_errors_name_the_field_the_value_and_the_rule(make_user, compliance):
    client = Client()
    client.force_login(make_user("root", superuser=True))
    add = reverse("admin:approvals_approvalrule_add")

    errors = client.post(add, rule_form(approvals_required="0", min_reach="0", required_group=compliance.pk))
    form = errors.context["adminform"].form

    assert form.errors["approvals_required"] == [
        "Approvals required: 0 is too few; a rule needs at least 1 approval."
    ]
    assert form.errors["min_reach"][0].startswith("Reach at least: 0 is not a threshold")
    assert len(form.errors["min_reach"]) == 1
    assert form.errors["required_group"][0].startswith(
        "Required group: no active member of Compliance may approve"
    )
    assert not ApprovalRule.objects.filter(name="Big").exists()


@pytest.mark.django_db(transaction=True)
def test_the_seeded_rule_comes_back_after_a_flush():
    call_command("flush", interactive=False, verbosity=0)

    assert ApprovalRule.objects.get(name="Broadcast to everyone").approvals_required == 2
