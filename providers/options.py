"""A campaign's ``provider_options``: the one validator per provider kind, and what is sent.

``Campaign.provider_options`` reaches the provider modules as ``Message.options``: a JSON
object of the provider's own parameter names (PROVIDERS.md). :func:`check` reads it for
one kind and returns :class:`Checked`: the values each provider module puts on the wire
(types normalised, e.g. mPaaS maps sent as JSON strings) and the errors, keyed by field
path (``provider_options.PushStatus``, ``provider_options.app_para.time_to_live``), each
naming the value and the rule. The provider modules build their payloads from
``Checked.values`` and their ``validate`` from ``Checked.errors``, so what is checked is
what is sent. Unknown keys are errors: a typo must not be sent silently.

Per kind (the account's ``settings`` are read where noted):

**binance** — ``path`` (the landing page; the campaign's own ``path`` is the usual place,
and both may only be given when equal), ``preview`` (bool: every occurrence goes only to
``experienceUids``, e.g. a staged send to staff) and ``experienceUids`` (1–5 uids,
required with ``preview`` and only meaningful with it).

**alipayplus** — ``channel``: a Crier notion, not sent: the channel the portal template
was registered for, ``PUSH``, ``INBOX`` or ``SMS`` (default: the account's
``settings["channel"]``, else unknown). PUSH and INBOX templates need ``redirectUrl``
(≤ 2048; the option, or the campaign's ``path``), SMS ones take none. ``extendInfo``
(string or object, ≤ 4096 characters as sent), ``customerBelongsTo`` (one of
:data:`WALLETS`), ``languages`` (extra template languages; with the campaign's own at
most five).

**mpaas** — PushBroadcast's optional parameters by wire name (``pushStatus`` as in the
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

**jiguang** — ``app_para`` (``platform`` required: android, ios, quickapp, web, all, or
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

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

PREFIX = "provider_options"

WALLETS = frozenset(
    {"ALIPAY_CN", "ALIPAY_HK", "ALIPAY_MO", "TNG", "GCASH", "DANA", "KAKAOPAY", "BKASH", "CHOPE", "TRUEMONEY"}
)
ALIPAY_CHANNELS = {"PUSH": True, "INBOX": True, "SMS": False}  # channel -> needs redirectUrl
ALIPAY_MAX_TEMPLATES = 5
ALIPAY_LENGTHS = {"redirectUrl": 2048, "extendInfo": 4096}
BINANCE_MAX_EXPERIENCE_UIDS = 5

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
MPAAS_OWN = frozenset(
    {"AppId", "WorkspaceId", "TemplateName", "TemplateKeyValue", "ExpiredSeconds", "Msgkey"}
)

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
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$")


@dataclass
class Checked:
    """The options of one message as a provider sends them, and what is wrong with them.

    ``values`` holds only valid, normalised options; ``errors`` maps a field path
    (``provider_options.…``) to messages naming the value and the rule.
    """

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def error(self, name: str, text: str) -> None:
        """Record ``text`` against ``provider_options.<name>``."""
        self.errors.setdefault(f"{PREFIX}.{name}" if name else PREFIX, []).append(text)

    @property
    def messages(self) -> list[str]:
        """Return every error message, in the order found."""
        return [text for texts in self.errors.values() for text in texts]


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _as_int(value: Any) -> int | None:
    """Return ``value`` as an int (ints and digit strings, as a form posts them); None otherwise."""
    if _is_int(value):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


def _as_object(value: Any) -> dict | None:
    """Return ``value`` as a dict when it is one or a JSON string of one; None otherwise."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def _unknown(checked: Checked, options: Mapping[str, Any], known: tuple[str, ...], provider: str) -> None:
    for name in options:
        if name not in known:
            checked.error(
                str(name), f"{name!r} is not a {provider} option; known: {', '.join(sorted(known))}"
            )


def _landing(checked: Checked, options: Mapping[str, Any], name: str, path: str) -> str:
    """Return the landing path/URL (option ``name`` or the campaign's ``path``), checking both agree."""
    if name not in options or options[name] in (None, ""):
        return path
    value = options[name]
    if not isinstance(value, str):
        checked.error(name, f"{name} {_show(value)} must be a string")
        return path
    if path and value != path:
        checked.error(
            name,
            f"{name} {value!r} differs from the campaign's path {path!r}; give the landing page once",
        )
    return value


# --- Binance --------------------------------------------------------------------------


