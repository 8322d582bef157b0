"""The Binance BroadcastMessage options a campaign may carry (``provider_options``), checked.

``path`` (the landing page; the campaign's own ``path`` is the usual place,
and both may only be given when equal), ``preview`` (bool: every occurrence goes only to
``experienceUids``, e.g. a staged send to staff) and ``experienceUids`` (1–5 uids,
required with ``preview`` and only meaningful with it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

from providers.option_fields import (
    OptionsSchema,
    OptionTextField,
    StrictBooleanField,
    StringListField,
)
from providers.options import Checked, landing_value, show

BINANCE_MAX_EXPERIENCE_UIDS = 5


class BinanceOptionsSerializer(OptionsSchema):
    """The options of a Binance BroadcastMessage (docs/providers.md, Binance)."""

    provider_label = "Binance"

    path = OptionTextField(
        required=False,
        allow_blank=True,
        max_length=2048,
        label=_("Landing page"),
        help_text=_("The mini program page opened on click. Leave it empty to use the campaign's path."),
    )
    preview = StrictBooleanField(
        required=False,
        label=_("Preview only"),
        help_text=_("Every occurrence goes only to the experience uids below, e.g. a staged send to staff."),
    )
    experienceUids = StringListField(  # noqa: N815  (Binance's wire name)
        required=False,
        max_length=BINANCE_MAX_EXPERIENCE_UIDS,
        label=_("Experience uids"),
        help_text=_("1 to 5 Binance uids that receive a preview-only send; one a line."),
    )


def check_binance(options: Mapping[str, Any], *, path: str = "", settings: Mapping[str, Any]) -> Checked:
    """Check BroadcastMessage options: ``path``, ``preview``, ``experienceUids``."""
    checked = Checked()
    landing = landing_value(checked, options, "path", path)
    if landing:
        checked.values["path"] = landing
    preview = options.get("preview", False)
    if not isinstance(preview, bool):
        checked.error("preview", f"preview {show(preview)} must be true or false")
        preview = False
    uids = options.get("experienceUids")
    if uids is not None:
        if not isinstance(uids, list | tuple) or not all(isinstance(u, str) and u.strip() for u in uids):
            checked.error("experienceUids", f"experienceUids {show(uids)} must be a list of uids")
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


# The example the campaign form offers to start from.
EXAMPLE: dict[str, Any] = {"preview": True, "experienceUids": ["uid-1"]}
