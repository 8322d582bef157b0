"""Template filters of the review diff (``approvals.diff``) on the review page."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

register = template.Library()


@register.filter
def diff_value(value: Any) -> str:
    """Show one compared value: text as it is, anything else as compact JSON, none as a dash."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@register.filter
def diff_reach(value: int | None) -> str:
    """Show a reach in words: a count of recipients, or that only the provider knows it."""
    if value is None:
        return _("known only to the provider")
    return ngettext("%(n)s recipient", "%(n)s recipients", value) % {"n": f"{value:,}"}
