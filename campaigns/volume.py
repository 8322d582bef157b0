"""Volume before approval: how many times a schedule sends, how many messages and provider
requests that makes, and the warnings a reviewer must acknowledge before approving.

This is the one module that decides the volume warnings (README, "Volume before
approval"); the campaign form's schedule preview, the review page, the API's
``approve/`` and ``manage.py approve_campaign`` all ask it.

* **Occurrences** are counted in the schedule's window from now on, with the schedule's
  own expansion (``campaigns.schedules.occurrences``), walking at most
  ``CRIER_VOLUME_COUNT_LIMIT`` of them: a cron every minute for eight weeks is 80,640 due
  times, and the walk costs one step per match, so past the limit the count says "more
  than N" instead of materialising them all.
* **Messages** per occurrence are the reach (``campaigns.audiences.services.audience_size``
  through the campaign's provider; None where only the provider knows).
* **Requests** per occurrence are asked of the provider class (``Provider.limits``,
  docs/architecture.md "Providers"): a broadcast is one request per request variant, a
  segment one, tags one per ``tags_per_request`` tags, a list of ids one per
  ``ids_per_request`` ids (Jiguang 1,000; Alipay+ one per recipient).
* **Warnings**: more than ``CRIER_VOLUME_MAX_PER_HOUR`` occurrences within any 60 minutes,
  and more than ``CRIER_VOLUME_MAX_MESSAGES_PER_DAY`` messages to the audience on one day
  of the campaign's zone. The densest hour and day are read from the counted occurrences.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from campaigns.audiences.services import audience_size
from campaigns.models import Audience, AudienceKind, Campaign
from campaigns.schedules.occurrences import occurrences
from campaigns.schedules.spec import ScheduleSpec, zone_or_none
from providers.models import ProviderAccount
from providers.registry import provider_class

HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class VolumeWarning:
    """One reason to look twice at a campaign's volume: ``code`` is stable (what an
    acknowledgement names), ``message`` the sentence shown, ``value`` and ``limit`` the
    measured number and the threshold it passed."""

    code: str
    message: str
    value: int
    limit: int

    def as_data(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "value": self.value, "limit": self.limit}


@dataclass(frozen=True, slots=True)
class Volume:
    """The volume of a schedule sent to an audience through a provider.

    ``occurrences`` is how many were counted; ``more`` says the schedule has more than
    that (the walk stopped at ``CRIER_VOLUME_COUNT_LIMIT``). ``reach`` is None where only
    the provider knows, and then ``messages`` is None too. ``messages`` and ``requests``
    are totals over the counted occurrences (lower bounds when ``more``).
    """

    occurrences: int
    more: bool
    reach: int | None
    requests_per_occurrence: int | None
    max_per_hour: int
    max_per_day: int
    warnings: tuple[VolumeWarning, ...] = field(default=())

    @property
    def messages(self) -> int | None:
        return None if self.reach is None else self.occurrences * self.reach

    @property
    def requests(self) -> int | None:
        per = self.requests_per_occurrence
        return None if per is None else self.occurrences * per

    def summary(self) -> str:
        """Return the totals as one sentence, e.g. "1,440 occurrences × 3 recipients = 4,320
        messages in 1,440 requests"."""
        params = {"n": f"{self.occurrences:,}"}
        if self.reach is None:
            if self.more:
                return _(
                    "More than %(n)s occurrences, each to an audience only the provider can count: "
                    "the total number of messages is not known here."
                ) % params
            return ngettext(
                "%(n)s occurrence, to an audience only the provider can count: the total number "
                "of messages is not known here.",
                "%(n)s occurrences, each to an audience only the provider can count: the total "
                "number of messages is not known here.",
                self.occurrences,
            ) % params
        params.update(
            reach=f"{self.reach:,}",
            messages=f"{self.messages:,}",
            requests=f"{self.requests:,}" if self.requests is not None else "?",
        )
        if self.more:
            return _(
                "More than %(n)s occurrences × %(reach)s recipients = more than %(messages)s "
                "messages in more than %(requests)s provider requests."
            ) % params
        return ngettext(
            "%(n)s occurrence × %(reach)s recipients = %(messages)s messages in %(requests)s "
            "provider requests.",
            "%(n)s occurrences × %(reach)s recipients = %(messages)s messages in %(requests)s "
            "provider requests.",
            self.occurrences,
        ) % params

    def as_data(self) -> dict[str, Any]:
        """The volume as the API and the form's preview answer it."""
        return {
            "occurrences": self.occurrences,
            "more": self.more,
            "reach": self.reach,
            "messages": self.messages,
            "requests_per_occurrence": self.requests_per_occurrence,
            "requests": self.requests,
            "max_per_hour": self.max_per_hour,
            "max_per_day": self.max_per_day,
            "summary": self.summary(),
            "warnings": [warning.as_data() for warning in self.warnings],
        }


def count_limit() -> int:
    return max(1, int(settings.CRIER_VOLUME_COUNT_LIMIT))


def densest(due_times: list[dt.datetime], zone: dt.tzinfo) -> tuple[int, int]:
    """Return the most of ``due_times`` (sorted) within any 60 minutes, and on any one day
    of ``zone``."""
    most_in_hour = 0
    start = 0
    for end, moment in enumerate(due_times):
        while moment - due_times[start] >= HOUR:
            start += 1
        most_in_hour = max(most_in_hour, end - start + 1)
    per_day = Counter(moment.astimezone(zone).date() for moment in due_times)
    return most_in_hour, max(per_day.values(), default=0)


