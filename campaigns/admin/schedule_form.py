"""The schedule part of the campaign admin form: its widgets and fields, the occurrence
preview the form's script asks for, and the schedule check run on save.

Which fields each schedule kind shows comes from ``campaigns.schedules.kinds``; the form
hands that table to ``campaign_form.js`` (``form_table``) so the script holds no copy.
``fixed_time`` is a local date and time in the campaign's ``timezone`` (stored in UTC);
``circle_value`` is weekday or month-day checkboxes; ``time`` and the dates are pickers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import CircleType, ScheduleKind
from campaigns.schedules.kinds import SCHEDULE_FIELDS, kind_rules, label
from campaigns.schedules.notes import notes
from campaigns.schedules.occurrences import next_occurrences
from campaigns.schedules.spec import ScheduleSpec, known_time_zones, zone_or_none
from campaigns.schedules.validation import context_errors, validate, write_errors
from campaigns.volume import form_volume
from providers import safe_json

WEEKDAYS = (
    (1, gettext_lazy("Mon")), (2, gettext_lazy("Tue")), (3, gettext_lazy("Wed")), (4, gettext_lazy("Thu")),
    (5, gettext_lazy("Fri")), (6, gettext_lazy("Sat")), (7, gettext_lazy("Sun")),
)
LOCAL_INPUT = "%Y-%m-%dT%H:%M"
# What separates the items of a list typed in one input ("a, b c").
LIST_SEPARATORS = re.compile(r"[\s,;]+")
# Validation errors on the spec as a whole, shown on the form's kind field.
_FORM_FIELD = {"kind": "schedule_kind", "schedule": "schedule_kind"}


# The zones most campaigns use, offered first (Crier's providers are Asian; docs/providers.md).
COMMON_ZONES: tuple[str, ...] = (
    "UTC", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Singapore", "Asia/Tokyo", "Asia/Seoul",
    "Asia/Kolkata", "Asia/Dubai", "Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Istanbul",
    "America/New_York", "America/Chicago", "America/Los_Angeles", "America/Sao_Paulo", "Australia/Sydney",
)
# The areas of the tz database: a place's zone is "Area/Location". Names outside them
# ("localtime", "Etc/GMT+8", "US/Eastern", "posixrules") are aliases or machine files.
ZONE_AREAS: tuple[str, ...] = (
    "Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian",
    "Pacific",
)


@cache
def time_zone_names() -> tuple[str, ...]:
    """Return the IANA zone names the form offers: the common ones, then every Area/Location."""
    places = sorted(
        name for name in available_timezones() if name.split("/", 1)[0] in ZONE_AREAS and "/" in name
    )
    return (*COMMON_ZONES, *(name for name in places if name not in COMMON_ZONES))


def time_zone_choices(current: str | None = None) -> list[tuple[Any, Any]]:
    """Return the time zone select's choices: "Common" first, then one group per area.

    ``current``, a stored zone the list does not offer (an alias such as US/Eastern that an
    older version or the API accepted), is kept in a group of its own so editing keeps it.
    """
    groups: dict[str, list[tuple[str, str]]] = {}
    for name in time_zone_names()[len(COMMON_ZONES):]:
        area = name.split("/", 1)[0]
        groups.setdefault(area, []).append((name, name))
    choices: list[tuple[Any, Any]] = [(gettext_lazy("Common"), [(name, name) for name in COMMON_ZONES])]
    if current and current not in time_zone_names() and current in known_time_zones():
        choices.append((gettext_lazy("Current"), [(current, current)]))
    choices.extend((area, names) for area, names in groups.items())
    return choices


def schedule_preview(data: Mapping[str, Any], *, now: dt.datetime | None = None, count: int = 5) -> dict:
    """Return the next ``count`` occurrences, errors and notes of the schedule in ``data``.

    ``data`` holds the form's schedule fields (``schedule_kind``, ``fixed_time`` as a
    local date and time in ``timezone``, ``circle_type``, ``circle_value`` as "1,3",
    ``time``, ``start_date``, ``end_date``, ``cron``) and the chosen ``audience`` and
    ``provider_account`` ids. Occurrences are listed in the schedule's zone and in UTC;
    ``volume`` holds the totals and warnings (``campaigns.volume.form_volume``).
    """
    now = now or timezone.now()
    kind = str(data.get("schedule_kind") or ScheduleKind.NOW)
    raw = {
        "kind": kind,
        "fixed_time": data.get("fixed_time") or None,
        "circle_type": data.get("circle_type") or None,
        "circle_value": data.get("circle_value") or "",
        "time": data.get("time") or None,
        "start_date": data.get("start_date") or None,
        "end_date": data.get("end_date") or None,
        "cron": data.get("cron") or "",
        "timezone": data.get("timezone") or "UTC",
    }
    rules = kind_rules(kind)
    if rules is None or "circle_type" not in rules.fields:
        # The repeat select always posts a value; a kind without repeats must not note it.
        raw.update(circle_type=None, circle_value="")
    try:
        spec = ScheduleSpec.from_dict(raw)
    except ValidationError as exc:
        return {"kind": kind, "occurrences": [], "errors": exc.message_dict, "notes": []}
    errors = {_FORM_FIELD.get(k, k): v for k, v in validate(spec, now=now).items()}
    result: dict[str, Any] = {"kind": kind, "occurrences": [], "errors": errors, "notes": notes(spec)}
    if rules is not None and rules.due_on_approval:
        result["notes"] = [_("sent as soon as it is approved"), *result["notes"]]
        return result
    if errors:
        return result
    zone = zone_or_none(spec.timezone) or dt.UTC
    result["occurrences"] = [
        {
            # Django's date formats, in the language asked for: "Mon 2026-12-07 09:00" in
            # English, "2026年12月7日 周一 09:00" in zh-Hans (README, "Languages").
            "utc": moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),  # ISO digits: one form for all
            "local": date_format(moment.astimezone(zone), _("D Y-m-d H:i")),
            "iso": moment.isoformat(),
        }
        for moment in next_occurrences(spec, after=now, count=count)
    ]
    result["timezone"] = spec.timezone
    # Totals and warnings (campaigns/volume.py), to the audience and account chosen on the form.
    result["volume"] = form_volume(
        spec, audience_id=data.get("audience"), account_id=data.get("provider_account"), now=now
    )
    return result


def schedule_errors(
    values: Mapping[str, Any], *, now: dt.datetime | None = None
) -> tuple[dict[str, list[str]], list[str]]:
    """Return the schedule's errors by form field, as every save (admin or API) refuses them,
    and the messages of the rules of the moment, which only submitting refuses.

    ``values`` holds the cleaned ``SCHEDULE_FIELDS``. The errors are
    ``campaigns.schedules.validation.write_errors`` (the check ``campaign_clean`` runs for
    the API too), keyed by the form field they are shown by; the second part is
    ``context_errors`` at ``now``, which the admin shows as a warning after saving. A
    campaign due on approval has no schedule rules to break; a value that cannot be read
    already has its field error, so it gives nothing here.
    """
    kind = values.get("schedule_kind")
    rules = kind_rules(kind)
    if kind is None or (rules is not None and rules.due_on_approval):
        return {}, []
    raw = {name: values.get(name) for name in SCHEDULE_FIELDS if name != "schedule_kind"}
    try:
        spec = ScheduleSpec.from_dict({**raw, "kind": kind})
    except ValidationError:
        return {}, []
    found = write_errors(spec)
    later = context_errors(spec, now=now or timezone.now())
    warnings = [message for messages in later.values() for message in messages]
    return {_FORM_FIELD.get(field, field): messages for field, messages in found.items()}, warnings


class CircleValueWidget(forms.Widget):
    """Weekday checkboxes (weekly) and month-day checkboxes (monthly); the script shows one."""

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer=None) -> str:
        values = value if isinstance(value, list | tuple) else []
        chosen = {str(v) for v in values if v is not None}

        def boxes(suffix: str, choices) -> str:
            return format_html_join(
                "",
                '<label class="circle-choice">'
                '<input type="checkbox" name="{0}_{1}" value="{2}"{3}> {4}</label>',
                (
                    (name, suffix, number, " checked" if str(number) in chosen else "", label)
                    for number, label in choices
                ),
            )

        return format_html(
            '<div class="circle-value" id="id_{0}">'
            '<div class="circle-weekdays" data-circle-type="2" aria-label="{4}">{1}</div>'
            '<div class="circle-monthdays" data-circle-type="3" aria-label="{5}">{2}</div>'
            '<p class="circle-daily help" data-circle-type="1">{3}</p>'
            "</div>",
            name,
            boxes("weekly", WEEKDAYS),
            boxes("monthly", [(day, day) for day in range(1, 32)]),
            _("Every day."),
            _("Weekdays"),
            _("Days of the month"),
        )

    def value_from_datadict(self, data, files, name: str) -> Any:
        if name in data:  # the raw JSON list the model form took
            return data.get(name)
        circle_type = str(data.get("circle_type") or "")
        suffix = {str(CircleType.WEEKLY): "weekly", str(CircleType.MONTHLY): "monthly"}.get(circle_type)
        if suffix is None:
            return []
        getlist = getattr(data, "getlist", None)
        return getlist(f"{name}_{suffix}") if getlist else data.get(f"{name}_{suffix}", [])

    def value_omitted_from_data(self, data, files, name: str) -> bool:
        return False


class CircleValueField(forms.Field):
    """Weekdays 1-7 or month days 1-31, as a sorted list of whole numbers."""

    widget = CircleValueWidget

    def to_python(self, value: Any) -> list[int]:
        if value in (None, ""):
            return []
        if isinstance(value, str):
            text = value.strip()
            try:
                typed = [part for part in LIST_SEPARATORS.split(text) if part]
                # safe_json: nesting 100,000 deep was a RecursionError here (providers/safe_json.py)
                value = safe_json.loads(text) if text.startswith("[") else typed
            except safe_json.HostileInput as exc:
                raise ValidationError(safe_json.refusal(label("circle_value"), exc)) from exc
            except ValueError as exc:
                raise ValidationError(_not_days(text)) from exc
        try:
            return sorted({int(v) for v in value})
        except (TypeError, ValueError) as exc:
            raise ValidationError(_not_days(value)) from exc

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.to_python(initial or []) != self.to_python(data)
        except ValidationError:
            return True


class LocalDateTimeField(forms.DateTimeField):
    """A date and time as the user reads it in the campaign's zone (naive; the form converts)."""

    widget = forms.DateTimeInput(format=LOCAL_INPUT, attrs={"type": "datetime-local", "step": 60})
    input_formats = [LOCAL_INPUT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]

    def to_python(self, value: Any) -> dt.datetime | None:
        if value in self.empty_values:
            return None
        if isinstance(value, dt.datetime):
            return value
        text = str(value).strip()
        for fmt in self.input_formats:
            try:
                return dt.datetime.strptime(text, fmt)
            except ValueError:
                continue
        raise ValidationError(
            _("%(label)s: “%(value)s” is not a date and time; pick one, or type YYYY-MM-DD HH:MM.")
            % {"label": label("fixed_time"), "value": text},
            code="invalid",
        )


def _not_days(value: Any) -> str:
    return _("%(label)s: “%(value)s” is not a list of days; tick the days it sends on.") % {
        "label": label("circle_value"), "value": value,
    }

