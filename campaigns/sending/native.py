"""Native scheduling: delegate a campaign's schedule to the provider's own scheduler.

A provider account whose provider says so (``Provider.schedules_natively``: today mPaaS,
with ``settings["native_scheduling"] = true``) hands its ``once`` and ``recurring``
campaigns to the provider (mPaaS: ``PushBroadcast`` with ``StrategyType`` 1 or 2 and a
``StrategyContent``, built by ``Provider.native_schedule_options`` from the campaign's
:class:`~campaigns.schedules.spec.ScheduleSpec`) instead of firing each occurrence from
Crier's dispatcher. ``now`` campaigns are sent at once as always, and ``cron`` ones stay
with Crier (mPaaS has no cron). The life of such a campaign, with mPaaS:

1. **Submit / approve.** The usual rules hold — the end of a recurrence at most 180 days
   away, start and end not before today, at most ``CRIER_MAX_PENDING_SCHEDULED`` (100)
   scheduled campaigns pending per account — plus one of its own: mPaaS evaluates
   ``time`` and the start/end days in its console's zone (``settings["native_timezone"]``,
   default ``Asia/Shanghai``), so a recurring campaign's zone must have the same UTC
   offset at its push time on every day of the period (no daylight-saving change in
   between), or the pushes would come at other hours than the campaign says.
2. **Registration.** Approval makes the campaign due *now*: the dispatcher creates one
   dispatch whose request(s) — one per ``DeliveryType`` — carry the strategy. The answer's
   ``PushResult.Data`` is mPaaS's task id (``Delivery.provider_message_id``). The request
   bodies, strategy included, are in the approval snapshot like any other.
3. **Pending.** When that dispatch ends with at least one task registered, the campaign
   goes back to *approved* with the task ids in ``Campaign.native_task_ids`` and
   ``next_due_at`` at the end of its schedule, so it keeps holding its pending slot; the
   dispatcher creates no occurrences of its own for it (the emulator, like mPaaS, keeps a
   task table and fires nothing itself).
4. **Cancel.** Voiding the approval (an edit, a detected change) or cancelling the
   campaign first calls ``CancelPushScheduler`` with the task ids; the answer goes in the
   audit trail. If mPaaS does not confirm, nothing changes and the caller sees why: a
   voided campaign must not stay scheduled at mPaaS.
5. **End.** At ``next_due_at`` (the last occurrence has passed) the campaign is finished:
   ``approved → sending → sent``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError

from campaigns import stored_text
from campaigns.models import Campaign, ScheduleKind
from campaigns.schedules.spec import ScheduleError, ScheduleSpec
from providers import http as provider_http
from providers.base import NativeSchedule

NATIVE_KINDS = frozenset({ScheduleKind.ONCE, ScheduleKind.RECURRING})


def applies(campaign: Campaign) -> bool:
    """Return whether ``campaign`` is scheduled natively by its provider (see the module docstring)."""
    if campaign.schedule_kind not in NATIVE_KINDS:
        return False
    try:
        return campaign.provider_account.provider().schedules_natively()
    except KeyError:  # a kind no longer registered schedules nothing
        return False


def provider_zone(campaign: Campaign) -> ZoneInfo:
    """Return the zone the provider evaluates the account's schedules in."""
    return ZoneInfo(campaign.provider_account.provider().native_zone())


def strategy_options(campaign: Campaign) -> dict[str, Any]:
    """Return the options that register a natively scheduled campaign with its provider
    ({} otherwise). Nothing for a schedule that cannot be read: the schedule's own errors
    are reported at submit."""
    if not applies(campaign):
        return {}
    try:
        spec = ScheduleSpec.from_campaign(campaign)
    except ValidationError:
        return {}
    provider = campaign.provider_account.provider()
    schedule = NativeSchedule(
        kind=str(spec.kind),
        zone=provider.native_zone(),
        fixed_time=spec.fixed_time,
        start_date=spec.start_date,
        end_date=spec.end_date,
        time=spec.time,
        circle_type=spec.circle_type,
        circle_value=tuple(spec.circle_value or ()),
    )
    return provider.native_schedule_options(schedule)


