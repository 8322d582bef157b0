"""Template tags of reviews for the admin dashboard (``config/templates/admin/index.html``)."""

from __future__ import annotations

from typing import Any

from django import template

from approvals.rules import APPROVE_PERM, campaigns_awaiting_review
from campaigns.admin.dashboard import SECTION_LIMIT

register = template.Library()


@register.simple_tag(takes_context=True)
def crier_awaiting_review(context: template.Context) -> dict[str, Any] | None:
    """Return the campaigns the viewing user may approve now (the first few) and how many
    there are; None for a user who does not review (``{% crier_awaiting_review as a %}``)."""
    user = context["request"].user
    if not user.has_perm(APPROVE_PERM):
        return None
    campaigns = campaigns_awaiting_review(user=user)
    return {"items": campaigns[:SECTION_LIMIT], "count": len(campaigns)}
