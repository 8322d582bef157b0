"""``{% provider_option_rows campaign as rows %}``: a campaign's provider options as rows a
reviewer reads (label, wire path, value in words), from the account kind's options schema
(``providers.options.readable``); ``_provider_options.html`` shows them as a table."""

from __future__ import annotations

from django import template

from campaigns.models import Campaign
from providers.option_fields import readable

register = template.Library()


@register.simple_tag
def provider_option_rows(campaign: Campaign) -> list[dict[str, str]]:
    """Return the rows of ``campaign.provider_options`` (empty when it has none)."""
    if campaign.provider_account_id is None:
        return readable(None, campaign.provider_options)
    return readable(campaign.provider_account.provider().option_schema, campaign.provider_options)
