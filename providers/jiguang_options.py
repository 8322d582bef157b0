"""The Jiguang UMS template message options a campaign may carry (``provider_options``), checked.

``app_para`` (``platform`` required: android, ios, quickapp, web, all, or
a list; ``time_to_live`` 0–864000 s; ``apns_production`` bool), ``rule_id`` (int ≥ 0),
``option`` (``owner``, ``black_id`` xor ``white_id``; ``priority`` 1–3 must equal the
campaign's priority, which is what Crier sends; ``sendno`` is Crier's request key);
``owner``/``black_id``/``white_id`` are also read at the top level. (With the account
setting ``api_review`` the channel has API review and ``option.owner`` is required; the
campaign layer, ``campaigns.provider_options``, fills it with the approving reviewer.)
``callback`` (``url`` http(s) without a custom port, ``params`` object). Channel
registration ids ``aud_app``, ``aud_wechatoa``, ``aud_wechatmp``, ``aud_sms``,
``aud_email``, ``aud_alipay_life``, ``aud_dingtalk_cc``, ``aud_wechatwk``,
``aud_wechatwk_linkedcorp``: a list of ids (≤ 1000 per channel) or the wire form
``[{"instance": …, "data": [ids]}]``; they replace tag/user/segment targets (never mixed)
and make ``rule_id`` meaningless, so both together are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from providers.option_fields import (
    ObjectField,
    OptionChoiceField,
    OptionsSchema,
    OptionTextField,
    SetByCrierField,
    StrictBooleanField,
    StrictIntegerField,
)
from providers.options import Checked, is_int, show

JIGUANG_PLATFORMS = ("android", "ios", "quickapp", "web", "all")
JIGUANG_MAX_TIME_TO_LIVE = 10 * 86400
JIGUANG_MAX_CHANNEL_IDS = 1000
JIGUANG_CHANNEL_AUDIENCES = (
    "aud_app", "aud_wechatoa", "aud_wechatmp", "aud_sms", "aud_email", "aud_alipay_life",
    "aud_dingtalk_cc", "aud_wechatwk", "aud_wechatwk_linkedcorp",
)  # fmt: skip
JIGUANG_OPTION_FIELDS = ("owner", "black_id", "white_id")
JIGUANG_KNOWN = (
    "app_para",
    "rule_id",
    "option",
    "callback",
    *JIGUANG_OPTION_FIELDS,
    *JIGUANG_CHANNEL_AUDIENCES,
)


_PLATFORM = {"type": "string", "enum": list(JIGUANG_PLATFORMS)}


@extend_schema_field({"oneOf": [_PLATFORM, {"type": "array", "items": _PLATFORM, "uniqueItems": True}]})
class PlatformField(serializers.ListField):
    """``platform``: one of :data:`JIGUANG_PLATFORMS`, or a list of distinct ones without ``all``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=OptionChoiceField(choices=[(p, p) for p in JIGUANG_PLATFORMS]), **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        listed = data if isinstance(data, list) else [data]
        if (
            not data
            or not all(isinstance(p, str) and p in JIGUANG_PLATFORMS for p in listed)
            or (isinstance(data, list) and ("all" in data or len(set(data)) != len(data)))
        ):
            raise serializers.ValidationError(
                _(
                    "platform %(value)s is required: one of %(platforms)s, or a list of distinct "
                    "platforms (without all)."
                )
                % {"value": show(data), "platforms": ", ".join(JIGUANG_PLATFORMS)}
            )
        return data


class JiguangAppParaSerializer(OptionsSchema):
    """UMS ``app_para``: the App channel's parameters."""

    unknown_words = _("%(name)r is not an App parameter; known: %(known)s")

    platform = PlatformField(
        label=_("Platforms"),
        help_text=_("The App channel's platforms: android, ios, quickapp, web; all for every one"),
        error_messages={"required": _("platform is required: one of android, ios, quickapp, web, all")},
    )
    time_to_live = StrictIntegerField(
        required=False,
        min_value=0,
        max_value=JIGUANG_MAX_TIME_TO_LIVE,
        seconds=True,
        label=_("Time to live (seconds)"),
        help_text=_("How long an offline device may still get the message: 0 to 864000 seconds (10 days)"),
    )
    apns_production = StrictBooleanField(
        required=False,
        label=_("APNs production"),
        help_text=_("Ticked: Apple's production environment; not ticked: the development one"),
    )


