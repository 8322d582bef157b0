"""mPaaS native scheduling against the emulator: a once or recurring campaign is handed to
mPaaS's scheduler at approval (StrategyType 1/2), stays approved and pending with the task
ids, is cancelled there (CancelPushScheduler) when its approval is voided or it is
cancelled, and is finished when its schedule ends; the emulator fires nothing itself."""

from __future__ import annotations

import datetime as dt
import json
import time
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from approvals.services import campaign_approve, campaign_submit
from audit.models import AuditEvent
from campaigns.lifecycle import NativeCancelFailed
from campaigns.models import Campaign, CampaignStatus, Dispatch
from campaigns.sending.run import dispatch_run
from campaigns.sending.ticker import dispatcher_tick
from campaigns.services import campaign_cancel, campaign_edit
from tests.approvals.factories import make_campaign
from tests.campaigns.conftest import make_audience

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def run_due(now=None) -> list[Dispatch]:
    created = dispatcher_tick(now=now)
    for dispatch_id in created:
        while dispatch_run(dispatch_id) == "continue":
            pass
    return list(Dispatch.objects.filter(pk__in=created))


def ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture
def native_account(make_account):
    return make_account("mpaas", settings={"native_scheduling": True})


@pytest.fixture
def approve(marketer, reviewer, reviewer2):
    """Submit ``campaign`` and approve it twice (an everyone audience needs two reviewers)."""

    def run(campaign: Campaign) -> Campaign:
        campaign_submit(campaign=campaign, actor=marketer)
        campaign_approve(campaign=campaign, actor=reviewer)
        campaign_approve(campaign=campaign, actor=reviewer2)
        campaign.refresh_from_db()
        assert campaign.status == CampaignStatus.APPROVED
        return campaign

    return run


@pytest.fixture
def once(native_account, template, marketer, approve):
    """A native ``once`` campaign two hours from now, approved and registered with mPaaS."""
    account, server = native_account
    fixed = (timezone.now() + dt.timedelta(hours=2)).replace(microsecond=0)
    campaign = make_campaign(
        marketer,
        template=template,
        provider_account=account,
        audience=make_audience("all"),
        parameters={"name": "Ada", "bonus": "10 USDT"},
        schedule_kind="once",
        fixed_time=fixed,
        timezone="Asia/Shanghai",
    )
    approve(campaign)
    assert campaign.next_due_at <= timezone.now()  # due at once: the registration
    [dispatch] = run_due()
    campaign.refresh_from_db()
    return campaign, server, dispatch, fixed


def test_a_once_campaign_is_registered_with_strategy_type_1_and_stays_pending(once):
    campaign, server, dispatch, fixed = once

    [accepted] = server.app.accepted
    body = accepted.payload
    assert (body["Action"], body["Version"]) == ("PushBroadcast", "2020-10-28")
    assert (body["StrategyType"], json.loads(body["StrategyContent"])) == ("1", {"fixedTime": ms(fixed)})
    assert body["Msgkey"] == dispatch.deliveries.get().idempotency_key
    [task] = server.app.tasks.values()
    assert (task.strategy_type, task.content) == (1, {"fixedTime": ms(fixed)})
    assert campaign.status == CampaignStatus.APPROVED
    assert campaign.native_task_ids == [task.unique_id]
    assert campaign.next_due_at == fixed  # holds its pending slot until mPaaS's push time
    event = AuditEvent.objects.get(campaign=campaign, action="native_scheduled")
    assert (event.from_state, event.to_state, event.data["task_ids"]) == (
        "sending",
        "approved",
        [task.unique_id],
    )
    # Crier dispatches nothing more: mPaaS fires it (the emulator fires nothing at all).
    assert run_due(now=fixed - dt.timedelta(seconds=1)) == []
    assert len(server.app.accepted) == 1


