"""mPaaS native scheduling: delegate a campaign's schedule to mPaaS's own scheduler.

An mPaaS provider account with ``settings["native_scheduling"] = true`` hands its
``once`` and ``recurring`` campaigns to mPaaS (``PushBroadcast`` with ``StrategyType`` 1 or
2 and a ``StrategyContent`` built from the campaign's :class:`~campaigns.schedule.ScheduleSpec`)
instead of firing each occurrence from Crier's dispatcher. ``now`` campaigns are sent at
once as always, and ``cron`` ones stay with Crier (mPaaS has no cron).

The life of such a campaign:

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

from campaigns.models import Campaign, ScheduleKind
from campaigns.schedule import ScheduleError, ScheduleSpec

NATIVE_KINDS = frozenset({ScheduleKind.ONCE, ScheduleKind.RECURRING})
DEFAULT_TIMEZONE = "Asia/Shanghai"


def applies(campaign: Campaign) -> bool:
    """Return whether ``campaign`` is scheduled natively by mPaaS (see the module docstring)."""
    account = campaign.provider_account
    return (
        account.kind == "mpaas"
        and bool((account.settings or {}).get("native_scheduling"))
        and campaign.schedule_kind in NATIVE_KINDS
    )


def provider_zone(campaign: Campaign) -> ZoneInfo:
    """Return the zone mPaaS evaluates the account's schedules in."""
    name = (campaign.provider_account.settings or {}).get("native_timezone") or DEFAULT_TIMEZONE
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def strategy_options(campaign: Campaign) -> dict[str, Any]:
    """Return ``StrategyType``/``StrategyContent`` for a natively scheduled campaign ({} otherwise).

    ``once``: ``{"fixedTime": ms}``. ``recurring``: ``startTime``/``endTime`` at 00:00 of
    the start and end days in the provider's zone, ``circleType``, ``circleValue`` (weekly
    and monthly) and ``time`` (HH:mm:ss). Nothing for a schedule that cannot be read: the
    schedule's own errors are reported at submit.
    """
    if not applies(campaign):
        return {}
    try:
        spec = ScheduleSpec.from_campaign(campaign)
    except ValidationError:
        return {}
    if spec.kind == ScheduleKind.ONCE:
        if spec.fixed_time is None:
            return {}
        return {"StrategyType": 1, "StrategyContent": {"fixedTime": _ms(spec.fixed_time)}}
    if spec.start_date is None or spec.end_date is None or spec.time is None or spec.circle_type is None:
        return {}
    zone = provider_zone(campaign)
    content: dict[str, Any] = {
        "startTime": _ms(dt.datetime.combine(spec.start_date, dt.time(), zone)),
        "endTime": _ms(dt.datetime.combine(spec.end_date, dt.time(), zone)),
        "circleType": spec.circle_type,
        "time": spec.time.strftime("%H:%M:%S"),
    }
    if spec.circle_type in (2, 3):
        content["circleValue"] = list(spec.circle_value)
    return {"StrategyType": 2, "StrategyContent": content}


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
