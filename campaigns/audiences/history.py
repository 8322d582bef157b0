"""The audit events of recipients and audiences: who changed which recipient or list, when.

Every write of ``campaigns.audiences.recipients`` and ``campaigns.audiences.services``
records itself here, in the transaction of the change, through ``audit.services.record_event``
(so ``verify_audit`` covers these events like any other). What an approval binds and what
it leaves living is the README's "What an approval binds"; this is how the living part
stays provable.

* A single recipient change (API, admin form): object type ``recipient``, object id its
  external id, actions ``recipient_created`` / ``recipient_changed`` with ``before`` and
  ``after`` (language, tags, addresses; credential addresses masked as the API shows
  them); ``recipient_opted_out`` (actor None: learned from a provider, whose kind and code
  are the reason).
* A bulk import: ONE event, action ``recipients_imported``, object id the sha256 of the
  rows as imported, with the counts (created, updated, unchanged, refused), that digest
  and the tags touched.
* An audience: object type ``audience``, object id its pk, actions ``audience_created``,
  ``audience_changed`` (definition before/after, member-list changes) and
  ``audience_members_imported`` (counts and the digest of the ids).

A change *touches* the tags the recipient had before it and has after it: a tag audience
is affected by a new member, a leaving member, and a member whose address or language
changed. ``tags_touched`` is an object {tag: rows} so that the selector of
``campaigns.audiences.changes`` can filter by key in the database (``has_any_keys``); it
holds at most ``MAX_TAGS_RECORDED`` tags, beyond which ``tags_capped`` says every tag
audience must assume it was touched. ``ids`` (the external ids changed by an import) is
capped the same way by ``MAX_IDS_RECORDED``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from audit.services import canonical_json, record_event
from campaigns import stored_text
from campaigns.audiences.rules import masked_addresses

RECIPIENT = "recipient"
AUDIENCE = "audience"

RECIPIENT_CREATED = "recipient_created"
RECIPIENT_CHANGED = "recipient_changed"
RECIPIENT_OPTED_OUT = "recipient_opted_out"
RECIPIENTS_IMPORTED = "recipients_imported"
AUDIENCE_CREATED = "audience_created"
AUDIENCE_CHANGED = "audience_changed"
AUDIENCE_MEMBERS_IMPORTED = "audience_members_imported"

# One event per recipient: these name the recipient by its external id.
SINGLE_RECIPIENT_ACTIONS = (RECIPIENT_CREATED, RECIPIENT_CHANGED, RECIPIENT_OPTED_OUT)
AUDIENCE_ACTIONS = (AUDIENCE_CREATED, AUDIENCE_CHANGED, AUDIENCE_MEMBERS_IMPORTED)

MAX_TAGS_RECORDED = 100
MAX_IDS_RECORDED = 1000


def recipient_state(
    language: str, tags: Sequence[str], addresses: Mapping[str, str] | None
) -> dict[str, Any]:
    """Return what an event shows of a recipient: language, tags, addresses (credentials masked)."""
    return {"language": language, "tags": list(tags or []), "addresses": masked_addresses(addresses)}


def _changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    return [name for name in ("language", "tags", "addresses") if before.get(name) != after.get(name)]


def record_recipient_change(
    *, external_id: str, before: Mapping[str, Any] | None, after: Mapping[str, Any], actor
) -> None:
    """Record one recipient created (``before`` None) or changed; nothing when nothing changed.

    ``before`` and ``after`` are :func:`recipient_state` values, taken from the stored
    (unmasked) addresses, so a replaced token shows as a change even when its last four
    characters are equal.
    """
    raw_before = before or {"language": "", "tags": [], "addresses": {}}
    changed = _changed_fields(raw_before, after)
    if before is not None and not changed:
        return
    shown = {
        key: recipient_state(value["language"], value["tags"], value["addresses"]) if value else None
        for key, value in (("before", before), ("after", after))
    }
    touched = sorted({*raw_before["tags"], *after["tags"]})
    record_event(
        object_type=RECIPIENT,
        object_id=external_id,
        action=RECIPIENT_CREATED if before is None else RECIPIENT_CHANGED,
        actor=actor,
        data={**shown, "changed": changed, "tags_touched": dict.fromkeys(touched, 1)},
    )


def record_opt_out(
    *, external_id: str, provider_kind: str, code: str, column: str, value: str, tags: Sequence[str]
) -> None:
    """Record an opt-out learned from provider ``provider_kind`` (no actor: the provider said so)."""
    reason = (
        stored_text.english(stored_text.OPTED_OUT_AT_CODE, provider=provider_kind, code=code)
        if code
        else stored_text.english(stored_text.OPTED_OUT_AT, provider=provider_kind)
    )
    record_event(
        object_type=RECIPIENT,
        object_id=external_id,
        action=RECIPIENT_OPTED_OUT,
        actor=None,
        reason=reason,
        data={
            "provider_kind": provider_kind,
            "code": code,
            column: value,
            "tags_touched": dict.fromkeys(sorted(set(tags or [])), 1),
        },
    )


@dataclass
class ImportTally:
    """What one import changed, accumulated row by row for its single audit event.

    ``digest`` is the sha256 of the rows as imported: each accepted row as validated
    (``external_id``, ``language``, ``tags``, ``addresses``; null where the row keeps the
    stored value) in canonical JSON (``audit.services.canonical_json``) followed by a
    newline, in the order read. Refused rows are not in it; they are counted.
    """

    changed: int = 0
    unchanged: int = 0
    tags: dict[str, int] = field(default_factory=dict)
    tags_more: int = 0
    ids: list[str] = field(default_factory=list)
    ids_more: int = 0
    _hash: Any = field(default_factory=hashlib.sha256)

    def add_row(self, row: Mapping[str, Any]) -> None:
        self._hash.update(canonical_json(dict(row)).encode() + b"\n")

    @property
    def digest(self) -> str:
        return self._hash.hexdigest()

    def touch(self, external_id: str, tags: Iterable[str]) -> None:
        """Count a row that changed recipient ``external_id``, touching ``tags``."""
        self.changed += 1
        if len(self.ids) < MAX_IDS_RECORDED:
            self.ids.append(external_id)
        else:
            self.ids_more += 1
        for tag in set(tags):
            if tag in self.tags or len(self.tags) < MAX_TAGS_RECORDED:
                self.tags[tag] = self.tags.get(tag, 0) + 1
            else:
                self.tags_more += 1

    def data(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "tags_touched": dict(sorted(self.tags.items())),
            "tags_capped": self.tags_more > 0,
            "tags_more": self.tags_more,
            "ids": self.ids,
            "ids_capped": self.ids_more > 0,
        }


def record_recipient_import(*, report: Any, tally: ImportTally, actor) -> None:
    """Record one recipient import (``report`` is its ``ImportReport``) as one event."""
    record_event(
        object_type=RECIPIENT,
        object_id=tally.digest,
        action=RECIPIENTS_IMPORTED,
        actor=actor,
        data={
            "rows": report.rows,
            "created": report.created,
            # ``updated`` of the report also counts rows that changed nothing.
            "updated": tally.changed - report.created,
            "refused": report.invalid,
            **tally.data(),
        },
    )


def audience_definition(audience: Any) -> dict[str, Any]:
    """Return what an event shows of an audience's definition."""
    return {
        "name": audience.name,
        "kind": audience.kind,
        "tags": list(audience.tags or []),
        "segment": audience.segment,
    }


