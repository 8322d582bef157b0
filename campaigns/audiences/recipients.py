"""Recipients: check them, import them in bulk (upsert by external id), record their opt-outs.

The only module that writes ``Recipient`` and ``RecipientTag``; it keeps the two in step
(``Recipient.tags`` is what users see, ``RecipientTag`` is one indexed row per tag that tag
audiences query).

Imports stream: the parsers (``campaigns.audiences.parsing``) yield one row dict at a time
and ``recipients_bulk_upsert`` writes them in batches, so memory stays flat however long
the file is (100,000 rows measured in ``tests/campaigns/test_recipients.py``).

What one row means (CSV and JSON alike):

* ``external_id`` (required) is the key: an existing recipient is updated, else created.
* ``language`` replaces the stored one; when absent (or an empty CSV cell) it is kept, and
  a new recipient gets ``en``.
* ``tags`` replaces the stored list; when absent it is kept. An empty list clears it.
* ``addresses`` is merged per provider kind: a kind with a value sets it, a kind with ``""``
  or ``null`` removes it, kinds not mentioned are kept. So a file with the addresses of one
  provider never wipes the tokens of another provider imported earlier.
* Opt-outs are never imported: they are learned from providers (``recipient_opt_out``).

The rules of single values (ids, tags, provider addresses) are ``campaigns.audiences.rules``.

Every write is an audit event (``campaigns.audiences.history``), recorded in the transaction
of the change: one per recipient created or changed (with its ``actor``), one per import
with its counts and the digest of its rows, one per opt-out learned from a provider.
Callers pass ``actor`` (the user, or None where no user acts: the demo seeding).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from campaigns.audiences.history import (
    ImportTally,
    record_opt_out,
    record_recipient_change,
    record_recipient_import,
)
from campaigns.audiences.parsing import MalformedRow
from campaigns.audiences.reports import (  # noqa: F401  (ImportReport, RowError: imported from here too)
    MAX_REPORTED_ERRORS,
    ImportReport,
    RowError,
    sourced,
    unwrap,
)
from campaigns.audiences.rules import ADDRESS_MAX_LENGTH, address_error, clean_tags, external_id_error
from campaigns.audiences.seen import FirstSeen
from campaigns.models import Recipient, RecipientTag
from providers.registry import PROVIDERS
from templates_registry.languages import normalize_language

DEFAULT_LANGUAGE = "en"
MAX_TAGS_PER_RECIPIENT = 100
ROW_FIELDS = ("external_id", "language", "tags", "addresses")


# --- rows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CleanRow:
    """A validated row; None means "keep what is stored" (see the module docstring)."""

    external_id: str
    language: str | None = None
    tags: tuple[str, ...] | None = None
    # kind -> address, or None to remove that kind.
    addresses: Mapping[str, str | None] | None = None

    def then(self, later: CleanRow) -> CleanRow:
        """Return the row that applying ``self`` then ``later`` amounts to."""
        addresses = self.addresses
        if later.addresses is not None:
            addresses = {**(addresses or {}), **later.addresses}
        return CleanRow(
            external_id=self.external_id,
            language=later.language if later.language is not None else self.language,
            tags=later.tags if later.tags is not None else self.tags,
            addresses=addresses,
        )


def recipient_clean_row(
    row: Mapping[str, Any], *, row_number: int = 0
) -> tuple[CleanRow | None, list[RowError]]:
    """Validate one import row; return (the clean row, []) or (None, its errors).

    Every field is checked, so one row gets all its errors at once.
    """
    errors: list[RowError] = []

    def fail(field_name: str, message: str) -> None:
        errors.append(RowError(row_number, field_name, message))

    if not isinstance(row, Mapping):
        fail("row", f"row must be an object with {', '.join(ROW_FIELDS)}; got {type(row).__name__}")
        return None, errors
    for key in row:
        if key not in ROW_FIELDS:
            fail(str(key), f"unknown field {key!r}; a row has {', '.join(ROW_FIELDS)}")

    external_id = row.get("external_id")
    if isinstance(external_id, str):
        external_id = external_id.strip()
    if external_id in (None, ""):
        fail("external_id", "external_id is required")
    elif message := external_id_error(external_id):
        fail("external_id", message)

    language = row.get("language")
    if language in (None, ""):
        language = None
    elif not isinstance(language, str):
        fail("language", f"language {language!r} must be a string such as en, en-US or zh-CN")
    else:
        try:
            language = normalize_language(language)
        except ValidationError as exc:
            fail("language", f"language {exc.messages[0]}")

    tags = None
    if "tags" in row and row["tags"] is not None:
        cleaned, messages = clean_tags(row["tags"])
        for message in messages:
            fail("tags", message)
        if len(cleaned) > MAX_TAGS_PER_RECIPIENT:
            fail("tags", f"tags has {len(cleaned)} tags; a recipient has at most {MAX_TAGS_PER_RECIPIENT}")
        tags = tuple(cleaned)

    addresses = None
    raw_addresses = row.get("addresses")
    if raw_addresses is not None:
        addresses, messages = _clean_addresses(raw_addresses)
        for message in messages:
            fail("addresses", message)

    if errors:
        return None, errors
    return CleanRow(external_id=external_id, language=language, tags=tags, addresses=addresses), []


def _clean_addresses(raw: Any) -> tuple[dict[str, str | None], list[str]]:
    """Return ({kind: address, or None to remove it}, error messages) for a row's addresses.

    Each provider's own rule (``address_pattern``) applies to its addresses.
    """
    if not isinstance(raw, Mapping):
        return {}, [f"addresses {raw!r} must be an object {{provider kind: address}}"]
    addresses: dict[str, str | None] = {}
    errors: list[str] = []
    for kind, address in raw.items():
        if kind not in PROVIDERS:
            errors.append(f"addresses: {kind!r} is not a provider kind; known: {', '.join(PROVIDERS)}")
        elif address is None or address == "":
            addresses[kind] = None
        elif not isinstance(address, str):
            errors.append(f"addresses.{kind} {address!r} must be a string")
        elif not address.isprintable():
            errors.append(
                f"addresses.{kind} {address!r} holds a line break or another control character; "
                "an address is one line of text"
            )
        elif len(address) > ADDRESS_MAX_LENGTH:
            errors.append(
                f"addresses.{kind} is {len(address)} characters; an address is at most {ADDRESS_MAX_LENGTH}"
            )
        elif message := address_error(kind, address):
            errors.append(message)
        else:
            addresses[kind] = address
    return addresses, errors


def _errors_to_validation_error(errors: Sequence[RowError]) -> ValidationError:
    by_field: dict[str, list[str]] = {}
    for error in errors:
        by_field.setdefault(error.field, []).append(error.message)
    return ValidationError(by_field)


def _merge_addresses(stored: Mapping[str, str], changes: Mapping[str, str | None] | None) -> dict[str, str]:
    merged = dict(stored or {})
    for kind, address in (changes or {}).items():
        if address:
            merged[kind] = address
        else:
            merged.pop(kind, None)
    return merged


def _sync_tags(tags_by_recipient: Mapping[int, Sequence[str]]) -> None:
    """Make the RecipientTag rows of these recipients exactly their tags (diff, not rewrite)."""
    if not tags_by_recipient:
        return
    have = {
        (recipient_id, tag): pk
        for pk, recipient_id, tag in RecipientTag.objects.filter(
            recipient_id__in=list(tags_by_recipient)
        ).values_list("id", "recipient_id", "tag")
    }
    want = {(recipient_id, tag) for recipient_id, tags in tags_by_recipient.items() for tag in tags}
    stale = [pk for key, pk in have.items() if key not in want]
    if stale:
        RecipientTag.objects.filter(id__in=stale).delete()
    missing = [RecipientTag(recipient_id=rid, tag=tag) for rid, tag in want if (rid, tag) not in have]
    if missing:
        # ignore_conflicts: a concurrent import of the same recipient may have added it.
        RecipientTag.objects.bulk_create(missing, ignore_conflicts=True)


# --- bulk upsert ----------------------------------------------------------------------


def _write_batch(
    batch: dict[str, CleanRow],
    repeats: int,
    report: ImportReport,
    tally: ImportTally,
    earlier: set[str] | frozenset[str] = frozenset(),
) -> None:
    """Upsert one batch of distinct external ids and their tag rows, in one transaction;
    count in ``tally`` what each row changed. ``earlier`` are ids of this batch that an
    earlier batch of the same input held (updates, even in a dry run that wrote nothing)."""
    ids = list(batch)
    with transaction.atomic():
        stored = {
            external_id: (language, tags, addresses)
            for external_id, language, tags, addresses in Recipient.objects.filter(
                external_id__in=ids
            ).values_list("external_id", "language", "tags", "addresses")
        }
        new = len(ids) - len(stored) - len(earlier - stored.keys())
        report.updated += len(ids) - new + repeats
        report.created += new
        if report.dry_run:
            return
        objs = []
        for external_id, clean in batch.items():
            language, tags, addresses = stored.get(external_id, (DEFAULT_LANGUAGE, [], {}))
            obj = Recipient(
                external_id=external_id,
                language=clean.language or language,
                tags=list(clean.tags) if clean.tags is not None else list(tags or []),
                addresses=_merge_addresses(addresses, clean.addresses),
            )
            objs.append(obj)
            same = (language, tags, addresses) == (obj.language, obj.tags, obj.addresses)
            if same and external_id in stored:
                tally.unchanged += 1
            else:
                tally.touch(external_id, [*(tags or []), *obj.tags])
        Recipient.objects.bulk_create(
            objs,
            update_conflicts=True,
            unique_fields=["external_id"],
            update_fields=["language", "tags", "addresses", "updated_at"],
        )
        pks = dict(Recipient.objects.filter(external_id__in=ids).values_list("external_id", "id"))
        _sync_tags({pks[obj.external_id]: obj.tags for obj in objs})


def recipients_bulk_upsert(
    *,
    rows: Iterable[Mapping[str, Any] | MalformedRow],
    actor,
    batch_size: int = 2000,
    dry_run: bool = False,
) -> ImportReport:
    """Create or update recipients by external id from ``rows``; return what happened.

    Rows are read lazily and written ``batch_size`` at a time (one transaction per batch,
    recipient and tag rows together), so memory does not grow with the number of rows.

    A file with some bad rows imports its good rows: every bad row is refused whole — never
    half-written — and listed in the report with its number, field and rule (and, for a
    file, its lines and raw text). Callers who want all-or-nothing run a ``dry_run`` first
    (validates and counts, writes nothing), as the admin upload page does. Within the
    input, a later row for the same external id applies on top of the earlier one (counted
    as an update) and is reported as a warning naming both rows; repeats are found across
    the whole input in bounded memory (``campaigns.audiences.seen``), so a dry run counts
    them as the import will. See the module docstring for
    what each field of a row means. An import that writes (not a dry run) is one audit
    event by ``actor``, recorded after its last batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size {batch_size} must be at least 1")
    report = ImportReport(dry_run=dry_run)
    tally = ImportTally()
    batch: dict[str, CleanRow] = {}
    earlier: set[str] = set()
    repeats = 0
    applies = _("this row applies on top of the earlier one")
    with FirstSeen() as seen:
        for position, item in enumerate(rows, start=1):
            number, row, source, notices = unwrap(position, item)
            report.rows = position
            report.add_notices(source, number, notices)
            if isinstance(row, MalformedRow):
                report.add_errors([sourced(source, number, row.field, row.message)])
                continue
            clean, errors = recipient_clean_row(row, row_number=number)
            if clean is None:
                report.add_errors([sourced(source, number, e.field, e.message) for e in errors])
                continue
            tally.add_row(asdict(clean))
            first = seen.first_row(clean.external_id, number)
            if first is not None:
                report.add_repeat(source, number, clean.external_id, first, applies)
            before = batch.get(clean.external_id)
            if before is not None:
                batch[clean.external_id] = before.then(clean)
                repeats += 1
                continue
            if first is not None:
                earlier.add(clean.external_id)  # in an earlier batch: applied on top of what it wrote
            batch[clean.external_id] = clean
            if len(batch) >= batch_size:
                _write_batch(batch, repeats, report, tally, earlier)
                batch, repeats, earlier = {}, 0, set()
        if batch:
            _write_batch(batch, repeats, report, tally, earlier)
    if not dry_run:
        record_recipient_import(report=report, tally=tally, actor=actor)
    return report


