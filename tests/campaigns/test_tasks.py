"""The dispatcher ticker loop and its lease."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import tasks
from campaigns.models import Lease

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_ticks(settings):
    settings.CRIER_DISPATCH_TICK_SECONDS = 0.05


def test_a_ticker_takes_over_the_lease_of_a_holder_that_died():
    # ttl is 5 ticks + 5 s; a dead holder's lease ends without being renewed
    Lease.objects.create(
        name=tasks.TICKER_LEASE, holder="dead", expires_at=timezone.now() + timedelta(seconds=1)
    )
    started = time.monotonic()

    outcome = tasks.dispatcher_loop(duration=0.2)

    assert outcome == "handed over"
    assert 0.9 < time.monotonic() - started < 5
    lease = Lease.objects.get(name=tasks.TICKER_LEASE)
    assert lease.holder != "dead"


def test_a_ticker_leaves_a_live_holder_alone(settings):
    settings.CRIER_DISPATCH_TICK_SECONDS = 0.01
    far = timezone.now() + timedelta(minutes=5)  # a live holder keeps renewing; here: far in the future
    Lease.objects.create(name=tasks.TICKER_LEASE, holder="alive", expires_at=far)

    outcome = tasks.dispatcher_loop(duration=0.1)

    assert outcome == "another ticker is running"
    assert Lease.objects.get(name=tasks.TICKER_LEASE).holder == "alive"


@pytest.mark.django_db(transaction=True)
def test_the_tickers_safety_net_schedule_is_put_back_after_a_flush():
    from django.core.management import call_command
    from django_q.models import Schedule

    from campaigns.apps import DISPATCHER_SCHEDULE

    Schedule.objects.filter(name=DISPATCHER_SCHEDULE).delete()
    call_command("flush", interactive=False, verbosity=0)

    schedule = Schedule.objects.get(name=DISPATCHER_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "campaigns.tasks.dispatcher_loop",
        Schedule.MINUTES,
        1,
        -1,
    )


def test_the_next_due_time_counts_only_approved_campaigns_not_yet_due(make_account, approved_campaign):
    from campaigns.models import Campaign, CampaignStatus
    from campaigns.sending.ticker import seconds_to_next_due
    from tests.campaigns.conftest import make_audience

    now = timezone.now()
    assert seconds_to_next_due(now) is None
    account, _ = make_account("jiguang")
    audience = make_audience("users", user_ids=["u1"])
    approved_campaign(account, audience, due=now - timedelta(seconds=5))  # due already: the tick's
    later = approved_campaign(account, audience, due=now + timedelta(seconds=30))
    sooner = approved_campaign(account, audience, due=now + timedelta(seconds=7))
    Campaign.objects.filter(pk=sooner.pk).update(status=CampaignStatus.DRAFT)  # not approved: ignored

    assert seconds_to_next_due(now) == pytest.approx(30)
    Campaign.objects.filter(pk=later.pk).update(status=CampaignStatus.SENDING)
    assert seconds_to_next_due(now) == pytest.approx(30)


def test_the_ticker_wakes_when_an_occurrence_is_due_not_a_tick_later(
    settings, make_account, approved_campaign
):
    """A tick of 3 s, an occurrence due 0.5 s after the loop's first tick: it is claimed at its
    due time (before, the loop slept the whole tick: 2.5 s late here)."""
    from campaigns.models import Dispatch
    from tests.campaigns.conftest import make_audience

    settings.CRIER_DISPATCH_TICK_SECONDS = 3
    account, _ = make_account("jiguang")
    audience = make_audience("users", user_ids=["u1"])
    due = timezone.now() + timedelta(seconds=0.5)
    campaign = approved_campaign(account, audience, due=due)

    tasks.dispatcher_loop(duration=0.8)  # ticks at once, then (with the fix) at the due time

    dispatch = Dispatch.objects.get(campaign=campaign)
    claimed_late = (dispatch.created_at - due).total_seconds()
    assert 0 <= claimed_late < 1.0, f"claimed {claimed_late:.2f} s after its due time (tick 3 s)"
