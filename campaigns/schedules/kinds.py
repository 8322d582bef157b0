"""Schedule kinds, declared once: which campaign fields each kind reads and how it is due.

Everything that asks "which fields does this kind use?" or "does this kind hold a
provider's scheduling slot?" reads this table rather than listing kinds itself: reading and
validating a schedule (``campaigns.schedules.validation``, ``campaigns.schedules.notes``),
the pending limit (``campaigns.schedules.limits``), the campaign form
(``campaigns.admin.schedule_form``) and the form's script, which gets the table from the
server (``form_table``, rendered with ``json_script``) instead of a copy in JavaScript.

The kinds themselves are ``campaigns.models.ScheduleKind`` (stored values and labels). A
new kind adds its value there, its row here, and the code that is really its own: the
check of a field no other kind uses (``validation``) and how it expands into due times
(``occurrences``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from campaigns.models import ScheduleKind

# The Campaign fields that make up its schedule, in the order the form shows them.
SCHEDULE_FIELDS: tuple[str, ...] = (
    "schedule_kind",
    "fixed_time",
    "circle_type",
    "circle_value",
    "time",
    "start_date",
    "end_date",
    "cron",
    "timezone",
)

# What the campaign form calls each schedule field, declared once: the form's labels are
# these, and every schedule message (``validation``, ``cron``, ``spec``) names a field by
# its label, so the words next to an input are the words on it. The API keys its errors by
# field name and carries the same message.
SCHEDULE_LABELS: dict[str, Any] = {
    "schedule_kind": _("When"),
    "fixed_time": _("Send at"),
    "circle_type": _("Repeats"),
    "circle_value": _("On"),
    "time": _("At (local time)"),
    "start_date": _("From"),
    "end_date": _("Until"),
    "cron": _("Cron"),
    "timezone": _("Time zone"),
}


def label(field: str) -> str:
    """Return the form label of schedule field ``field`` (``kind`` is ``schedule_kind``)."""
    return str(SCHEDULE_LABELS["schedule_kind" if field in ("kind", "schedule") else field])


@dataclass(frozen=True, slots=True)
class KindRules:
    """What one schedule kind means.

    ``fields`` are the schedule fields the kind reads besides ``schedule_kind`` and
    ``timezone`` (anything else set on such a campaign is ignored, and noted).
    ``due_on_approval``: the campaign is due when it is approved, a time the schedule does
    not know, so it has no due times of its own and holds no provider scheduling slot.
    ``period``: the kind repeats between 00:00 on ``start_date`` and 24:00 on ``end_date``.
    """

    kind: ScheduleKind
    fields: tuple[str, ...] = ()
    due_on_approval: bool = False
    period: bool = False

    @property
    def label(self) -> str:
        return str(self.kind.label)

    @property
    def scheduled(self) -> bool:
        """Whether the campaign waits for due times of its own (and so counts as pending)."""
        return not self.due_on_approval


SCHEDULE_KINDS: dict[str, KindRules] = {
    rules.kind.value: rules
    for rules in (
        KindRules(ScheduleKind.NOW, due_on_approval=True),
        KindRules(ScheduleKind.ONCE, fields=("fixed_time",)),
        KindRules(
            ScheduleKind.RECURRING,
            fields=("circle_type", "circle_value", "time", "start_date", "end_date"),
            period=True,
        ),
        KindRules(ScheduleKind.CRON, fields=("cron", "start_date", "end_date"), period=True),
    )
}

_missing = sorted(set(ScheduleKind.values) - set(SCHEDULE_KINDS))
if _missing:
    # Fail at start-up, not when a campaign of the new kind is first validated.
    raise ImproperlyConfigured(
        f"campaigns.schedules.kinds has no row for schedule kind(s) {', '.join(_missing)}"
    )

# Kinds that wait for due times of their own (the pending limit counts them).
SCHEDULED_KINDS: frozenset[str] = frozenset(kind for kind, rules in SCHEDULE_KINDS.items() if rules.scheduled)
# The fields that only some kinds read: the form shows each of them for those kinds only.
KIND_DEPENDENT_FIELDS: tuple[str, ...] = tuple(
    name for name in SCHEDULE_FIELDS if any(name in rules.fields for rules in SCHEDULE_KINDS.values())
)


def kind_rules(kind: str | None) -> KindRules | None:
    """Return the rules of schedule kind ``kind``, or None when it is not a schedule kind."""
    return SCHEDULE_KINDS.get(kind or "")


def due_on_approval(kind: str | None) -> bool:
    """Return whether a campaign of schedule ``kind`` is due when it is approved (``now``)."""
    rules = kind_rules(kind)
    return rules is not None and rules.due_on_approval


def form_table() -> dict[str, Any]:
    """Return the table as the campaign form's script reads it (JSON-ready).

    ``kinds`` maps each kind to its label and fields; ``dependent`` lists the fields shown
    or hidden with the kind; ``inputs`` the inputs whose values the occurrence preview is
    asked with (``schedule_kind`` and the ``circle_value`` checkboxes are read apart).
    """
    return {
        "kinds": {
            kind: {"label": rules.label, "fields": list(rules.fields)}
            for kind, rules in SCHEDULE_KINDS.items()
        },
        "dependent": list(KIND_DEPENDENT_FIELDS),
        "inputs": [name for name in SCHEDULE_FIELDS if name not in ("schedule_kind", "circle_value")],
    }