class JiguangSendOptionSerializer(OptionsSchema):
    """UMS ``option``: the send's owner and black or white list."""

    unknown_words = _("%(name)r is not a UMS option; known: %(known)s")
    advanced = frozenset({"priority", "sendno"})  # the campaign's priority; the request's key

    owner = OptionTextField(
        required=False,
        rule=_("the submitter's user name"),
        label=_("Owner"),
        help_text=_("The submitter's user name. Under API review Crier fills it with the approving reviewer"),
    )
    black_id = StrictIntegerField(
        required=False, min_value=0, label=_("Black list id"), help_text=_("Users on this list are skipped")
    )
    white_id = StrictIntegerField(
        required=False, min_value=0, label=_("White list id"),
        help_text=_("Only users on this list are sent to (not with a black list)"),
    )  # fmt: skip
    priority = OptionChoiceField(
        choices=[(1, _("high")), (2, _("normal")), (3, _("low"))],
        required=False,
        label=_("Priority"),
        help_text=_("Crier sends the campaign's priority; set it there"),
    )
    sendno = SetByCrierField(why=_("the request's key"), label=_("Send number"))


class JiguangCallbackSerializer(OptionsSchema):
    """UMS ``callback``: where UMS posts delivery results, and what it passes back."""

    unknown_words = _("%(name)r is not a callback field; known: %(known)s")

    url = OptionTextField(
        required=False,
        rule=_("an http(s) URL"),
        max_length=2048,
        label=_("Callback URL"),
        help_text=_("A URL registered in the UMS console, http or https, without a port"),
    )
    params = ObjectField(
        required=False,
        label=_("Callback parameters"),
        help_text=_("An object UMS passes back with the callback"),
    )


