"""Migration campaigns.0013 carries live approvals of snapshot format 2 over to format 3 when
what they approved is unchanged (audited), and leaves the others for the engine to refuse:
no approved campaign is silently voided, none silently re-approved."""

from __future__ import annotations

import hashlib
import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

from approvals.models import Review
from approvals.services import campaign_approve, campaign_submit
from audit.models import AuditEvent
from campaigns.models import AudienceMember, Campaign, CampaignStatus
from campaigns.services import campaign_verify_approval
from campaigns.snapshot import campaign_hash, snapshot_hash
from tests.approvals.factories import make_account, make_audience, make_campaign, make_template

pytestmark = pytest.mark.django_db

upgrade = importlib.import_module("campaigns.migrations.0013_snapshot_format_3")
IDS = ["u01", "u02", "u03", "u10"]


def approved_in_format_2(marketer, reviewer, audience) -> Campaign:
    """A campaign approved as format 2 would have approved it: the review's snapshot with the
    sorted ids' sha256 and the hash of that snapshot, on the campaign too."""
    campaign = make_campaign(
        marketer, template=make_template(key=f"t{audience.pk}"), provider_account=make_account("jiguang"),
        audience=audience,
    )
    campaign_submit(campaign=campaign, actor=marketer)
    review = campaign_approve(campaign=campaign, actor=reviewer, acknowledge_warnings=True)
    old = {**review.snapshot, "format": 2}
    if "members" in old["audience"]:
        listed = AudienceMember.objects.filter(audience=audience, suppressed=False)
        ids = sorted(listed.values_list("external_id", flat=True))
        members = {"count": len(ids), "sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest()}
        old["audience"] = {**old["audience"], "members": members}
    Review.objects.filter(pk=review.pk).update(snapshot=old, content_hash=snapshot_hash(old))
    Campaign.objects.filter(pk=campaign.pk).update(approved_hash=snapshot_hash(old))
    campaign.refresh_from_db()
    assert not campaign_verify_approval(campaign=campaign)  # format 3 no longer matches it
    return campaign


def run_upgrade() -> None:
    upgrade.carry_over(apps, SimpleNamespace(connection=connection))


def test_an_unchanged_approval_is_carried_over_with_an_audit_event(marketer, reviewer):
    listed = approved_in_format_2(marketer, reviewer, make_audience("users", user_ids=IDS))
    tagged = approved_in_format_2(marketer, reviewer, make_audience("tags", tags=["vip"]))
    old_hash = listed.approved_hash

    run_upgrade()

    for campaign in (listed, tagged):
        campaign.refresh_from_db()
        assert campaign.status == CampaignStatus.APPROVED
        assert campaign.approved_hash == campaign_hash(campaign)
        assert campaign_verify_approval(campaign=campaign)
        review = Review.objects.get(campaign=campaign, status="approved")
        assert review.snapshot["format"] == 3 and review.content_hash == campaign.approved_hash
    event = AuditEvent.objects.get(action="snapshot_upgraded", campaign=listed)
    assert event.data["old_hash"] == old_hash and event.data["new_hash"] == listed.approved_hash


def test_an_approval_whose_list_changed_since_is_left_for_the_engine_to_refuse(marketer, reviewer):
    audience = make_audience("users", user_ids=IDS)
    campaign = approved_in_format_2(marketer, reviewer, audience)
    old_hash = campaign.approved_hash
    AudienceMember.objects.create(audience=audience, external_id="u99")  # after the approval

    run_upgrade()

    campaign.refresh_from_db()
    assert campaign.approved_hash == old_hash
    assert not campaign_verify_approval(campaign=campaign)
    assert not AuditEvent.objects.filter(action="snapshot_upgraded").exists()
