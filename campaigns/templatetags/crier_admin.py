"""Template tags of the Crier admin."""

from __future__ import annotations

from typing import Any

from django import template

from campaigns.admin.dashboard import dashboard_for
from campaigns.admin.lists import status_badge_html

register = template.Library()


@register.simple_tag(takes_context=True)
def crier_dashboard(context: template.Context) -> dict[str, Any]:
    """Return the dashboard sections of the user viewing the page (``{% crier_dashboard as d %}``)."""
    return dashboard_for(user=context["request"].user)


@register.filter
def crier_status_badge(obj: Any) -> str:
    """Return a campaign's or dispatch's status as the lists' badge (``{{ c|crier_status_badge }}``)."""
    return status_badge_html(obj)