def record_audience_change(
    *,
    audience: Any,
    before: Mapping[str, Any] | None,
    lists: Mapping[str, Mapping[str, Any]],
    actor,
) -> None:
    """Record an audience created (``before`` None) or changed; nothing when nothing changed.

    ``lists`` maps ``members`` / ``suppressed`` to what replacing that list did
    (``added``, ``removed``: how many ids).
    """
    after = audience_definition(audience)
    changed_lists = {name: value for name, value in lists.items() if value["added"] or value["removed"]}
    if before is not None and before == after and not changed_lists:
        return
    record_event(
        object_type=AUDIENCE,
        object_id=audience.pk,
        action=AUDIENCE_CREATED if before is None else AUDIENCE_CHANGED,
        actor=actor,
        data={"before": before, "after": after, **changed_lists},
    )


def record_members_import(
    *, audience: Any, suppressed: bool, replace: bool, report: Any, digest: str, actor
) -> None:
    """Record one import into an audience's member or suppression list as one event."""
    record_event(
        object_type=AUDIENCE,
        object_id=audience.pk,
        action=AUDIENCE_MEMBERS_IMPORTED,
        actor=actor,
        data={
            "list": "suppressed" if suppressed else "members",
            "replace": replace,
            "rows": report.rows,
            "added": report.created,
            "already_listed": report.updated,
            "removed": report.removed,
            "refused": report.invalid,
            "digest": digest,
        },
    )
