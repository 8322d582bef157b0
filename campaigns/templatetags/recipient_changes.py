"""``{% recipient_changes_line campaign %}``: "Recipients changed since approval: N, by …".

Shown on the review page and the report of a campaign that was approved at least once,
with a link to the audit events counted (``campaigns.audiences.changes``).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from campaigns.audiences.changes import RecipientChanges, campaign_approved_at, recipient_changes_since
from campaigns.audiences.history import AUDIENCE, RECIPIENT
from campaigns.models import Campaign

register = template.Library()


def events_url(changes: RecipientChanges) -> str:
    """Return the audit trail's list of the events counted in ``changes``.

    The exact events when there are few enough for a URL, else every recipient and
    audience event since the approval.
    """
    if changes.event_ids and not changes.event_ids_capped:
        query = {"id__in": ",".join(str(pk) for pk in changes.event_ids)}
    else:
        query = {
            "object_type__in": f"{RECIPIENT},{AUDIENCE}",
            "created_at__gt": changes.since.isoformat(),
        }
    return f"{reverse('admin:audit_auditevent_changelist')}?{urlencode(query)}"


@register.simple_tag
def recipient_changes_line(campaign: Campaign) -> SafeString | str:
    """Render who changed the campaign's recipients since its last approval ("" if never approved)."""
    since = campaign_approved_at(campaign)
    if since is None:
        return ""
    changes = recipient_changes_since(campaign=campaign, since=since)
    if not changes.count:
        return format_html(
            '<p class="recipient-changes" id="recipient-changes">{}</p>',
            _("Recipients changed since approval: none."),
        )
    actors = list(changes.actors)
    if changes.by_system:
        actors.append(_("providers (opt-outs) or the system"))
    return format_html(
        '<p class="recipient-changes" id="recipient-changes">{} <a href="{}">{}</a></p>',
        _("Recipients changed since approval: %(count)d, by %(actors)s.")
        % {"count": changes.count, "actors": ", ".join(actors)},
        events_url(changes),
        _("See the audit events"),
    )