# --- single recipients -----------------------------------------------------------------


def _state(recipient: Recipient) -> dict[str, Any]:
    # Unmasked, so that a replaced token is a change; the event masks what it shows.
    return {
        "language": recipient.language,
        "tags": list(recipient.tags or []),
        "addresses": dict(recipient.addresses or {}),
    }


def recipient_create(
    *,
    external_id: str,
    language: str = DEFAULT_LANGUAGE,
    tags: Sequence[str] = (),
    addresses: Mapping[str, str | None] | None = None,
    actor,
) -> Recipient:
    """Create one recipient, recorded as made by ``actor``; raise ValidationError (by field)
    if invalid or the id exists."""
    clean, errors = recipient_clean_row(
        {"external_id": external_id, "language": language, "tags": list(tags), "addresses": addresses or {}}
    )
    if clean is None:
        raise _errors_to_validation_error(errors)
    with transaction.atomic():
        if Recipient.objects.filter(external_id=clean.external_id).exists():
            raise ValidationError(
                {"external_id": [f"external_id {clean.external_id!r} already exists; update that recipient"]}
            )
        recipient = Recipient.objects.create(
            external_id=clean.external_id,
            language=clean.language or DEFAULT_LANGUAGE,
            tags=list(clean.tags or ()),
            addresses=_merge_addresses({}, clean.addresses),
        )
        _sync_tags({recipient.pk: recipient.tags})
        record_recipient_change(
            external_id=recipient.external_id,
            before=None,
            after=_state(recipient),
            actor=actor,
        )
    return recipient