def check_binance(options: Mapping[str, Any], *, path: str = "", settings: Mapping[str, Any]) -> Checked:
    """Check BroadcastMessage options: ``path``, ``preview``, ``experienceUids``."""
    checked = Checked()
    _unknown(checked, options, ("path", "preview", "experienceUids"), "Binance")
    landing = _landing(checked, options, "path", path)
    if landing:
        checked.values["path"] = landing
    preview = options.get("preview", False)
    if not isinstance(preview, bool):
        checked.error("preview", f"preview {_show(preview)} must be true or false")
        preview = False
    uids = options.get("experienceUids")
    if uids is not None:
        if not isinstance(uids, list | tuple) or not all(isinstance(u, str) and u.strip() for u in uids):
            checked.error("experienceUids", f"experienceUids {_show(uids)} must be a list of uids")
            uids = None
        elif len(uids) > BINANCE_MAX_EXPERIENCE_UIDS:
            checked.error(
                "experienceUids",
                f"experienceUids has {len(uids)} uids; Binance previews go to at most "
                f"{BINANCE_MAX_EXPERIENCE_UIDS}",
            )
            uids = None
        elif uids and not preview:
            checked.error(
                "experienceUids", "experienceUids only apply with preview: true (a preview-only send)"
            )
    if preview:
        if not uids:
            checked.error(
                "experienceUids",
                f"preview: true sends only to experienceUids; list 1 to {BINANCE_MAX_EXPERIENCE_UIDS} uids",
            )
        else:
            checked.values["preview"] = True
            checked.values["experienceUids"] = [str(u) for u in uids]
    return checked


# --- Alipay+ ----------------------------------------------------------------------------


def check_alipayplus(
    options: Mapping[str, Any], *, path: str = "", language: str = "", settings: Mapping[str, Any]
) -> Checked:
    """Check message/send options: ``channel``, ``redirectUrl``, ``extendInfo``,
    ``customerBelongsTo``, ``languages``."""
    checked = Checked()
    _unknown(
        checked,
        options,
        ("channel", "redirectUrl", "extendInfo", "customerBelongsTo", "languages"),
        "Alipay+",
    )
    channel = options.get("channel") or settings.get("channel") or ""
    if channel and channel not in ALIPAY_CHANNELS:
        where = "channel" if options.get("channel") else "channel (account setting)"
        checked.error("channel", f"{where} {_show(channel)} must be one of {', '.join(ALIPAY_CHANNELS)}")
        channel = ""
    redirect = _landing(checked, options, "redirectUrl", path)
    if len(redirect) > ALIPAY_LENGTHS["redirectUrl"]:
        checked.error(
            "redirectUrl",
            f"redirectUrl is {len(redirect)} characters; Alipay+ allows {ALIPAY_LENGTHS['redirectUrl']}",
        )
    elif redirect:
        checked.values["redirectUrl"] = redirect
    if channel and ALIPAY_CHANNELS[channel] and not redirect:
        checked.error(
            "redirectUrl",
            f"redirectUrl is required for a {channel} template (channel {channel}): the mini program "
            "page opened when the user taps the message; set it here or as the campaign's path",
        )
    extend = options.get("extendInfo")
    if extend not in (None, ""):
        if isinstance(extend, dict | list):
            extend = json.dumps(extend, ensure_ascii=False, sort_keys=True)
        if not isinstance(extend, str):
            checked.error("extendInfo", f"extendInfo {_show(extend)} must be a string or an object")
        elif len(extend) > ALIPAY_LENGTHS["extendInfo"]:
            checked.error(
                "extendInfo",
                f"extendInfo is {len(extend)} characters; Alipay+ allows {ALIPAY_LENGTHS['extendInfo']}",
            )
        else:
            checked.values["extendInfo"] = extend
    wallet = options.get("customerBelongsTo")
    if wallet not in (None, ""):
        if wallet not in WALLETS:
            checked.error(
                "customerBelongsTo",
                f"customerBelongsTo {_show(wallet)} is not one of {', '.join(sorted(WALLETS))}",
            )
        else:
            checked.values["customerBelongsTo"] = wallet
    extra = options.get("languages") or []
    if not isinstance(extra, list | tuple) or not all(isinstance(x, str) and x for x in extra):
        checked.error("languages", f"languages {_show(extra)} must be a list of language codes")
        extra = []
    languages = list(dict.fromkeys(x for x in [language, *extra] if x))
    if len(languages) > ALIPAY_MAX_TEMPLATES:
        checked.error(
            "languages",
            f"{len(languages)} languages; Alipay+ takes at most {ALIPAY_MAX_TEMPLATES} templates",
        )
    checked.values["languages"] = languages[:ALIPAY_MAX_TEMPLATES]
    return checked