def native_errors(campaign: Campaign) -> dict[str, list[str]]:
    """Return why ``campaign`` cannot be scheduled natively as it stands (empty: it can).

    Checked at submit and approve. A recurring campaign's zone must keep the provider
    zone's UTC offset at its push time on every day of the period.
    """
    if not applies(campaign) or campaign.schedule_kind != ScheduleKind.RECURRING:
        return {}
    try:
        spec = ScheduleSpec.from_campaign(campaign)
        zone = ZoneInfo(spec.timezone)
    except (ValidationError, ZoneInfoNotFoundError, ValueError):
        return {}  # the schedule's own checks report it
    if spec.start_date is None or spec.end_date is None or spec.time is None:
        return {}
    theirs = provider_zone(campaign)
    day = spec.start_date
    while day <= spec.end_date:
        ours = dt.datetime.combine(day, spec.time, zone).utcoffset()
        mpaas = dt.datetime.combine(day, spec.time, theirs).utcoffset()
        if ours != mpaas:
            return {
                "timezone": [
                    f"timezone {spec.timezone!r} is UTC{_offset(ours)} on {day:%Y-%m-%d} at "
                    f"{spec.time:%H:%M:%S}, but mPaaS runs this account's schedules on {theirs.key} "
                    f"wall time (UTC{_offset(mpaas)}, account setting native_timezone): with native "
                    "scheduling a recurring campaign must use a zone with the same offset all period"
                ]
            }
        day += dt.timedelta(days=1)
    return {}


