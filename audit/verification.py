"""Check the audit chain and its checkpoints (``manage.py verify_audit``).

What is detected:

* an event changed, inserted, removed or reordered anywhere before the newest one: its
  MAC or the next event's ``prev_hash`` no longer matches (recomputing them needs the key);
* a chain recomputed without the key, as plain SHA-256 (a *legacy* event after a keyed
  one, or more legacy events than the checkpoints signed, or legacy events no checkpoint
  seals) or under a wrong key (the MAC does not match);
* the newest events deleted, when a checkpoint was written after them: the chain is
  shorter than the checkpoint's count, or its event at that position is not the
  checkpoint's head;
* a checkpoint rewritten or made up without the key: its signature does not match.

What is not: events appended and then deleted between two checkpoints, together with every
later checkpoint row, leave a database that is consistent with itself. Only a copy kept
outside the database shows that: the log lines of logger ``crier.audit`` or the file
``CRIER_AUDIT_CHECKPOINT_FILE``, which ``verify_audit --checkpoint-file`` compares.

Events or checkpoints signed with a key that is not configured cannot be verified; they are
named (their links are still checked), and the result is not ``ok``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.utils.translation import gettext as _

from audit.chain import GENESIS, checkpoint_mac, event_hash
from audit.keys import AuditKeyMissing
from audit.models import AuditCheckpoint, AuditEvent


@dataclass(frozen=True)
class MissingKey:
    """Events or checkpoints signed with a key that is not in ``CRIER_AUDIT_KEY``."""

    key_id: str
    what: str  # "events" or "checkpoints"
    first_id: int
    last_id: int
    count: int


@dataclass
class AuditCheck:
    """The result of checking the audit chain and its checkpoints.

    ``broken_id`` is the first bad event (``problem`` says why) and ``checked`` the events
    before it whose links held; ``checkpoint_problems`` name each checkpoint that does not
    match; ``missing_keys`` what could not be verified for want of its key.
    """

    checked: int
    broken_id: int | None = None
    problem: str = ""
    legacy: int = 0
    key_ids: list[str] = field(default_factory=list)
    checkpoints: int = 0
    newest_checkpoint_count: int | None = None
    checkpoint_problems: list[str] = field(default_factory=list)
    missing_keys: list[MissingKey] = field(default_factory=list)

    @property
    def chain_ok(self) -> bool:
        return self.broken_id is None

    @property
    def ok(self) -> bool:
        return self.chain_ok and not self.checkpoint_problems and not self.missing_keys


# The name earlier code and tests import.
ChainCheck = AuditCheck


def _events(chunk_size: int = 2000) -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size)


def _missing(found: dict[str, list[int]], what: str) -> list[MissingKey]:
    return [MissingKey(key_id, what, ids[0], ids[1], ids[2]) for key_id, ids in found.items()]


def _walk(result: AuditCheck, positions: set[int]) -> dict[int, tuple[int, str]]:
    """Walk the chain in id order, filling ``result``; return (id, hash) at each asked position."""
    heads: dict[int, tuple[int, str]] = {}
    expected_prev = GENESIS
    keyed_seen = False
    unverifiable: dict[str, list[int]] = {}
    key_ids: list[str] = []
    for event in _events():
        broken = ""
        if event.prev_hash != expected_prev:
            broken = _(
                "prev_hash %(prev)s… does not match the previous event's hash %(expected)s… "
                "(an event before it was removed, inserted or changed)"
            ) % {"prev": event.prev_hash[:12], "expected": expected_prev[:12]}
        elif not event.key_id and keyed_seen:
            broken = _(
                "it is an unkeyed (legacy) event after keyed ones: legacy events exist only "
                "before the chain was keyed, so this one was recomputed without the key"
            )
        else:
            try:
                actual = event_hash(event)
            except AuditKeyMissing:
                span = unverifiable.setdefault(event.key_id, [event.pk, event.pk, 0])
                span[1], span[2] = event.pk, span[2] + 1
                actual = event.hash  # its link is checked; its contents cannot be
            if actual != event.hash:
                broken = _(
                    "stored hash %(stored)s… does not match its contents under key %(key)s: the row was "
                    "changed after it was written, or recomputed without the key"
                ) % {"stored": event.hash[:12], "key": repr(event.key_id) if event.key_id else _("(legacy)")}
        if broken:
            result.broken_id, result.problem = event.pk, broken
            break
        keyed_seen = keyed_seen or bool(event.key_id)
        result.legacy += not event.key_id
        if event.key_id and event.key_id not in key_ids:
            key_ids.append(event.key_id)
        expected_prev = event.hash
        result.checked += 1
        if result.checked in positions:
            heads[result.checked] = (event.pk, event.hash)
    result.key_ids = key_ids
    result.missing_keys.extend(_missing(unverifiable, "events"))
    return heads


def _label(checkpoint: AuditCheckpoint, source: str) -> str:
    at = checkpoint.created_at.isoformat(timespec="seconds")
    if checkpoint.pk:
        return _("checkpoint %(id)s (%(at)s)") % {"id": checkpoint.pk, "at": at}
    return _("checkpoint of %(at)s in %(source)s") % {"at": at, "source": source}


def _check_checkpoint(
    checkpoint: AuditCheckpoint, label: str, result: AuditCheck, heads: dict[int, tuple[int, str]]
) -> str:
    """Return what is wrong with ``checkpoint`` ("" when it matches; raises AuditKeyMissing)."""
    if checkpoint_mac(checkpoint) != checkpoint.mac:
        return _(
            "%(label)s: its signature does not match its contents: the checkpoint was rewritten "
            "or made without the key"
        ) % {"label": label}
    if checkpoint.legacy_count != result.legacy:
        return _(
            "%(label)s signed %(signed)d legacy (unkeyed) events, the chain has %(legacy)d: "
            "events were recomputed without the key"
        ) % {"label": label, "signed": checkpoint.legacy_count, "legacy": result.legacy}
    if checkpoint.event_count == 0:
        return ""
    if checkpoint.event_count > result.checked:
        return _(
            "%(label)s counted %(count)d events up to event %(head)s, but the chain has only "
            "%(now)d: the newest %(gone)d events were deleted"
        ) % {
            "label": label, "count": checkpoint.event_count, "head": checkpoint.head_id,
            "now": result.checked, "gone": checkpoint.event_count - result.checked,
        }
    event_id, event_hash_ = heads[checkpoint.event_count]
    if (event_id, event_hash_) != (checkpoint.head_id, checkpoint.head_hash):
        return _(
            "%(label)s names event %(head)s (hash %(hash)s…) as event number %(count)d, but the "
            "chain's event number %(count)d is event %(id)s (hash %(actual)s…): events up to it "
            "were deleted or replaced"
        ) % {
            "label": label, "head": checkpoint.head_id, "hash": checkpoint.head_hash[:12],
            "count": checkpoint.event_count, "id": event_id, "actual": event_hash_[:12],
        }
    return ""


def read_checkpoint_file(path: str | Path) -> list[AuditCheckpoint]:
    """Return the checkpoints in an operator's copy: the checkpoint file, or log lines of
    ``crier.audit`` (each line's JSON object from its first ``{``; other lines are skipped).

    Raises ``ValueError`` naming the line when a checkpoint line cannot be read.
    """
    checkpoints: list[AuditCheckpoint] = []
    with open(path, encoding="utf-8") as copy:
        for number, line in enumerate(copy, start=1):
            start = line.find("{")
            if start < 0 or (start > 0 and "audit checkpoint" not in line):
                continue  # not a checkpoint: another log line
            try:
                record = json.loads(line[start:])
                checkpoints.append(
                    AuditCheckpoint(
                        created_at=datetime.fromisoformat(record["created_at"]),
                        event_count=int(record["event_count"]),
                        legacy_count=int(record["legacy_count"]),
                        head_id=record["head_id"],
                        head_hash=record["head_hash"],
                        key_id=record["key_id"],
                        mac=record["mac"],
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(
                    _("%(path)s line %(line)d is not a checkpoint record (%(error)s)")
                    % {"path": path, "line": number, "error": exc}
                ) from exc
    return checkpoints


def audit_verify(*, extra_checkpoints: Iterable[tuple[AuditCheckpoint, str]] = ()) -> AuditCheck:
    """Walk the chain in id order, then check every checkpoint against it.

    ``extra_checkpoints`` are (checkpoint, source) pairs from outside the database (an
    operator's copy, :func:`read_checkpoint_file`), checked like the table's.
    """
    stored = [(checkpoint, "") for checkpoint in AuditCheckpoint.objects.order_by("id")]
    every = stored + list(extra_checkpoints)
    result = AuditCheck(checked=0, checkpoints=len(every))
    heads = _walk(result, {checkpoint.event_count for checkpoint, _source in every})
    if every:
        result.newest_checkpoint_count = max(checkpoint.event_count for checkpoint, _source in every)
    if not result.chain_ok:
        return result  # a checkpoint after the break cannot be judged against a broken chain
    unverifiable: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for checkpoint, source in every:
        label = _label(checkpoint, source)
        try:
            problem = _check_checkpoint(checkpoint, label, result, heads)
        except AuditKeyMissing:
            span = unverifiable[checkpoint.key_id]
            span[0] = span[0] or (checkpoint.pk or 0)
            span[1], span[2] = checkpoint.pk or 0, span[2] + 1
            continue
        if problem:
            result.checkpoint_problems.append(problem)
    if result.legacy and not every:
        result.checkpoint_problems.append(
            _(
                "%(legacy)d legacy (unkeyed) events and no checkpoint sealing them: write one with "
                "`manage.py audit_checkpoint` right after upgrading (migration audit.0003 does), "
                "or the chain was recomputed without the key and the checkpoints deleted"
            ) % {"legacy": result.legacy}
        )
    result.missing_keys.extend(_missing(dict(unverifiable), "checkpoints"))
    return result