def test_at_the_end_of_its_schedule_the_campaign_is_finished_not_dispatched(once):
    campaign, server, _dispatch, fixed = once

    assert run_due(now=fixed + dt.timedelta(seconds=1)) == []

    campaign.refresh_from_db()
    assert (campaign.status, campaign.next_due_at) == (CampaignStatus.SENT, None)
    assert Dispatch.objects.filter(campaign=campaign).count() == 1
    assert len(server.app.accepted) == 1


def test_cancelling_the_campaign_cancels_the_mpaas_task(once, marketer):
    campaign, server, _dispatch, _fixed = once
    [task] = server.app.tasks.values()

    campaign_cancel(campaign=campaign, actor=marketer, reason="postponed")

    campaign.refresh_from_db()
    assert task.cancelled
    assert (campaign.status, campaign.native_task_ids, campaign.next_due_at) == ("cancelled", [], None)
    event = AuditEvent.objects.get(campaign=campaign, action="native_cancel")
    assert event.data == {
        "task_ids": [task.unique_id],
        "outcome": "delivered",
        "code": "OK",
        "message": "cancelled: 1",
        "http_status": 200,
    }
    assert (event.actor, event.reason) == (marketer, "postponed")


def test_a_voided_approval_cancels_the_mpaas_task(once, marketer):
    campaign, server, _dispatch, _fixed = once
    [task] = server.app.tasks.values()

    campaign_edit(
        campaign=campaign, actor=marketer, changes={"parameters": {"name": "Bo", "bonus": "5 USDT"}}
    )

    campaign.refresh_from_db()
    assert task.cancelled
    assert (campaign.status, campaign.native_task_ids, campaign.approved_hash) == ("draft", [], "")
    actions = list(
        AuditEvent.objects.filter(campaign=campaign).order_by("id").values_list("action", flat=True)
    )
    assert actions[-3:] == ["native_cancel", "void", "edit"]


def test_when_mpaas_does_not_confirm_the_cancel_nothing_changes(once, marketer):
    campaign, server, _dispatch, _fixed = once
    [task] = server.app.tasks.values()
    server.app.knobs.faults = {"InternalError": 1.0}

    with pytest.raises(NativeCancelFailed, match="nothing was changed"):
        campaign_cancel(campaign=campaign, actor=marketer)
    with pytest.raises(NativeCancelFailed):
        campaign_edit(campaign=campaign, actor=marketer, changes={"priority": 1})

    campaign.refresh_from_db()
    assert not task.cancelled
    assert (campaign.status, campaign.native_task_ids) == ("approved", [task.unique_id])
    assert not AuditEvent.objects.filter(
        campaign=campaign, action__in=["cancel", "void", "native_cancel"]
    ).exists()


def test_a_recurring_campaign_on_two_platforms_becomes_two_recurring_tasks(
    native_account, template, marketer, approve
):
    account, server = native_account
    today = timezone.now().astimezone(SHANGHAI).date()
    start, end = today + dt.timedelta(days=1), today + dt.timedelta(days=60)
    campaign = make_campaign(
        marketer,
        template=template,
        provider_account=account,
        audience=make_audience("all"),
        parameters={"name": "Ada", "bonus": "10 USDT"},
        provider_options={"DeliveryType": [1, 2]},
        schedule_kind="recurring",
        circle_type=2,
        circle_value=[1, 3],
        time=dt.time(9, 30),
        start_date=start,
        end_date=end,
        timezone="Asia/Shanghai",
    )
    approve(campaign)

    [dispatch] = run_due()

    expected = {
        "startTime": ms(dt.datetime.combine(start, dt.time(), SHANGHAI)),
        "endTime": ms(dt.datetime.combine(end, dt.time(), SHANGHAI)),
        "circleType": 2,
        "circleValue": [1, 3],
        "time": "09:30:00",
    }
    bodies = sorted((a.payload for a in server.app.accepted), key=lambda b: b["DeliveryType"])
    assert [(b["DeliveryType"], b["StrategyType"], json.loads(b["StrategyContent"])) for b in bodies] == [
        ("1", "2", expected),
        ("2", "2", expected),
    ]
    campaign.refresh_from_db()
    tasks = server.app.tasks
    assert sorted(campaign.native_task_ids) == sorted(tasks)
    assert {t.delivery_type for t in tasks.values()} == {1, 2}
    assert campaign.next_due_at == dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), SHANGHAI)
    # mPaaS lists the weekly pushes (Mondays and Wednesdays) as sub-tasks of each task.
    runs = [run for t in tasks.values() for run in t.runs(dt.timezone(dt.timedelta(hours=8)))]
    assert runs and all(
        dt.datetime.fromtimestamp(at / 1000, SHANGHAI).isoweekday() in (1, 3) for _u, _p, at in runs
    )
    assert dispatch.deliveries.count() == 2

    campaign_cancel(campaign=campaign, actor=marketer)
    assert all(t.cancelled for t in tasks.values())