def _offset(delta: dt.timedelta | None) -> str:
    minutes = int((delta or dt.timedelta()).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def schedule_end(campaign: Campaign) -> dt.datetime | None:
    """Return when mPaaS's last push of the campaign is due at the latest (UTC)."""
    try:
        spec = ScheduleSpec.from_campaign(campaign)
    except (ValidationError, ScheduleError):
        return None
    if spec.kind == ScheduleKind.ONCE:
        return spec.fixed_time.astimezone(dt.UTC) if spec.fixed_time else None
    if spec.end_date is None:
        return None
    end = dt.datetime.combine(spec.end_date + dt.timedelta(days=1), dt.time(), provider_zone(campaign))
    return end.astimezone(dt.UTC)


# --- the engine's hooks -----------------------------------------------------------------


def registered_task_ids(campaign: Campaign) -> list[str]:
    """Return the task ids mPaaS returned for the campaign's latest registration (its last
    dispatch: an earlier approval's tasks were cancelled when that approval went)."""
    from campaigns.models import Delivery, DeliveryStatus, Dispatch

    latest = (
        Dispatch.objects.filter(campaign=campaign, is_preview=False)
        .order_by("-due_at", "-pk")
        .values_list("pk", flat=True)
        .first()
    )
    if latest is None:
        return []
    return list(
        Delivery.objects.filter(dispatch_id=latest, status=DeliveryStatus.DELIVERED)
        .exclude(provider_message_id="")
        .order_by("batch_no")
        .values_list("provider_message_id", flat=True)
    )


def native_settle(campaign: Campaign) -> bool:
    """After the registration dispatch of a native campaign ended, keep it approved and
    pending until its schedule ends, holding mPaaS's task ids; return True if it did.

    False (the engine settles as usual) for any other campaign, or when mPaaS registered
    no task (the campaign then fails like any send that failed).
    """
    from campaigns.lifecycle import campaign_transition
    from campaigns.models import CampaignStatus

    if campaign.status != CampaignStatus.SENDING or not applies(campaign):
        return False
    task_ids = registered_task_ids(campaign)
    if not task_ids:
        return False
    ends = schedule_end(campaign)
    if ends:
        reason = stored_text.english(
            stored_text.NATIVE_SCHEDULED_UNTIL, count=len(task_ids), ends=f"{ends:%Y-%m-%d %H:%M}"
        )
    else:
        reason = stored_text.english(stored_text.NATIVE_SCHEDULED, count=len(task_ids))
    campaign_transition(
        campaign=campaign,
        to=CampaignStatus.APPROVED,
        action="native_scheduled",
        reason=reason,
        data={"task_ids": task_ids, "ends_at": ends.isoformat() if ends else None},
        fields={"native_task_ids": task_ids, "next_due_at": ends},
    )
    return True


def native_finish(campaign: Campaign, due_at: dt.datetime) -> bool:
    """At the end of a native campaign's schedule, finish it (approved → sending → sent)
    instead of dispatching an occurrence; return True if ``campaign`` is such a campaign.

    Called by the dispatcher inside its transaction, for a campaign due at ``due_at``.
    """
    from campaigns.lifecycle import campaign_transition
    from campaigns.models import CampaignStatus

    if not campaign.native_task_ids or not applies(campaign):
        return False
    if not Campaign.objects.filter(pk=campaign.pk, next_due_at=due_at).update(next_due_at=None):
        return True  # another ticker got here first
    campaign.next_due_at = None
    if campaign.status == CampaignStatus.APPROVED:
        campaign_transition(campaign=campaign, to=CampaignStatus.SENDING, reason=stored_text.NATIVE_ENDED)
    campaign_transition(
        campaign=campaign,
        to=CampaignStatus.SENT,
        reason=stored_text.NATIVE_SENT,
        data={"task_ids": list(campaign.native_task_ids)},
    )
    return True


# --- cancelling at mPaaS ----------------------------------------------------------------


def native_cancel(*, campaign: Campaign, actor=None, reason: str = "") -> dict[str, Any] | None:
    """Cancel the campaign's scheduled tasks at mPaaS (``CancelPushScheduler``) and audit the
    answer; return the answer, or None when there is nothing scheduled there.

    Call it inside the transaction that voids or cancels the campaign, before that change:
    raises ``campaigns.lifecycle.NativeCancelFailed`` (HTTP 409) when mPaaS does not
    confirm, so the change is rolled back rather than leaving an unapproved campaign
    scheduled at mPaaS. The caller clears
    ``native_task_ids`` in the same transaction.
    """
    import httpx

    from audit.services import record_event
    from campaigns.lifecycle import NativeCancelFailed
    from providers.base import ProviderError

    task_ids = [str(t) for t in campaign.native_task_ids or [] if t]
    if not task_ids:
        return None
    account = campaign.provider_account
    provider = account.provider(with_credentials=True)
    try:
        request = provider.cancel_schedule_request(task_ids)
        with provider_http.client(timeout=account.timeout_seconds) as client:
            result = provider.parse_cancel(client.send(request))
    except (ProviderError, httpx.HTTPError) as exc:
        raise NativeCancelFailed(
            f"mPaaS did not cancel the scheduled tasks {', '.join(task_ids)} of campaign "
            f"{campaign.pk} ({type(exc).__name__}: {exc}); nothing was changed, try again"
        ) from exc
    answer = {
        "task_ids": task_ids,
        "outcome": str(result.outcome),
        "code": result.code,
        "message": result.message,
        "http_status": result.http_status,
    }
    if result.outcome.value != "delivered":
        raise NativeCancelFailed(
            f"mPaaS did not cancel the scheduled tasks {', '.join(task_ids)} of campaign "
            f"{campaign.pk} ({result.code}: {result.message}); nothing was changed, try again"
        )
    record_event(
        campaign=campaign,
        object_type="campaign",
        object_id=campaign.pk,
        action="native_cancel",
        from_state=campaign.status,
        to_state=campaign.status,
        actor=actor,
        reason=reason,
        data=answer,
    )
    return answer
