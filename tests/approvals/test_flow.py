"""The whole approval flow against the Binance emulator, through the real send engine."""

from __future__ import annotations

import pytest
from django.test import override_settings

from approvals.selectors import review_page
from approvals.services import campaign_approve, campaign_submit
from audit.services import audit_verify
from campaigns.models import CampaignStatus, DispatchStatus
from campaigns.previews import campaign_preview
from campaigns.sending.run import dispatch_run
from campaigns.sending.ticker import dispatcher_tick
from campaigns.services import campaign_verify_approval
from providers.models import ProviderAccount
from tests.approvals.factories import make_audience, make_campaign
from tests.providers.conftest import start_emulator  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def binance(start_emulator):  # noqa: F811
    secret = "sk-flow-secret-long-enough-for-hmac-sha256"
    server = start_emulator("binance", {"ak-flow": secret})
    account = ProviderAccount(
        name="binance flow", kind="binance", base_url=server.url, sandbox=True, app_id="app-flow"
    )
    account.set_credentials({"access_key": "ak-flow", "secret_key": secret})
    account.save()
    return account, server


@override_settings(CRIER_REQUIRE_PREVIEW=True)
def test_preview_then_two_approvals_then_the_engine_sends_exactly_the_approved_content(
    binance, template, marketer, reviewer, reviewer2
):
    account, server = binance
    campaign = make_campaign(
        marketer, template=template, provider_account=account, audience=make_audience("all"),
        test_uids=["tester-1", "tester-2"],
    )

    preview = campaign_preview(campaign=campaign, actor=marketer)
    assert dispatch_run(preview.pk) == DispatchStatus.SENT
    assert server.app.accepted[-1].payload["experienceUids"] == ["tester-1", "tester-2"]
    review = campaign_submit(campaign=campaign, actor=marketer)
    page = review_page(campaign=campaign, user=reviewer)
    assert page["previews"][0]["of_reviewed_content"]
    assert page["previews"][0]["outcome"].startswith("accepted for Binance review")
    campaign_approve(campaign=campaign, actor=reviewer)
    campaign_approve(campaign=campaign, actor=reviewer2)
    assert campaign.status == CampaignStatus.APPROVED and campaign_verify_approval(campaign=campaign)

    [dispatch_id] = dispatcher_tick()
    assert dispatch_run(dispatch_id) == DispatchStatus.SENT

    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
    assert len(server.app.accepted) == 2
    # What went out is, field for field, the request body the reviewers approved.
    assert server.app.accepted[-1].payload == review.snapshot["requests"][0]
    assert audit_verify().ok


def test_a_suppression_after_approval_neither_voids_nor_holds_a_broadcast(
    binance, template, marketer, reviewer, reviewer2
):
    """Issue #14: the approval binds the audience's definition, not its living size, and a
    broadcast whose reach only the provider knows is bound by its definition alone."""
    account, server = binance
    campaign = make_campaign(
        marketer, template=template, provider_account=account, audience=make_audience("all")
    )
    campaign_submit(campaign=campaign, actor=marketer)
    campaign_approve(campaign=campaign, actor=reviewer)
    campaign_approve(campaign=campaign, actor=reviewer2)
    campaign.refresh_from_db()
    assert campaign.approved_reach is None and campaign.reach_limit is None
    campaign.audience.members.create(external_id="blocked", suppressed=True)

    [dispatch_id] = dispatcher_tick()

    assert campaign_verify_approval(campaign=campaign)
    assert dispatch_run(dispatch_id) == DispatchStatus.SENT
    assert len(server.app.accepted) == 1
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
