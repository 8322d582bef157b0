"""Who changed the recipients a campaign reaches since it was approved.

An approval binds the audience's definition, not the people who carry its tags
(README, "What an approval binds"); so that who receives a message stays provable, every
change to a recipient or an audience is an audit event (``campaigns.audiences.history``)
and this selector counts the ones that can affect one campaign's audience:

* ``tags``: recipient changes touching one of its tags (the recipient had it before or has
  it after), and the rows of imports that touched one of them;
* ``users``: changes of the recipients it lists, and changes of its member list;
* ``all``: every recipient change, unless the provider broadcasts (its "everyone" is not
  our recipients: ``campaigns.audiences.services.audience_size`` says the same);
* ``segment``: none (only the provider knows who is in a segment);
* every kind: changes of its suppression list.

The approval time is read from the campaign's own trail (the move ``in_review`` →
``approved``), so this module needs nothing of the approvals app.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from audit.models import AuditEvent
from campaigns.audiences.history import (
    AUDIENCE,
    AUDIENCE_ACTIONS,
    AUDIENCE_MEMBERS_IMPORTED,
    RECIPIENT,
    RECIPIENTS_IMPORTED,
    SINGLE_RECIPIENT_ACTIONS,
)
from campaigns.audiences.services import provider_limits
from campaigns.models import AudienceKind, AudienceMember, Campaign

# Beyond this many events the link lists the recipient and audience events since the
# approval instead of the exact ones (a URL holds only so many ids).
LINKED_EVENTS_MAX = 200


@dataclass(frozen=True)
class RecipientChanges:
    """Changes that can affect a campaign's audience since ``since``.

    ``count`` recipients (and listed ids) changed, by ``actors`` (usernames; ``by_system``
    when some changes had no actor: opt-outs learned from a provider, seeding).
    ``event_ids`` are the events counted, all of them unless ``event_ids_capped`` (then
    the first ``LINKED_EVENTS_MAX``).
    """

    since: datetime
    count: int = 0
    actors: tuple[str, ...] = ()
    by_system: bool = False
    event_ids: tuple[int, ...] = ()
    event_ids_capped: bool = False


def campaign_approved_at(campaign: Campaign) -> datetime | None:
    """Return when ``campaign`` was last approved (its move in_review → approved), or None."""
    return (
        AuditEvent.objects.filter(
            campaign=campaign, object_type="campaign", from_state="in_review", to_state="approved"
        )
        .order_by("-id")
        .values_list("created_at", flat=True)
        .first()
    )


def _resolved_here(campaign: Campaign) -> bool:
    """Return whether Crier's recipients decide who the campaign reaches (not the provider)."""
    kind = campaign.audience.kind
    if kind == AudienceKind.SEGMENT:
        return False
    return kind != AudienceKind.ALL or not provider_limits(campaign.provider_account.kind).broadcast


def _single_events(campaign: Campaign, since: datetime) -> QuerySet | None:
    """Return the per-recipient events since ``since`` that can affect the audience."""
    audience = campaign.audience
    if not _resolved_here(campaign):
        return None
    events = AuditEvent.objects.filter(
        object_type=RECIPIENT, action__in=SINGLE_RECIPIENT_ACTIONS, created_at__gt=since
    )
    if audience.kind == AudienceKind.ALL:
        return events
    if audience.kind == AudienceKind.TAGS:
        if not audience.tags:
            return events.none()
        return events.filter(data__tags_touched__has_any_keys=list(audience.tags))
    if audience.kind == AudienceKind.USERS:
        listed = AudienceMember.objects.filter(audience=audience, suppressed=False).values("external_id")
        return events.filter(object_id__in=listed)
    return None


def _import_rows(data: dict[str, Any], audience: Any, listed: set[str]) -> int:
    """Return how many rows of a recipient import can have affected ``audience`` (resolved here)."""
    changed = int(data.get("changed") or 0)
    if audience.kind == AudienceKind.TAGS and not data.get("tags_capped"):
        touched = data.get("tags_touched") or {}
        return min(changed, sum(int(touched.get(tag, 0)) for tag in audience.tags or []))
    if audience.kind == AudienceKind.USERS and not data.get("ids_capped"):
        return len(listed.intersection(data.get("ids") or []))
    return changed


def _audience_rows(event: dict[str, Any], audience: Any) -> int:
    """Return how many listed or suppressed ids an event of the audience itself changed."""
    data = event["data"]
    if event["action"] == AUDIENCE_MEMBERS_IMPORTED:
        if data.get("list") == "members" and audience.kind != AudienceKind.USERS:
            return 0  # listed ids of an audience of another kind are ignored when sending
        return int(data.get("added") or 0) + int(data.get("removed") or 0)
    lists = ("members", "suppressed") if audience.kind == AudienceKind.USERS else ("suppressed",)
    return sum(int(data[name]["added"]) + int(data[name]["removed"]) for name in lists if name in data)


def _listed_ids(audience: Any, imports: Iterable[dict[str, Any]]) -> set[str]:
    """Return which of the ids named by ``imports`` the audience lists (one query)."""
    if audience.kind != AudienceKind.USERS:
        return set()
    named = {external_id for event in imports for external_id in event["data"].get("ids") or []}
    if not named:
        return set()
    return set(
        AudienceMember.objects.filter(
            audience=audience, suppressed=False, external_id__in=named
        ).values_list("external_id", flat=True)
    )


def recipient_changes_since(*, campaign: Campaign, since: datetime) -> RecipientChanges:
    """Return the changes since ``since`` that can affect ``campaign``'s audience.

    A fixed number of queries whatever the number of events: per-recipient events are
    counted in the database (distinct recipients); imports and audience events, one each
    per import or list change, are read and weighed here.
    """
    audience = campaign.audience
    singles = _single_events(campaign, since)
    count = 0
    ids: list[int] = []
    actors: list[str | None] = []
    if singles is not None:
        count = singles.values("object_id").distinct().count()
        who = singles.order_by("actor__username").values_list("actor__username", flat=True)
        actors = list(who.distinct())
        ids = list(singles.order_by("id").values_list("id", flat=True)[: LINKED_EVENTS_MAX + 1])
    bulk = list(
        AuditEvent.objects.filter(created_at__gt=since)
        .filter(
            Q(object_type=RECIPIENT, action=RECIPIENTS_IMPORTED)
            | Q(object_type=AUDIENCE, object_id=str(audience.pk), action__in=AUDIENCE_ACTIONS)
        )
        .order_by("id")
        .values("id", "object_type", "action", "data", "actor__username")
    )
    imports = [event for event in bulk if event["object_type"] == RECIPIENT]
    listed = _listed_ids(audience, imports)
    here = singles is not None
    for event in bulk:
        if event["object_type"] == RECIPIENT:
            if not here:
                continue
            rows = _import_rows(event["data"], audience, listed)
        else:
            rows = _audience_rows(event, audience)
        if rows:
            count += rows
            ids.append(event["id"])
            actors.append(event["actor__username"])
    ids.sort()
    named = tuple(sorted({actor for actor in actors if actor}))
    return RecipientChanges(
        since=since,
        count=count,
        actors=named,
        by_system=None in actors,
        event_ids=tuple(ids[:LINKED_EVENTS_MAX]),
        event_ids_capped=len(ids) > LINKED_EVENTS_MAX,
    )