# --- mPaaS ------------------------------------------------------------------------------


def mpaas_wire_name(name: str) -> str:
    """Return the PascalCase wire name of an option written as in the docs (``pushStatus``)."""
    return name[:1].upper() + name[1:]


def mpaas_delivery_types(value: Any) -> list[int] | None:
    """Return the DeliveryType(s) ``value`` names (an int or a list), or None if malformed."""
    items = value if isinstance(value, list | tuple) else [value]
    types = [_as_int(item) for item in items]
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
                checked.error(name, f"DeliveryType {_show(value)} must be 1, 2 or 7, or a list of them")
                continue
            read[name] = types
        elif kind is int:
            number = _as_int(value)
            if number is None:
                checked.error(name, f"option {name}={value!r} must be an integer")
                continue
            read[name] = number
        elif kind is dict:
            parsed = _as_object(value)
            if parsed is None:
                checked.error(name, f"option {name}={value!r} must be a JSON object")
                continue
            read[name] = parsed
        else:
            if _is_int(value):
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
        checked.error(name, f"{name} {_show(read[name])} must be {allowed}")
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
        if not _is_int(content.get("fixedTime")):
            checked.error("StrategyContent", "StrategyType 1 needs StrategyContent.fixedTime (ms)")
        return
    for name in ("startTime", "endTime"):
        if not _is_int(content.get(name)):
            checked.error("StrategyContent", f"StrategyType 2 needs StrategyContent.{name} (ms)")
    if content.get("circleType") not in (1, 2, 3):
        checked.error(
            "StrategyContent", "StrategyContent.circleType must be 1 (daily), 2 (weekly) or 3 (monthly)"
        )
    if not isinstance(content.get("time"), str) or not _TIME_OF_DAY.match(content["time"]):
        checked.error(
            "StrategyContent", f"StrategyContent.time {_show(content.get('time'))} must be HH:mm:ss"
        )


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
            isinstance(k, str) and k and (isinstance(v, str) or _is_int(v)) for k, v in value.items()
        ):
            checked.error(name, f'{name} {_show(value)} must map vendors to values, e.g. {{"oppo": "2"}}')
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


# --- Jiguang ----------------------------------------------------------------------------


def _jiguang_app_para(checked: Checked, value: Any) -> dict | None:
    if not isinstance(value, Mapping):
        checked.error("app_para", f"app_para {_show(value)} must be an object with a platform")
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
            f"app_para.platform {_show(platform)} is required: one of {', '.join(JIGUANG_PLATFORMS)}, "
            "or a list of distinct platforms (without all)",
        )
        good = False
    ttl = value.get("time_to_live")
    if ttl is not None and (not _is_int(ttl) or not 0 <= ttl <= JIGUANG_MAX_TIME_TO_LIVE):
        checked.error(
            "app_para.time_to_live",
            f"app_para.time_to_live {ttl!r} must be 0 to {JIGUANG_MAX_TIME_TO_LIVE} seconds (10 days)",
        )
        good = False
    apns = value.get("apns_production")
    if apns is not None and not isinstance(apns, bool):
        checked.error(
            "app_para.apns_production", f"app_para.apns_production {_show(apns)} must be true or false"
        )
        good = False
    return dict(value) if good else None


