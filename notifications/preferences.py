"""Per-user notification preferences: which events, on which channel.

Without a :class:`~notifications.models.NotificationPreference` row the defaults of the
user's roles hold: each role is told by e-mail of the events it acts on (the README's
"Notifications" table). A user in none of the roles (an administrator, say) gets every
event that reaches them. A row turns one (event, channel) on or off for its user.
"""

from __future__ import annotations

from notifications.events import EventKind
from notifications.models import Channel, NotificationPreference

K = EventKind

# Role group -> the events its members are told of by default (e-mail).
ROLE_DEFAULTS: dict[str, frozenset[str]] = {
    "Marketing": frozenset(
        {
            K.APPROVED,
            K.REJECTED,
            K.VOIDED,
            K.DISPATCH_FAILED,
            K.DISPATCH_PARTIALLY_FAILED,
            K.DELIVERIES_UNKNOWN,
        }
    ),
    "Reviewers": frozenset({K.REVIEW_REQUESTED, K.HELD, K.VOIDED}),
    "Operators": frozenset(
        {
            K.DISPATCH_FAILED,
            K.DISPATCH_PARTIALLY_FAILED,
            K.DELIVERIES_UNKNOWN,
            K.SENDING_STOPPED,
            K.SENDING_RESUMED,
            K.PROVIDER_CHECK_FAILED,
        }
    ),
}


def default_for(user, kind: str) -> bool:
    roles = [name for name in user.groups.values_list("name", flat=True) if name in ROLE_DEFAULTS]
    if not roles:
        return True
    return any(kind in ROLE_DEFAULTS[name] for name in roles)


def wants(users: list, kind: str, channel: str = Channel.EMAIL) -> list:
    """Return those of ``users`` who want ``kind`` on ``channel`` (their row, else the default)."""
    chosen = dict(
        NotificationPreference.objects.filter(
            user__in=[u.pk for u in users], kind=kind, channel=channel
        ).values_list("user_id", "enabled")
    )
    return [u for u in users if (chosen[u.pk] if u.pk in chosen else default_for(u, kind))]