@extend_schema_field(
    {
        "type": "array",
        "minItems": 1,
        "items": {
            "oneOf": [
                {"type": "string", "minLength": 1},
                {
                    "type": "object",
                    "properties": {
                        "instance": {"type": "string"},
                        "data": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["data"],
                },
            ]
        },
    }
)
class ChannelIdsField(serializers.ListField):
    """Channel registration ids: a list of ids (≤ 1000), or the wire form ``[{instance, data}]``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.CharField(), **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if (
            not isinstance(data, list)
            or not data
            or not (all(isinstance(v, str) and v for v in data) or all(isinstance(v, Mapping) for v in data))
        ):
            raise serializers.ValidationError(
                _("%(name)s must be a list of registration ids or of {instance, data} objects")
                % {"name": self.field_name}
            )
        if all(isinstance(v, str) for v in data) and len(data) > JIGUANG_MAX_CHANNEL_IDS:
            raise serializers.ValidationError(
                _("%(name)s has %(count)d ids; UMS takes at most %(max)d per channel")
                % {"name": self.field_name, "count": len(data), "max": JIGUANG_MAX_CHANNEL_IDS}
            )
        return data


def _channel_ids(name: str) -> ChannelIdsField:
    return ChannelIdsField(
        required=False,
        label=_("App registration ids") if name == "aud_app" else name,
        help_text=_(
            "Registration ids of this channel (at most 1000), one a line; they need the everyone "
            "audience and become the whole audience."
        ),
    )


class JiguangOptionsSerializer(OptionsSchema):
    """The options of a UMS template message (docs/providers.md, Jiguang UMS)."""

    provider_label = "UMS template"
    advanced = frozenset({"owner", "black_id", "white_id", *JIGUANG_CHANNEL_AUDIENCES[1:]})

    app_para = JiguangAppParaSerializer(
        required=False, label=_("App channel"), help_text=_("Needed to reach the App channel")
    )
    rule_id = StrictIntegerField(
        required=False, min_value=0, label=_("Send policy id"),
        help_text=_("A UMS send policy (not with channel registration ids)"),
    )  # fmt: skip
    option = JiguangSendOptionSerializer(
        required=False, label=_("Send options"), help_text=_("Owner, black or white list")
    )
    callback = JiguangCallbackSerializer(
        required=False, label=_("Callback"), help_text=_("Delivery results posted by UMS")
    )
    owner = OptionTextField(
        required=False,
        rule=_("the submitter's user name"),
        label=_("Owner"),
        help_text=_("Same as option.owner"),
    )
    black_id = StrictIntegerField(
        required=False, min_value=0, label=_("Black list id"), help_text=_("Same as option.black_id")
    )
    white_id = StrictIntegerField(
        required=False, min_value=0, label=_("White list id"), help_text=_("Same as option.white_id")
    )
    aud_app = _channel_ids("aud_app")
    aud_wechatoa = _channel_ids("aud_wechatoa")
    aud_wechatmp = _channel_ids("aud_wechatmp")
    aud_sms = _channel_ids("aud_sms")
    aud_email = _channel_ids("aud_email")
    aud_alipay_life = _channel_ids("aud_alipay_life")
    aud_dingtalk_cc = _channel_ids("aud_dingtalk_cc")
    aud_wechatwk = _channel_ids("aud_wechatwk")
    aud_wechatwk_linkedcorp = _channel_ids("aud_wechatwk_linkedcorp")


def _jiguang_app_para(checked: Checked, value: Any) -> dict | None:
    if not isinstance(value, Mapping):
        checked.error("app_para", f"app_para {show(value)} must be an object with a platform")
        return None
    good = True
    for name in value:
        if name not in ("platform", "time_to_live", "apns_production"):
            checked.error(
                f"app_para.{name}",
                f"app_para.{name} is not an App parameter; known: platform, time_to_live, apns_production",
            )
            good = False
    platform = value.get("platform")
    listed = platform if isinstance(platform, list) else [platform]
    if (
        not platform
        or not all(p in JIGUANG_PLATFORMS for p in listed)
        or (isinstance(platform, list) and ("all" in platform or len(set(platform)) != len(platform)))
    ):
        checked.error(
            "app_para.platform",
            f"app_para.platform {show(platform)} is required: one of {', '.join(JIGUANG_PLATFORMS)}, "
            "or a list of distinct platforms (without all)",
        )
        good = False
    ttl = value.get("time_to_live")
    if ttl is not None and (not is_int(ttl) or not 0 <= ttl <= JIGUANG_MAX_TIME_TO_LIVE):
        checked.error(
            "app_para.time_to_live",
            f"app_para.time_to_live {ttl!r} must be 0 to {JIGUANG_MAX_TIME_TO_LIVE} seconds (10 days)",
        )
        good = False
    apns = value.get("apns_production")
    if apns is not None and not isinstance(apns, bool):
        checked.error(
            "app_para.apns_production", f"app_para.apns_production {show(apns)} must be true or false"
        )
        good = False
    return dict(value) if good else None


def _jiguang_option(checked: Checked, options: Mapping[str, Any], *, priority: int | None) -> dict:
    nested = options.get("option")
    if nested is None:
        nested = {}
    if not isinstance(nested, Mapping):
        checked.error("option", f"option {show(nested)} must be an object")
        nested = {}
    option: dict[str, Any] = {}
    for name, value in nested.items():
        if name == "sendno":
            checked.error("option.sendno", "option.sendno is set by Crier (the request's key)")
        elif name == "priority":
            if value not in (1, 2, 3) or isinstance(value, bool):
                checked.error(
                    "option.priority", f"option.priority {show(value)} must be 1 (high), 2 or 3 (low)"
                )
            elif priority is not None and value != priority:
                checked.error(
                    "option.priority",
                    f"option.priority {value} differs from the campaign's priority {priority}; "
                    "Crier sends the campaign's priority, set it there",
                )
        elif name in JIGUANG_OPTION_FIELDS:
            option[name] = (value, f"option.{name}")
        else:
            checked.error(
                f"option.{name}",
                f"option.{name} is not a UMS option; known: owner, black_id, white_id, priority",
            )
    for name in JIGUANG_OPTION_FIELDS:
        if options.get(name) is not None:
            if name in option:
                checked.error(name, f"{name} is given both at the top level and in option; give it once")
                continue
            option[name] = (options[name], name)
    values: dict[str, Any] = {}
    for name, (value, path) in option.items():
        if value is None:
            continue
        if name == "owner":
            if not isinstance(value, str) or not value.strip():
                checked.error(path, f"{path} {show(value)} must be the submitter's user name")
                continue
        elif not is_int(value):
            checked.error(path, f"{name} {value!r} must be an integer")
            continue
        values[name] = value
    if "black_id" in values and "white_id" in values:
        checked.error("option", "black_id and white_id cannot both be given")
        values.pop("white_id")
    return values


def _jiguang_callback(checked: Checked, value: Any) -> dict | None:
    if not isinstance(value, Mapping):
        checked.error("callback", "callback must be an object with url and/or params")
        return None
    good = True
    for name in value:
        if name not in ("url", "params"):
            checked.error(f"callback.{name}", f"callback.{name} is not a callback field; known: url, params")
            good = False
    url = value.get("url")
    if url is not None:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            checked.error("callback.url", f"callback.url {show(url)} must be an http(s) URL")
            good = False
        else:
            try:
                port = parts.port
            except ValueError:
                port = -1
            if port is not None:
                checked.error(
                    "callback.url",
                    f"callback.url {url!r} has a port; UMS calls back only on the default http(s) port",
                )
                good = False
    params = value.get("params")
    if params is not None and not isinstance(params, Mapping):
        checked.error("callback.params", f"callback.params {show(params)} must be an object")
        good = False
    return dict(value) if good else None


def _jiguang_channel_ids(checked: Checked, name: str, value: Any) -> list[dict] | None:
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        entries = [{"data": list(value)}]
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        entries = [dict(v) for v in value]
    else:
        checked.error(name, f"{name} must be a list of registration ids or of {{instance, data}} objects")
        return None
    total = 0
    for index, entry in enumerate(entries):
        data = entry.get("data")
        extra = set(entry) - {"instance", "data"}
        if extra or not isinstance(data, list) or not data or not all(isinstance(v, str) and v for v in data):
            checked.error(f"{name}[{index}]", f"{name}[{index}] must be {{instance?, data: [ids]}}")
            return None
        total += len(data)
    if total > JIGUANG_MAX_CHANNEL_IDS:
        checked.error(
            name, f"{name} has {total} ids; UMS takes at most {JIGUANG_MAX_CHANNEL_IDS} per channel"
        )
        return None
    return entries


def check_jiguang(
    options: Mapping[str, Any], *, priority: int | None = None, settings: Mapping[str, Any]
) -> Checked:
    """Check UMS template-message options (see the module docstring for the rules)."""
    checked = Checked()
    if options.get("app_para") is not None:
        app_para = _jiguang_app_para(checked, options["app_para"])
        if app_para is not None:
            checked.values["app_para"] = app_para
    rule_id = options.get("rule_id")
    if rule_id is not None:
        if not is_int(rule_id) or rule_id < 0:
            checked.error("rule_id", f"rule_id {rule_id!r} must be an integer")
        else:
            checked.values["rule_id"] = rule_id
    if options.get("callback") is not None:
        callback = _jiguang_callback(checked, options["callback"])
        if callback is not None:
            checked.values["callback"] = callback
    checked.values["option"] = _jiguang_option(checked, options, priority=priority)
    audiences = {}
    for name in JIGUANG_CHANNEL_AUDIENCES:
        if options.get(name) is not None:
            entries = _jiguang_channel_ids(checked, name, options[name])
            if entries is not None:
                audiences[name] = entries
    if audiences:
        checked.values["channel_audiences"] = audiences
        if "rule_id" in checked.values:
            checked.error(
                "rule_id",
                "rule_id has no effect with channel registration ids (aud_app, …); UMS ignores it, so "
                "remove it or send to users instead",
            )
    return checked


# The example the campaign form offers to start from.
EXAMPLE: dict[str, Any] = {"app_para": {"platform": "all", "time_to_live": 86400}, "option": {"black_id": 1}}