def _jiguang_option(checked: Checked, options: Mapping[str, Any], *, priority: int | None) -> dict:
    nested = options.get("option")
    if nested is None:
        nested = {}
    if not isinstance(nested, Mapping):
        checked.error("option", f"option {_show(nested)} must be an object")
        nested = {}
    option: dict[str, Any] = {}
    for name, value in nested.items():
        if name == "sendno":
            checked.error("option.sendno", "option.sendno is set by Crier (the request's key)")
        elif name == "priority":
            if value not in (1, 2, 3) or isinstance(value, bool):
                checked.error(
                    "option.priority", f"option.priority {_show(value)} must be 1 (high), 2 or 3 (low)"
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
                checked.error(path, f"{path} {_show(value)} must be the submitter's user name")
                continue
        elif not _is_int(value):
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
            checked.error("callback.url", f"callback.url {_show(url)} must be an http(s) URL")
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
        checked.error("callback.params", f"callback.params {_show(params)} must be an object")
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
    _unknown(checked, options, JIGUANG_KNOWN, "UMS template")
    if options.get("app_para") is not None:
        app_para = _jiguang_app_para(checked, options["app_para"])
        if app_para is not None:
            checked.values["app_para"] = app_para
    rule_id = options.get("rule_id")
    if rule_id is not None:
        if not _is_int(rule_id) or rule_id < 0:
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


# --- dispatch by kind -------------------------------------------------------------------

CHECKERS: dict[str, Callable[..., Checked]] = {
    "binance": lambda o, m, s: check_binance(o, path=m.path, settings=s),
    "alipayplus": lambda o, m, s: check_alipayplus(o, path=m.path, language=m.language, settings=s),
    "mpaas": lambda o, m, s: check_mpaas(o, settings=s),
    "jiguang": lambda o, m, s: check_jiguang(o, priority=m.priority, settings=s),
}


def check(kind: str, message: Any, settings: Mapping[str, Any]) -> Checked:
    """Return the checked options of ``message`` (a ``providers.base.Message``) for ``kind``."""
    options = message.options
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        checked = Checked()
        checked.error("", f"provider_options {_show(options)} must be an object")
        return checked
    checker = CHECKERS.get(kind)
    if checker is None:
        return Checked(values=dict(options))
    return checker(options, message, settings or {})


# --- reference for forms: what each kind takes, with an example -------------------------

REFERENCE: dict[str, list[tuple[str, str]]] = {
    "binance": [
        ("path", "landing page opened on click (or the campaign's path)"),
        ("preview", "true: every occurrence goes only to experienceUids"),
        ("experienceUids", "1 to 5 uids, with preview"),
    ],
    "alipayplus": [
        ("channel", "the template's channel: PUSH, INBOX (both need redirectUrl) or SMS; not sent"),
        ("redirectUrl", "mini program page opened on click, ≤ 2048 (or the campaign's path)"),
        ("extendInfo", "string or object, ≤ 4096 characters"),
        ("customerBelongsTo", "wallet: " + ", ".join(sorted(WALLETS))),
        ("languages", "extra template languages (at most 5 with the campaign's)"),
    ],
    "mpaas": [
        ("DeliveryType", "1 Android, 2 iOS, 7 HarmonyOS, or a list: one request each"),
        ("PushStatus", "0 bound users (needs BindPeriod), 1 all, 2 unbound (need UnBindPeriod)"),
        ("BindPeriod / UnBindPeriod", "1 = 7 days, 2 = 15, 3 = 60, 4 = permanent"),
        ("TimeMode", "1: BindStartTime/BindEndTime (or UnBind…) in ms instead of the periods"),
        ("AndroidChannel", "1 MPS self-built channel, 2 default channel"),
        ("Classification", 'vivo: "0" operational, "1" system'),
        ("ThirdChannelCategory / NotifyLevel", '{vendor: value}, e.g. {"hms": "9"}'),
        ("MiChannelId", "Xiaomi channel id"),
        ("TransparentMessagePayload", "vendor pass-through object"),
        ("TransparentMessageUrgency", "HIGH or NORMAL, with a payload"),
        ("ExtendedParams", "object, at most 20 keys"),
        ("TaskName", "push task name (default: the campaign's name)"),
    ],
    "jiguang": [
        ("app_para", "{platform, time_to_live ≤ 864000, apns_production}; needed for the App channel"),
        ("rule_id", "send policy id (not with channel ids)"),
        ("option", "{owner, black_id or white_id}; priority is the campaign's"),
        ("callback", "{url: registered http(s) URL without port, params: {...}}"),
        ("aud_app, aud_sms, …", "channel registration ids (≤ 1000 each), with the everyone audience"),
    ],
}
EXAMPLES: dict[str, dict[str, Any]] = {
    "binance": {"preview": True, "experienceUids": ["uid-1"]},
    "alipayplus": {"channel": "PUSH", "redirectUrl": "/pages/index/index", "customerBelongsTo": "GCASH"},
    "mpaas": {"DeliveryType": [1, 2], "PushStatus": 0, "BindPeriod": 3, "AndroidChannel": 2},
    "jiguang": {"app_para": {"platform": "all", "time_to_live": 86400}, "option": {"black_id": 1}},
}
