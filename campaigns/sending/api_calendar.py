"""REST API of the calendar: upcoming occurrences across campaigns, by day.

``GET /api/v1/calendar/?from=YYYY-MM-DD&to=YYYY-MM-DD``: upcoming occurrences by day
(default today to 30 days on, at most 92 days), overlaps on one audience flagged, a dense
campaign one row a day with its count (the rule of ``campaigns.sending.selectors``). It takes
``campaigns.view_campaign``, which every role has.
"""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from campaigns.sending.api import LedgerPermission
from campaigns.sending.selectors import CALENDAR_DENSE_PER_DAY, calendar_days, calendar_occurrences

CALENDAR_DEFAULT_DAYS = 30
CALENDAR_MAX_DAYS = 92
CALENDAR_FIRST_DAY = dt.date(1970, 1, 1)
CALENDAR_LAST_DAY = dt.date(9000, 12, 31)
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


class CalendarPermission(LedgerPermission):
    required = {"get": ("campaigns.view_campaign",)}


def _date_param(request: Request, name: str) -> dt.date | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    try:
        day = dt.date.fromisoformat(value) if DATE_RE.fullmatch(value) else None
    except ValueError:
        day = None
    if day is None:
        raise ValidationError({name: [_("%(name)s %(value)r is not a date; use YYYY-MM-DD")
                                      % {"name": name, "value": value}]})
    if not CALENDAR_FIRST_DAY <= day <= CALENDAR_LAST_DAY:
        raise ValidationError(
            {name: [_("%(name)s %(day)s is outside the dates a calendar shows (%(first)s to %(last)s)")
                    % {"name": name, "day": day, "first": CALENDAR_FIRST_DAY, "last": CALENDAR_LAST_DAY}]}
        )
    return day


class LocalDateTimeField(serializers.DateTimeField):
    """An aware datetime shown with its own UTC offset (not converted to the server's zone)."""

    def to_representation(self, value: dt.datetime) -> str:
        return value.isoformat()


class CalendarOccurrenceSerializer(serializers.Serializer):
    campaign_id = serializers.IntegerField()
    name = serializers.CharField(source="campaign_name")
    status = serializers.CharField(help_text="approved, sending or in_review.")
    approved = serializers.BooleanField(help_text="False while the campaign is still in review.")
    provider_kind = serializers.CharField()
    provider_account_id = serializers.IntegerField()
    provider_account_name = serializers.CharField()
    audience_id = serializers.IntegerField()
    audience_name = serializers.CharField()
    due_at = serializers.DateTimeField(default_timezone=dt.UTC, help_text="The due time in UTC.")
    local_time = LocalDateTimeField(help_text="The due time in the campaign's own time zone.")
    timezone = serializers.CharField(help_text="The campaign's IANA time zone.")
    overlaps = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Other campaigns due to the same audience on the same day.",
    )
    count = serializers.IntegerField(
        help_text="How many times the campaign is due that day in this row: 1, or, for a dense "
        f"campaign (more than {CALENDAR_DENSE_PER_DAY} occurrences on a day, e.g. a cron every "
        "minute), all of that day's occurrences in one row, from due_at to last_due_at."
    )
    last_due_at = serializers.DateTimeField(
        default_timezone=dt.UTC,
        allow_null=True,
        help_text="The row's last due time in UTC when count is more than 1, else null.",
    )
    held = serializers.BooleanField(
        help_text="An occurrence held because its reach grew past the approved bound: a reviewer "
        "confirms it (POST /api/v1/dispatches/{id}/confirm/) or it expires."
    )


class CalendarDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    occurrences = CalendarOccurrenceSerializer(many=True)


class CalendarSerializer(serializers.Serializer):
    # "from" is a Python keyword: declared as from_ and renamed in get_fields.
    from_ = serializers.DateField(source="start", help_text="First day shown.")
    to = serializers.DateField(source="end", help_text="Last day shown.")
    timezone = serializers.CharField(help_text="The zone days are counted in (the server's TIME_ZONE).")
    count = serializers.IntegerField(help_text="Occurrences in the period (the sum of the rows' count).")
    days = CalendarDaySerializer(many=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        return {("from" if name == "from_" else name): field for name, field in super().get_fields().items()}


@extend_schema(tags=["campaigns"])
class CalendarView(APIView):
    """Upcoming occurrences across campaigns, by day."""

    permission_classes = [CalendarPermission]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "from", dt.date, required=False, description="First day (YYYY-MM-DD); default today."
            ),
            OpenApiParameter(
                "to",
                dt.date,
                required=False,
                description=f"Last day (YYYY-MM-DD); default {CALENDAR_DEFAULT_DAYS} days after from; "
                f"at most {CALENDAR_MAX_DAYS} days in all.",
            ),
        ],
        responses=CalendarSerializer,
    )
    def get(self, request: Request) -> Response:
        """List the occurrences due from ``from`` to ``to`` by day, overlaps flagged.

        Campaigns approved or sending, and those in review (``approved`` false). Days are
        counted in the server's time zone; each occurrence also shows its campaign's
        local time. A campaign due more than a few times on a day (a cron every minute) is
        one row that day with its ``count``, as on the admin's calendar and dashboard.
        """
        start, end = _calendar_period(request)
        found = calendar_occurrences(start=start, end=end, include_held=True)
        data = {
            "start": start,
            "end": end,
            "timezone": timezone.get_current_timezone_name(),
            "count": sum(o.count for o in found),
            "days": calendar_days(found),
        }
        return Response(CalendarSerializer(data).data)


def _calendar_period(request: Request) -> tuple[dt.date, dt.date]:
    """Return (from, to) of a calendar request; 400 naming the parameter that is wrong."""
    start = _date_param(request, "from") or timezone.localdate()
    end = _date_param(request, "to") or start + dt.timedelta(days=CALENDAR_DEFAULT_DAYS)
    if end < start:
        raise ValidationError(
            {"to": [_("to %(end)s is before from %(start)s; the period must not end before it starts")
                    % {"end": end, "start": start}]}
        )
    days = (end - start).days + 1
    if days > CALENDAR_MAX_DAYS:
        raise ValidationError(
            {"to": [_("to %(end)s makes the period %(days)s days long (from %(start)s); "
                      "the calendar shows at most %(most)s days")
                    % {"end": end, "days": days, "start": start, "most": CALENDAR_MAX_DAYS}]}
        )
    return start, end