def recipient_update(
    *,
    recipient: Recipient,
    language: str | None = None,
    tags: Sequence[str] | None = None,
    addresses: Mapping[str, str | None] | None = None,
    actor,
) -> Recipient:
    """Change a recipient's language, tags (replaced) or addresses (merged by kind; "" removes).

    Arguments left as None are kept. The external id never changes: audiences refer to it.
    Raise ValidationError by field when a value breaks a rule; nothing is written then.
    A change is recorded as made by ``actor``, with the values before and after.
    """
    row: dict[str, Any] = {"external_id": recipient.external_id, "language": language}
    if tags is not None:
        row["tags"] = list(tags)
    if addresses is not None:
        row["addresses"] = addresses
    clean, errors = recipient_clean_row(row)
    if clean is None:
        raise _errors_to_validation_error(errors)
    with transaction.atomic():
        locked = Recipient.objects.select_for_update().get(pk=recipient.pk)
        before = _state(locked)
        if clean.language:
            locked.language = clean.language
        if clean.tags is not None:
            locked.tags = list(clean.tags)
        if clean.addresses is not None:
            locked.addresses = _merge_addresses(locked.addresses, clean.addresses)
        locked.save(update_fields=["language", "tags", "addresses", "updated_at"])
        _sync_tags({locked.pk: locked.tags})
        record_recipient_change(
            external_id=locked.external_id, before=before, after=_state(locked), actor=actor
        )
    return locked