def test_a_recurring_campaign_in_another_offset_is_refused_at_submit(native_account, template, marketer):
    account, _server = native_account
    today = timezone.now().astimezone(ZoneInfo("Europe/Berlin")).date()  # the campaign's zone
    campaign = make_campaign(
        marketer,
        template=template,
        provider_account=account,
        audience=make_audience("all"),
        parameters={"name": "Ada", "bonus": "10 USDT"},
        schedule_kind="recurring",
        circle_type=1,
        time=dt.time(9, 0),
        start_date=today + dt.timedelta(days=1),
        end_date=today + dt.timedelta(days=10),
        timezone="Europe/Berlin",
    )

    with pytest.raises(ValidationError) as refused:
        campaign_submit(campaign=campaign, actor=marketer)

    [message] = refused.value.message_dict["timezone"]
    assert "mPaaS runs this account's schedules on Asia/Shanghai wall time (UTC+08:00" in message


def test_the_pending_limit_counts_natively_scheduled_campaigns(once, template, marketer, settings):
    campaign, server, _dispatch, _fixed = once
    settings.CRIER_MAX_PENDING_SCHEDULED = 1
    second = make_campaign(
        marketer,
        template=template,
        provider_account=campaign.provider_account,
        audience=make_audience("all"),
        parameters={"name": "Ada", "bonus": "10 USDT"},
        schedule_kind="once",
        fixed_time=timezone.now() + dt.timedelta(hours=3),
    )

    with pytest.raises(ValidationError) as refused:
        campaign_submit(campaign=second, actor=marketer)

    assert (
        "already has 1 scheduled or recurring campaigns pending" in refused.value.message_dict["schedule"][0]
    )


def test_a_cron_campaign_stays_with_crier(native_account, template, marketer):
    from campaigns.sending.native import applies, strategy_options

    account, _server = native_account
    campaign = make_campaign(
        marketer,
        template=template,
        provider_account=account,
        audience=make_audience("all"),
        parameters={"name": "Ada", "bonus": "10 USDT"},
        schedule_kind="cron",
        cron="0 9 * * 1",
        start_date=timezone.now().date(),
        end_date=timezone.now().date() + dt.timedelta(days=7),
    )
    assert not applies(campaign) and strategy_options(campaign) == {}


def test_a_natively_scheduled_campaign_is_cancelled_not_recalled(once, reviewer):
    from campaigns.sending.recall import recall_refusal

    campaign, _server, _dispatch, _fixed = once

    assert "cancel the campaign to cancel them" in recall_refusal(campaign=campaign, user=reviewer)


def test_a_second_approval_registers_anew_and_keeps_only_the_new_task(once, marketer, approve):
    campaign, server, _dispatch, _fixed = once
    [old] = server.app.tasks.values()
    campaign_edit(campaign=campaign, actor=marketer, changes={"priority": 1})  # voids: cancels old
    time.sleep(1)  # request keys carry the occurrence to the second (real reviews take longer)

    approve(campaign)
    run_due()

    campaign.refresh_from_db()
    [new] = [t for t in server.app.tasks.values() if t.unique_id != old.unique_id]
    assert old.cancelled and not new.cancelled
    assert campaign.native_task_ids == [new.unique_id]