def requests_per_occurrence(
    *, account: ProviderAccount | None, audience: Audience | None, reach: int | None, options: Any = None
) -> int | None:
    """Return how many provider requests one occurrence makes, as planning makes them
    (``campaigns.sending.plan``), from the provider class's limits; None when unknown."""
    if account is None or audience is None:
        return None
    try:
        limits = provider_class(account.kind).limits
    except KeyError:
        return None
    if audience.kind == AudienceKind.ALL and limits.broadcast:
        # One request per variant (mPaaS: one per DeliveryType), as planning asks.
        variants = account.provider().request_variants(options if isinstance(options, dict) else {})
        return max(1, len(variants))
    if audience.kind == AudienceKind.SEGMENT:
        return 1
    if audience.kind == AudienceKind.TAGS and limits.tags_per_request > 0:
        return max(1, math.ceil(len(audience.tags or []) / limits.tags_per_request))
    if reach is None or limits.ids_per_request < 1:
        return None
    return math.ceil(reach / limits.ids_per_request)


def volume_warnings(*, max_per_hour: int, max_per_day: int, reach: int | None) -> tuple[VolumeWarning, ...]:
    """Return the warnings of a schedule whose densest hour has ``max_per_hour`` occurrences
    and densest day ``max_per_day``, sent to ``reach`` recipients each time."""
    found: list[VolumeWarning] = []
    hour_limit = int(settings.CRIER_VOLUME_MAX_PER_HOUR)
    if max_per_hour > hour_limit:
        found.append(VolumeWarning(
            code="occurrences_per_hour",
            message=_(
                "This schedule sends %(value)s times within one hour; more than %(limit)s an "
                "hour (CRIER_VOLUME_MAX_PER_HOUR) needs the reviewer to acknowledge it."
            ) % {"value": f"{max_per_hour:,}", "limit": f"{hour_limit:,}"},
            value=max_per_hour,
            limit=hour_limit,
        ))
    day_limit = int(settings.CRIER_VOLUME_MAX_MESSAGES_PER_DAY)
    if reach is not None and max_per_day * reach > day_limit:
        per_day = max_per_day * reach
        found.append(VolumeWarning(
            code="messages_per_day",
            message=_(
                "This campaign sends %(value)s messages to its audience on one day (%(times)s "
                "occurrences × %(reach)s recipients); more than %(limit)s a day "
                "(CRIER_VOLUME_MAX_MESSAGES_PER_DAY) needs the reviewer to acknowledge it."
            ) % {
                "value": f"{per_day:,}", "times": f"{max_per_day:,}", "reach": f"{reach:,}",
                "limit": f"{day_limit:,}",
            },
            value=per_day,
            limit=day_limit,
        ))
    return tuple(found)


def schedule_volume(
    spec: ScheduleSpec,
    *,
    now: dt.datetime,
    reach: int | None,
    requests_each: int | None,
    first_due: dt.datetime | None = None,
) -> Volume:
    """Return the volume of ``spec`` from ``now`` on, ``reach`` recipients each time.

    A schedule due on approval has one occurrence (``first_due`` or now). Raises
    ``ScheduleError`` for a schedule that cannot be evaluated.
    """
    limit = count_limit()
    walked = list(occurrences(spec, after=now, limit=limit + 1))
    if not walked and spec.kind == "now":
        walked = [first_due or now]
    more = len(walked) > limit
    walked = walked[:limit]
    zone = zone_or_none(spec.timezone) or dt.UTC
    most_in_hour, most_in_day = densest(walked, zone)
    return Volume(
        occurrences=len(walked),
        more=more,
        reach=reach,
        requests_per_occurrence=requests_each,
        max_per_hour=most_in_hour,
        max_per_day=most_in_day,
        warnings=volume_warnings(max_per_hour=most_in_hour, max_per_day=most_in_day, reach=reach),
    )


def campaign_volume(
    *, campaign: Campaign, now: dt.datetime, reach: int | None = None, counted: bool = False
) -> Volume:
    """Return the volume of ``campaign`` from ``now`` on. ``reach`` (with ``counted``) is
    the reach under review (counted at submission); otherwise it is counted now."""
    if not counted:
        reach = audience_size(campaign.audience, provider_kind=campaign.provider_account.kind)
    spec = ScheduleSpec.from_campaign(campaign)
    requests_each = requests_per_occurrence(
        account=campaign.provider_account,
        audience=campaign.audience,
        reach=reach,
        options=campaign.provider_options,
    )
    return schedule_volume(
        spec, now=now, reach=reach, requests_each=requests_each, first_due=campaign.next_due_at
    )


def form_volume(spec: ScheduleSpec, *, audience_id: Any, account_id: Any, now: dt.datetime) -> dict[str, Any]:
    """Return the volume the campaign form shows as it is edited (``schedule_preview``):
    ``spec`` to the chosen audience (ids as posted; not yet saved) through the chosen
    account. Without an audience, the count of occurrences alone and a sentence saying so."""
    audience = _by_id(Audience, audience_id)
    account = _by_id(ProviderAccount, account_id)
    reach = audience_size(audience, provider_kind=account.kind if account else None) if audience else None
    volume = schedule_volume(
        spec,
        now=now,
        reach=reach,
        requests_each=requests_per_occurrence(account=account, audience=audience, reach=reach),
    )
    data = volume.as_data()
    if audience is None:
        data["summary"] = _("Choose an audience to see how many messages this schedule sends.")
    return data


def _by_id(model, raw: Any):
    text = str(raw or "")
    return model.objects.filter(pk=int(text)).first() if text.isdigit() else None