def recipient_opt_out(
    *, external_id: str, provider_kind: str, template_key: str | None = None, provider_code: str = ""
) -> bool:
    """Record that ``external_id`` refused messages; return True if that is new.

    With ``template_key`` the refusal covers that template only (Binance 900241), without
    it everything from ``provider_kind`` (Binance 900240). An id the provider reported but
    we have no Recipient for (a "users" audience may list such ids) gets a Recipient row,
    so later sends skip it too. A new opt-out is an audit event without an actor, its
    reason the provider kind and the provider's answer code (``provider_code``).
    """
    if provider_kind not in PROVIDERS:
        raise ValidationError(
            {"provider_kind": [f"provider_kind {provider_kind!r} is not one of {', '.join(PROVIDERS)}"]}
        )
    if message := external_id_error(external_id):
        raise ValidationError({"external_id": [message]})
    with transaction.atomic():
        recipient, _ = Recipient.objects.select_for_update().get_or_create(
            external_id=external_id, defaults={"language": DEFAULT_LANGUAGE}
        )
        if template_key:
            column, value = "opted_out_templates", template_key
        else:
            column, value = "opted_out_providers", provider_kind
        current = list(getattr(recipient, column) or [])
        if value in current:
            return False
        setattr(recipient, column, [*current, value])
        recipient.save(update_fields=[column, "updated_at"])
        record_opt_out(
            external_id=external_id,
            provider_kind=provider_kind,
            code=provider_code,
            column=column,
            value=value,
            tags=recipient.tags,
        )
    return True
