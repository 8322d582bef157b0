"""The mPaaS PushBroadcast options a campaign may carry (``provider_options``), checked.

PushBroadcast's optional parameters by wire name (``pushStatus`` as in the
docs is accepted too): ``DeliveryType`` 1 Android / 2 iOS / 7 HarmonyOS, or a list of
them (one request each); ``PushStatus`` 0 bound users (needs ``BindPeriod``), 1 all
users, 2 unbound users (both need ``UnBindPeriod``), periods 1 = 7 days, 2 = 15, 3 = 60,
4 = permanent; ``TimeMode`` 1 replaces the periods by ranges in ms
(``BindStartTime``/``BindEndTime`` for PushStatus 0, ``UnBindStartTime``/``UnBindEndTime``
for 1 and 2); ``AndroidChannel`` 1 self-built / 2 default; ``Classification`` "0"
operational / "1" system (vivo); ``ThirdChannelCategory`` and ``NotifyLevel``
(``{vendor: value}``); ``MiChannelId``; ``TransparentMessagePayload`` (object) with
``TransparentMessageUrgency`` HIGH / NORMAL (only with a payload); ``ExtendedParams``
(≤ 20 keys); ``TaskName``; ``StrategyType``/``StrategyContent`` (0 now, 1 at
``fixedTime``, 2 recurring — Crier sets these itself for native scheduling); and the
SDK-only ``PushAction``, ``NotifyType``, ``Silent``, ``ChannelId``, ``TenantId``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _

from providers.base import NativeSchedule
from providers.option_fields import (
    LenientIntegerField,
    MultipleOptionChoiceField,
    ObjectField,
    OptionChoiceField,
    OptionsSchema,
    OptionTextField,
)
from providers.options import Checked, as_int, as_object, is_int, show

MPAAS_DELIVERY_TYPES = {1: "Android", 2: "iOS", 7: "HarmonyOS"}
MPAAS_PERIODS = "1 (7 days), 2 (15 days), 3 (60 days) or 4 (permanent)"
MPAAS_MAX_EXTENDED_PARAMS = 20
# Optional PushBroadcast parameters by wire name, and the type each is read as.
MPAAS_PARAMS: dict[str, type] = {
    "DeliveryType": int,
    "StrategyType": int,
    "StrategyContent": dict,
    "PushStatus": int,
    "BindPeriod": int,
    "UnBindPeriod": int,
    "TimeMode": int,
    "BindStartTime": int,
    "BindEndTime": int,
    "UnBindStartTime": int,
    "UnBindEndTime": int,
    "AndroidChannel": int,
    "Classification": str,
    "ExtendedParams": dict,
    "PushAction": int,
    "NotifyType": str,
    "Silent": int,
    "TransparentMessagePayload": dict,
    "TransparentMessageUrgency": str,
    "ThirdChannelCategory": dict,
    "NotifyLevel": dict,
    "MiChannelId": str,
    "ChannelId": str,
    "TenantId": str,
    "TaskName": str,
}
# Parameters Crier sets from the campaign; an option of the same name would fight them.
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$")
MPAAS_OWN = frozenset(
    {"AppId", "WorkspaceId", "TemplateName", "TemplateKeyValue", "ExpiredSeconds", "Msgkey"}
)


def mpaas_wire_name(name: str) -> str:
    """Return the PascalCase wire name of an option written as in the docs (``pushStatus``)."""
    return name[:1].upper() + name[1:]


MPAAS_PERIOD_CHOICES = [(1, _("7 days")), (2, _("15 days")), (3, _("60 days")), (4, _("permanent"))]


def _ms_field(label: Any, help_text: Any) -> LenientIntegerField:
    return LenientIntegerField(required=False, min_value=0, label=label, help_text=help_text)


class MpaasOptionsSerializer(OptionsSchema):
    """The optional parameters of an mPaaS PushBroadcast, by wire name (docs/providers.md, mPaaS).

    Names written as in the mPaaS docs (pushStatus) are read as the wire names. PushStatus 0
    needs BindPeriod, 1 and 2 need UnBindPeriod; TimeMode 1 replaces the period by the
    start and end times of the same prefix.
    """

    provider_label = "mPaaS"
    # mPaaS names unknown and Crier-owned parameters in its own words (``_mpaas_read``).
    refuse_unknown_keys = False
    advanced = frozenset(
        {"StrategyType", "StrategyContent", "PushAction", "NotifyType", "Silent", "ChannelId", "TenantId"}
    )

    DeliveryType = MultipleOptionChoiceField(
        choices=list(MPAAS_DELIVERY_TYPES.items()),
        required=False,
        label=_("Platforms"),
        help_text=_("One request per platform ticked. None ticked: the account's delivery type."),
    )
    PushStatus = OptionChoiceField(
        choices=[(0, _("bound users")), (1, _("all users")), (2, _("unbound users"))],
        required=False,
        label=_("Devices"),
        help_text=_(
            "Which devices by log-on state. Bound users need a bind period; all and unbound users "
            "need an unbind period (or TimeMode 1 with a time range)."
        ),
    )
    BindPeriod = OptionChoiceField(
        choices=MPAAS_PERIOD_CHOICES, required=False, label=_("Bind period"),
        help_text=_("For bound users: how long ago the user logged on."),
    )  # fmt: skip
    UnBindPeriod = OptionChoiceField(
        choices=MPAAS_PERIOD_CHOICES, required=False, label=_("Unbind period"),
        help_text=_("For all or unbound users: how long ago the device was unbound."),
    )  # fmt: skip
    TimeMode = OptionChoiceField(
        choices=[(0, _("fixed number of days")), (1, _("time range"))],
        required=False,
        label=_("Time mode"),
        help_text=_("Time range replaces the periods by start and end times in milliseconds."),
    )
    BindStartTime = _ms_field(
        _("Bind start (ms)"), _("Time mode 1, bound users: from, in epoch milliseconds.")
    )
    BindEndTime = _ms_field(_("Bind end (ms)"), _("Time mode 1, bound users: until, in epoch milliseconds."))
    UnBindStartTime = _ms_field(
        _("Unbind start (ms)"), _("Time mode 1, all or unbound users: from, in epoch milliseconds.")
    )
    UnBindEndTime = _ms_field(
        _("Unbind end (ms)"), _("Time mode 1, all or unbound users: until, in epoch milliseconds.")
    )
    AndroidChannel = OptionChoiceField(
        choices=[(1, _("MPS self-built channel")), (2, _("default channel"))],
        required=False,
        label=_("Android channel"),
        help_text=_("The channel Android devices are reached through."),
    )
    Classification = OptionChoiceField(
        choices=[("0", _("operational")), ("1", _("system"))],
        required=False,
        label=_("Classification (vivo)"),
        help_text=_("vivo's message class."),
    )
    ThirdChannelCategory = ObjectField(
        required=False, string_values=True, label=_("Vendor categories"),
        help_text=_('Per vendor channel category, e.g. {"hms": "9"}.'),
    )  # fmt: skip
    NotifyLevel = ObjectField(
        required=False, string_values=True, label=_("Vendor notification levels"),
        help_text=_('Per vendor notification level, e.g. {"oppo": "2"}.'),
    )  # fmt: skip
    MiChannelId = OptionTextField(
        required=False,
        accept_integers=True,
        label=_("Xiaomi channel id"),
        help_text=_("Xiaomi's channel id."),
    )
    TransparentMessagePayload = ObjectField(
        required=False, label=_("Pass-through payload"),
        help_text=_("An object handed to the vendor as a pass-through message."),
    )  # fmt: skip
    TransparentMessageUrgency = OptionChoiceField(
        choices=[("HIGH", "HIGH"), ("NORMAL", "NORMAL")],
        required=False,
        label=_("Pass-through urgency"),
        help_text=_("Only with a pass-through payload."),
    )
    ExtendedParams = ObjectField(
        required=False, max_keys=MPAAS_MAX_EXTENDED_PARAMS, label=_("Extended parameters"),
        help_text=_("An object of at most 20 keys handed to the app."),
    )  # fmt: skip
    TaskName = OptionTextField(
        required=False, max_length=200, label=_("Task name"),
        help_text=_("The push task's name in the mPaaS console. Empty: the campaign's name."),
    )  # fmt: skip
    StrategyType = OptionChoiceField(
        choices=[(0, _("now")), (1, _("scheduled")), (2, _("recurring"))],
        required=False,
        label=_("Strategy type"),
        help_text=_("Set by Crier for native scheduling; leave it out."),
    )
    StrategyContent = ObjectField(
        required=False, label=_("Strategy content"), help_text=_("Set by Crier for native scheduling.")
    )
    PushAction = LenientIntegerField(
        required=False, label=_("Push action"), help_text=_("SDK-only parameter.")
    )
    NotifyType = OptionTextField(
        required=False, accept_integers=True, label=_("Notify type"), help_text=_("SDK-only parameter.")
    )
    Silent = LenientIntegerField(required=False, label=_("Silent"), help_text=_("SDK-only parameter."))
    ChannelId = OptionTextField(
        required=False, accept_integers=True, label=_("Channel id"), help_text=_("SDK-only parameter.")
    )
    TenantId = OptionTextField(
        required=False, accept_integers=True, label=_("Tenant id"), help_text=_("SDK-only parameter.")
    )

    @classmethod
    def normalise(cls, options: Mapping[str, Any]) -> Mapping[str, Any]:
        """Return the options by wire name (``pushStatus`` as in the docs is ``PushStatus``)."""
        return {mpaas_wire_name(str(name)): value for name, value in options.items()}


def mpaas_delivery_types(value: Any) -> list[int] | None:
    """Return the DeliveryType(s) ``value`` names (an int or a list), or None if malformed."""
    items = value if isinstance(value, list | tuple) else [value]
    types = [as_int(item) for item in items]
    if not types or any(t is None for t in types):
        return None
    return list(dict.fromkeys(t for t in types if t is not None))


def _mpaas_read(checked: Checked, options: Mapping[str, Any]) -> dict[str, Any]:
    """Return the options by wire name with their types read; record unknown or bad ones."""
    read: dict[str, Any] = {}
    for raw_name, value in options.items():
        name = mpaas_wire_name(str(raw_name))
        if name in MPAAS_OWN:
            checked.error(
                name, f"option {raw_name!r} is set by Crier from the campaign and cannot be overridden"
            )
            continue
        if name not in MPAAS_PARAMS:
            checked.error(
                str(raw_name),
                f"option {raw_name!r} is not a PushBroadcast parameter; "
                f"known: {', '.join(sorted(MPAAS_PARAMS))}",
            )
            continue
        if value is None:
            continue
        kind = MPAAS_PARAMS[name]
        if name == "DeliveryType":
            types = mpaas_delivery_types(value)
            if types is None:
                checked.error(name, f"DeliveryType {show(value)} must be 1, 2 or 7, or a list of them")
                continue
            read[name] = types
        elif kind is int:
            number = as_int(value)
            if number is None:
                checked.error(name, f"option {name}={value!r} must be an integer")
                continue
            read[name] = number
        elif kind is dict:
            parsed = as_object(value)
            if parsed is None:
                checked.error(name, f"option {name}={value!r} must be a JSON object")
                continue
            read[name] = parsed
        else:
            if is_int(value):
                value = str(value)
            if not isinstance(value, str):
                checked.error(name, f"option {name}={value!r} must be a string")
                continue
            read[name] = value
    return read


def _mpaas_choice(checked: Checked, read: dict[str, Any], name: str, choices: Mapping[Any, str]) -> None:
    if name in read and read[name] not in choices:
        items = [f"{k} ({v})" if v else str(k) for k, v in choices.items()]
        allowed = ", ".join(items[:-1]) + f" or {items[-1]}" if len(items) > 1 else items[0]
        checked.error(name, f"{name} {show(read[name])} must be {allowed}")
        del read[name]


def _mpaas_audience_rules(checked: Checked, read: dict[str, Any]) -> None:
    """Enforce the documented rules between PushStatus, the periods and TimeMode."""
    status = read.get("PushStatus")
    mode = read.get("TimeMode", 0)
    periods = [n for n in ("BindPeriod", "UnBindPeriod") if n in read]
    ranges = [n for n in ("BindStartTime", "BindEndTime", "UnBindStartTime", "UnBindEndTime") if n in read]
    if status is None:
        for name in periods + ranges + (["TimeMode"] if "TimeMode" in read else []):
            checked.error(name, f"{name} selects devices by log-on state; it needs PushStatus (0, 1 or 2)")
        return
    bound = status == 0
    prefix = "Bind" if bound else "UnBind"
    wrong = "UnBind" if bound else "Bind"
    whom = "bound users" if bound else ("all users" if status == 1 else "unbound users")
    if mode == 0:
        for name in ranges:
            checked.error(name, f"{name} is a TimeMode 1 range; with TimeMode 0 give {prefix}Period")
        if f"{prefix}Period" not in read:
            checked.error(
                f"{prefix}Period",
                f"{prefix}Period is required when PushStatus is {status} ({whom}): {MPAAS_PERIODS}",
            )
        if status != 1 and f"{wrong}Period" in read:
            checked.error(f"{wrong}Period", f"{wrong}Period does not apply to PushStatus {status} ({whom})")
        return
    for name in periods:
        checked.error(name, f"{name} is a TimeMode 0 setting; with TimeMode 1 give {prefix}StartTime/EndTime")
    start, end = f"{prefix}StartTime", f"{prefix}EndTime"
    for name in (start, end):
        if name not in read:
            checked.error(
                name, f"{name} (ms) is required when TimeMode is 1 and PushStatus is {status} ({whom})"
            )
    if start in read and end in read and read[start] > read[end]:
        checked.error(end, f"{end} {read[end]} is before {start} {read[start]}")
    if status != 1:
        for name in (f"{wrong}StartTime", f"{wrong}EndTime"):
            if name in read:
                checked.error(name, f"{name} does not apply to PushStatus {status} ({whom})")


def _mpaas_strategy(checked: Checked, read: dict[str, Any]) -> None:
    strategy = read.get("StrategyType", 0)
    content = read.get("StrategyContent")
    if strategy == 0:
        if content is not None:
            checked.error(
                "StrategyContent", "StrategyContent needs StrategyType 1 (scheduled) or 2 (recurring)"
            )
        return
    if content is None:
        checked.error("StrategyContent", f"StrategyType {strategy} needs StrategyContent")
        return
    if strategy == 1:
        if not is_int(content.get("fixedTime")):
            checked.error("StrategyContent", "StrategyType 1 needs StrategyContent.fixedTime (ms)")
        return
    for name in ("startTime", "endTime"):
        if not is_int(content.get(name)):
            checked.error("StrategyContent", f"StrategyType 2 needs StrategyContent.{name} (ms)")
    if content.get("circleType") not in (1, 2, 3):
        checked.error(
            "StrategyContent", "StrategyContent.circleType must be 1 (daily), 2 (weekly) or 3 (monthly)"
        )
    if not isinstance(content.get("time"), str) or not _TIME_OF_DAY.match(content["time"]):
        checked.error("StrategyContent", f"StrategyContent.time {show(content.get('time'))} must be HH:mm:ss")


def check_mpaas(options: Mapping[str, Any], *, settings: Mapping[str, Any]) -> Checked:
    """Check PushBroadcast options (see the module docstring for the rules)."""
    checked = Checked()
    read = _mpaas_read(checked, options)
    if "DeliveryType" in read:
        bad = [t for t in read["DeliveryType"] if t not in MPAAS_DELIVERY_TYPES]
        if bad:
            checked.error(
                "DeliveryType",
                f"DeliveryType {bad[0]} is not valid; PushBroadcast takes "
                + ", ".join(f"{k} ({v})" for k, v in MPAAS_DELIVERY_TYPES.items()),
            )
            del read["DeliveryType"]
    _mpaas_choice(checked, read, "PushStatus", {0: "bound users", 1: "all users", 2: "unbound users"})
    for name in ("BindPeriod", "UnBindPeriod"):
        _mpaas_choice(checked, read, name, {1: "7 days", 2: "15 days", 3: "60 days", 4: "permanent"})
    _mpaas_choice(checked, read, "TimeMode", {0: "fixed number of days", 1: "time range"})
    _mpaas_choice(checked, read, "AndroidChannel", {1: "MPS self-built channel", 2: "default channel"})
    _mpaas_choice(checked, read, "Classification", {"0": "operational", "1": "system"})
    _mpaas_choice(checked, read, "TransparentMessageUrgency", {"HIGH": "", "NORMAL": ""})
    _mpaas_choice(checked, read, "StrategyType", {0: "now", 1: "scheduled", 2: "recurring"})
    for name in ("BindStartTime", "BindEndTime", "UnBindStartTime", "UnBindEndTime"):
        if name in read and read[name] < 0:
            checked.error(name, f"{name} {read[name]} must be a timestamp in milliseconds")
            del read[name]
    _mpaas_audience_rules(checked, read)
    if "TransparentMessageUrgency" in read and "TransparentMessagePayload" not in read:
        checked.error(
            "TransparentMessageUrgency",
            "TransparentMessageUrgency applies only with TransparentMessagePayload",
        )
    for name in ("ThirdChannelCategory", "NotifyLevel"):
        value = read.get(name)
        if value is None:
            continue
        if not value or not all(
            isinstance(k, str) and k and (isinstance(v, str) or is_int(v)) for k, v in value.items()
        ):
            checked.error(name, f'{name} {show(value)} must map vendors to values, e.g. {{"oppo": "2"}}')
            del read[name]
        else:
            read[name] = {k: str(v) for k, v in value.items()}
    extended = read.get("ExtendedParams")
    if extended is not None and len(extended) > MPAAS_MAX_EXTENDED_PARAMS:
        checked.error(
            "ExtendedParams",
            f"ExtendedParams has {len(extended)} keys; mPaaS allows at most {MPAAS_MAX_EXTENDED_PARAMS}",
        )
        del read["ExtendedParams"]
    if "TaskName" in read and not read["TaskName"].strip():
        checked.error("TaskName", "TaskName must not be empty")
        del read["TaskName"]
    _mpaas_strategy(checked, read)
    checked.values = read
    return checked


# --- native scheduling (docs/providers.md §3.4) ------------------------------------------


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def strategy_options(schedule: NativeSchedule) -> dict[str, Any]:
    """Return ``StrategyType``/``StrategyContent`` for ``schedule`` ({} when incomplete).

    ``once``: ``{"fixedTime": ms}``. ``recurring``: ``startTime``/``endTime`` at 00:00 of
    the start and end days in the schedule's zone, ``circleType``, ``circleValue`` (weekly
    and monthly) and ``time`` (HH:mm:ss).
    """
    if schedule.kind == "once":
        if schedule.fixed_time is None:
            return {}
        return {"StrategyType": 1, "StrategyContent": {"fixedTime": _ms(schedule.fixed_time)}}
    start, end, at, circle = schedule.start_date, schedule.end_date, schedule.time, schedule.circle_type
    if start is None or end is None or at is None or circle is None:
        return {}
    zone = ZoneInfo(schedule.zone)
    content: dict[str, Any] = {
        "startTime": _ms(dt.datetime.combine(start, dt.time(), zone)),
        "endTime": _ms(dt.datetime.combine(end, dt.time(), zone)),
        "circleType": circle,
        "time": at.strftime("%H:%M:%S"),
    }
    if circle in (2, 3):
        content["circleValue"] = list(schedule.circle_value)
    return {"StrategyType": 2, "StrategyContent": content}


# The example the campaign form offers to start from.
EXAMPLE: dict[str, Any] = {"DeliveryType": [1, 2], "PushStatus": 0, "BindPeriod": 3, "AndroidChannel": 2}
