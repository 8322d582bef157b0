"""The approve_campaign and verify_audit management commands."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from approvals.services import campaign_submit
from campaigns.models import CampaignStatus

pytestmark = pytest.mark.django_db


def test_approve_campaign_approves_as_the_named_reviewer(draft, marketer, reviewer, capsys):
    campaign_submit(campaign=draft, actor=marketer)

    call_command("approve_campaign", str(draft.pk), "--as", "reviewer", "--comment", "ok from the shell")

    draft.refresh_from_db()
    assert draft.status == CampaignStatus.APPROVED
    assert draft.reviews.get().decisions.get().comment == "ok from the shell"
    assert "approved; first due" in capsys.readouterr().out


def test_approve_campaign_refuses_self_approval(draft, make_user):
    both = make_user("both", "Marketing", "Reviewers")
    campaign_submit(campaign=draft, actor=both)

    with pytest.raises(CommandError, match="four-eyes rule: 'both' submitted"):
        call_command("approve_campaign", str(draft.pk), "--as", "both")
    draft.refresh_from_db()
    assert draft.status == CampaignStatus.IN_REVIEW


def test_approve_campaign_refuses_a_user_without_the_approve_permission(draft, marketer, make_user):
    make_user("intern", "Marketing")
    campaign_submit(campaign=draft, actor=marketer)

    with pytest.raises(CommandError, match="campaigns.approve_campaign"):
        call_command("approve_campaign", str(draft.pk), "--as", "intern")


def test_approve_campaign_reports_a_campaign_not_in_review(draft, reviewer):
    with pytest.raises(CommandError, match="only a campaign in review can be approved"):
        call_command("approve_campaign", str(draft.pk), "--as", "reviewer")


def test_approve_campaign_reports_partial_quorum(broadcast, marketer, reviewer, capsys):
    campaign_submit(campaign=broadcast, actor=marketer)

    call_command("approve_campaign", str(broadcast.pk), "--as", "reviewer")

    out = capsys.readouterr().out
    assert "1 of 2 approvals" in out and "still in review: needs 1 more approval" in out


def test_approve_campaign_names_an_unknown_user_or_campaign(draft):
    with pytest.raises(CommandError, match="no active user 'ghost'"):
        call_command("approve_campaign", str(draft.pk), "--as", "ghost")
    with pytest.raises(CommandError, match="no campaign 999999"):
        call_command("approve_campaign", "999999", "--as", "marketer")
