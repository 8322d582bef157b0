"""Approved schedules become exactly one dispatch per occurrence, through real qcluster processes."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from approvals.services import campaign_approve, campaign_submit
from campaigns.models import Campaign, Dispatch, DispatchStatus
from campaigns.services import campaign_create
from tests.campaigns.conftest import make_audience, make_recipients, wait_for
from tests.campaigns.test_engine_integration import finished, start_ticker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def schedule_once(*, template, account, audience, author, reviewer, due) -> Campaign:
    """Create, submit and approve (as another user) a campaign due once at ``due``."""
    campaign = campaign_create(
        actor=author,
        data={
            "name": f"once at {due:%H:%M:%S}",
            "template": template,
            "provider_account": account,
            "audience": audience,
            "language": "en",
            "parameters": {"name": "Ada", "bonus": "10 USDT"},
            "schedule_kind": "once",
            "fixed_time": due,
            "timezone": "Europe/Berlin",
        },
    )
    campaign_submit(campaign=campaign, actor=author)
    campaign_approve(campaign=campaign, actor=reviewer, comment="fine")
    campaign.refresh_from_db()
    return campaign


def test_a_campaign_due_seconds_after_approval_reaches_the_emulator_exactly_once(
    template, make_account, make_user, qcluster
):
    author, reviewer = make_user("author", "Marketing"), make_user("checker", "Reviewers")
    account, server = make_account("jiguang")
    ids = make_recipients(50, kind="jiguang")
    qcluster()
    start_ticker()
    due = (timezone.now() + timedelta(seconds=6)).replace(microsecond=0)
    campaign = schedule_once(
        template=template,
        account=account,
        audience=make_audience("users", user_ids=ids),
        author=author,
        reviewer=reviewer,
        due=due,
    )
    assert campaign.status == "approved" and campaign.next_due_at == due
    assert server.app.accepted == []

    wait_for(finished(), timeout=60, what="the occurrence to be sent")
    time.sleep(2)  # a second, late dispatch would show up here

    first = server.app.accepted[0].at
    print(f"\nfirst request {first - due.timestamp():.2f} s after the due second")
    assert first >= due.timestamp()  # not early
    assert len(server.app.accepted) == 1
    assert Dispatch.objects.filter(campaign=campaign).count() == 1
    campaign.refresh_from_db()
    assert campaign.status == "sent" and campaign.next_due_at is None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="several clusters need PostgreSQL")
def test_two_clusters_firing_at_once_still_send_one_dispatch_per_occurrence(
    template, make_account, make_user, qcluster
):
    author, reviewer = make_user("author", "Marketing"), make_user("checker", "Reviewers")
    account, server = make_account("jiguang")
    ids = make_recipients(20, kind="jiguang")
    qcluster()
    qcluster()
    due = (timezone.now() + timedelta(seconds=6)).replace(microsecond=0)
    campaigns = [
        schedule_once(
            template=template,
            account=account,
            audience=make_audience("users", name=f"a{i}", user_ids=ids),
            author=author,
            reviewer=reviewer,
            due=due + timedelta(seconds=i),
        )
        for i in range(3)
    ]
    for _ in range(4):  # tickers from both clusters, and duplicates, race for the same rows
        start_ticker()

    wait_for(finished(), timeout=90, what="all occurrences to be sent")
    wait_for(lambda: Dispatch.objects.count() == 3 and len(server.app.accepted) == 3, timeout=30)
    time.sleep(2)

    assert Dispatch.objects.count() == 3
    assert len(server.app.accepted) == 3
    assert all(d.status == DispatchStatus.SENT for d in Dispatch.objects.all())
    assert {d.campaign_id for d in Dispatch.objects.all()} == {c.pk for c in campaigns}
