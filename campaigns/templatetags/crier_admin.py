"""Template tags of the Crier admin."""

from __future__ import annotations

from typing import Any

from django import template

from campaigns.admin.dashboard import dashboard_for

register = template.Library()


@register.simple_tag(takes_context=True)
def crier_dashboard(context: template.Context) -> dict[str, Any]:
    """Return the dashboard sections of the user viewing the page (``{% crier_dashboard as d %}``)."""
    return dashboard_for(user=context["request"].user)
