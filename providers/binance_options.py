"""The Binance BroadcastMessage options a campaign may carry (``provider_options``), checked.

``path`` (the landing page; the campaign's own ``path`` is the usual place,
and both may only be given when equal), ``preview`` (bool: every occurrence goes only to
``experienceUids``, e.g. a staged send to staff) and ``experienceUids`` (1–5 uids,
required with ``preview`` and only meaningful with it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.options import Checked, landing_value, refuse_unknown, show

BINANCE_MAX_EXPERIENCE_UIDS = 5


def check_binance(options: Mapping[str, Any], *, path: str = "", settings: Mapping[str, Any]) -> Checked:
    """Check BroadcastMessage options: ``path``, ``preview``, ``experienceUids``."""
    checked = Checked()
    refuse_unknown(checked, options, ("path", "preview", "experienceUids"), "Binance")
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


# What the campaign form lists for this provider, and the example it offers.
REFERENCE: tuple[tuple[str, str], ...] = (
    ("path", "landing page opened on click (or the campaign's path)"),
    ("preview", "true: every occurrence goes only to experienceUids"),
    ("experienceUids", "1 to 5 uids, with preview"),
)
EXAMPLE: dict[str, Any] = {"preview": True, "experienceUids": ["uid-1"]}
