"""The Alipay+ message/send options a campaign may carry (``provider_options``), checked.

``channel``: a Crier notion, not sent: the channel the portal template
was registered for, ``PUSH``, ``INBOX`` or ``SMS`` (default: the account's
``settings["channel"]``, else unknown). PUSH and INBOX templates need ``redirectUrl``
(≤ 2048; the option, or the campaign's ``path``), SMS ones take none. ``extendInfo``
(string or object, ≤ 4096 characters as sent), ``customerBelongsTo`` (one of
:data:`WALLETS`), ``languages`` (extra template languages; with the campaign's own at
most five).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

from providers.option_fields import (
    OptionChoiceField,
    OptionsSchema,
    OptionTextField,
    StringListField,
    TextOrObjectField,
)
from providers.options import Checked, landing_value, show

WALLETS = frozenset(
    {"ALIPAY_CN", "ALIPAY_HK", "ALIPAY_MO", "TNG", "GCASH", "DANA", "KAKAOPAY", "BKASH", "CHOPE", "TRUEMONEY"}
)
ALIPAY_CHANNELS = {"PUSH": True, "INBOX": True, "SMS": False}  # channel -> needs redirectUrl
ALIPAY_MAX_TEMPLATES = 5
ALIPAY_LENGTHS = {"redirectUrl": 2048, "extendInfo": 4096}


class AlipayPlusOptionsSerializer(OptionsSchema):
    """The options of an Alipay+ message/send request (docs/providers.md, Alipay+)."""

    provider_label = "Alipay+"

    channel = OptionChoiceField(
        choices=[("PUSH", "PUSH"), ("INBOX", "INBOX"), ("SMS", "SMS")],
        required=False,
        label=_("Template channel"),
        help_text=_(
            "The channel the portal template was registered for (not sent). PUSH and INBOX need a "
            "redirect URL. Empty: the account's setting."
        ),
    )
    redirectUrl = OptionTextField(  # noqa: N815  (Alipay+'s wire name)
        required=False,
        allow_blank=True,
        max_length=ALIPAY_LENGTHS["redirectUrl"],
        label=_("Redirect URL"),
        help_text=_(
            "The mini program page opened when the user taps the message, at most 2048 characters. "
            "Empty: the campaign's path."
        ),
    )
    extendInfo = TextOrObjectField(  # noqa: N815
        required=False,
        max_length=ALIPAY_LENGTHS["extendInfo"],
        label=_("Extend info"),
        help_text=_("A string or a JSON object passed to the wallet, at most 4096 characters as sent."),
    )
    customerBelongsTo = OptionChoiceField(  # noqa: N815
        choices=[(wallet, wallet) for wallet in sorted(WALLETS)],
        required=False,
        allow_blank=True,
        label=_("Wallet"),
        help_text=_("The wallet the users belong to (customerBelongsTo)."),
    )
    languages = StringListField(
        required=False,
        label=_("Extra languages"),
        help_text=_("Template languages sent besides the campaign's own (at most five in all); one a line."),
    )


def check_alipayplus(
    options: Mapping[str, Any], *, path: str = "", language: str = "", settings: Mapping[str, Any]
) -> Checked:
    """Check message/send options: ``channel``, ``redirectUrl``, ``extendInfo``,
    ``customerBelongsTo``, ``languages``."""
    checked = Checked()
    channel = options.get("channel") or settings.get("channel") or ""
    if channel and channel not in ALIPAY_CHANNELS:
        where = "channel" if options.get("channel") else "channel (account setting)"
        checked.error("channel", f"{where} {show(channel)} must be one of {', '.join(ALIPAY_CHANNELS)}")
        channel = ""
    redirect = landing_value(checked, options, "redirectUrl", path)
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
            checked.error("extendInfo", f"extendInfo {show(extend)} must be a string or an object")
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
                f"customerBelongsTo {show(wallet)} is not one of {', '.join(sorted(WALLETS))}",
            )
        else:
            checked.values["customerBelongsTo"] = wallet
    extra = options.get("languages") or []
    if not isinstance(extra, list | tuple) or not all(isinstance(x, str) and x for x in extra):
        checked.error("languages", f"languages {show(extra)} must be a list of language codes")
        extra = []
    languages = list(dict.fromkeys(x for x in [language, *extra] if x))
    if len(languages) > ALIPAY_MAX_TEMPLATES:
        checked.error(
            "languages",
            f"{len(languages)} languages; Alipay+ takes at most {ALIPAY_MAX_TEMPLATES} templates",
        )
    checked.values["languages"] = languages[:ALIPAY_MAX_TEMPLATES]
    return checked


# The example the campaign form offers to start from.
EXAMPLE: dict[str, Any] = {
    "channel": "PUSH",
    "redirectUrl": "/pages/index/index",
    "customerBelongsTo": "GCASH",
}
