"""Template tags of held occurrences for the admin dashboard (``config/templates/admin/index.html``)."""

from __future__ import annotations

from typing import Any

from django import template

from approvals.holds import cancel_refusal, confirm_refusal
from campaigns.models import Dispatch

register = template.Library()


@register.simple_tag(takes_context=True)
def crier_hold_choices(context: template.Context, dispatch: Dispatch) -> dict[str, Any]:
    """Return what the viewing user may do with a held ``dispatch``: ``confirm`` and
    ``cancel`` (booleans) and, when they may not confirm, ``why_not`` (the refusal in words),
    as ``approvals.holds`` decides (``{% crier_hold_choices dispatch as may %}``)."""
    user = context["request"].user
    refusal = confirm_refusal(dispatch=dispatch, user=user)
    return {
        "confirm": refusal is None,
        "cancel": cancel_refusal(dispatch=dispatch, user=user) is None,
        "why_not": str(refusal) if refusal is not None else "",
    }
