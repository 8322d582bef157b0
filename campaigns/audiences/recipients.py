"""Recipients: check them, import them in bulk (upsert by external id), record their opt-outs.

The only module that writes ``Recipient`` and ``RecipientTag``; it keeps the two in step
(``Recipient.tags`` is what users see, ``RecipientTag`` is one indexed row per tag that tag
audiences query).

Imports stream: ``parse_csv`` and ``parse_json`` yield one row dict at a time and
``recipients_bulk_upsert`` writes them in batches, so memory stays flat however long the
file is (100,000 rows measured in ``tests/campaigns/test_recipients.py``).

What one row means (CSV and JSON alike):

* ``external_id`` (required) is the key: an existing recipient is updated, else created.
* ``language`` replaces the stored one; when absent (or an empty CSV cell) it is kept, and
  a new recipient gets ``en``.
* ``tags`` replaces the stored list; when absent it is kept. An empty list clears it.
* ``addresses`` is merged per provider kind: a kind with a value sets it, a kind with ``""``
  or ``null`` removes it, kinds not mentioned are kept. So a file with only Jiguang ids
  never wipes the Alipay+ tokens imported earlier.
* Opt-outs are never imported: they are learned from providers (``recipient_opt_out``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import transaction

from campaigns.models import Recipient, RecipientTag
from providers.registry import PROVIDERS
from templates_registry.languages import normalize_language

DEFAULT_LANGUAGE = "en"
EXTERNAL_ID_MAX_LENGTH = 64
TAG_MAX_BYTES = 40
MAX_TAGS_PER_RECIPIENT = 100
ADDRESS_MAX_LENGTH = 128
# Errors kept in a report; beyond this only ``error_count`` grows, so a file of a million
# bad rows cannot exhaust memory.
MAX_REPORTED_ERRORS = 1000

# Jiguang UMS characters: letters, digits, "_" and @!#$&*+=.|¥ (PROVIDERS.md, and what
# providers.jiguang and its emulator check). External ids also take "-", as the send-engine
# issue specifies, because ids such as UUIDs need it; such an id is not a valid Jiguang
# userid, so for Jiguang it needs an explicit addresses["jiguang"] (see ADDRESS_PATTERNS).
_JIGUANG_CHARS = r"A-Za-z0-9_@!#$&*+=.|¥"
_EXTERNAL_ID = re.compile(rf"[{_JIGUANG_CHARS}\-]{{1,{EXTERNAL_ID_MAX_LENGTH}}}")
# Tags go to Jiguang as they are (aud_tag): its characters plus CJK ideographs.
_TAG = re.compile(rf"[{_JIGUANG_CHARS}\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# What a provider accepts as a user address, where it documents a rule.
ADDRESS_PATTERNS: dict[str, re.Pattern[str]] = {
    "jiguang": re.compile(rf"[{_JIGUANG_CHARS}]{{1,{EXTERNAL_ID_MAX_LENGTH}}}"),
}
ADDRESS_RULES = {"jiguang": "1–64 characters among letters, digits, _ @ ! # $ & * + = . | ¥"}
ID_RULE = "1–64 characters among letters, digits, _ @ ! # $ & * + = . | ¥ -"
TAG_RULE = f"at most {TAG_MAX_BYTES} bytes of UTF-8 among letters, digits, CJK, _ @ ! # $ & * + = . | ¥"

ROW_FIELDS = ("external_id", "language", "tags", "addresses")
CSV_TAG_SEPARATORS = re.compile(r"[|;]")
CSV_ADDRESS_PREFIX = "address_"


# --- reports -------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """Why one row of an import was refused: its 1-based number, the field and the rule."""

    row: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class MalformedRow:
    """A record a parser could not turn into a row dict (the importer reports it as invalid)."""

    field: str
    message: str


@dataclass
class ImportReport:
    """What an import did. Rows are numbered from 1 in the order they were read.

    ``created``/``updated`` count rows written (for audience members: ids newly listed /
    already listed), ``removed`` ids dropped by a replacing import, ``invalid`` rows refused
    (each has at least one entry in ``errors``, which keeps the first
    ``MAX_REPORTED_ERRORS``; ``error_count`` counts them all).
    """

    rows: int = 0
    created: int = 0
    updated: int = 0
    removed: int = 0
    invalid: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False

    def add_errors(self, errors: Sequence[RowError]) -> None:
        self.invalid += 1
        self.error_count += len(errors)
        room = MAX_REPORTED_ERRORS - len(self.errors)
        if room > 0:
            self.errors.extend(errors[:room])

    @property
    def errors_truncated(self) -> bool:
        return self.error_count > len(self.errors)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "removed": self.removed,
            "invalid": self.invalid,
            "error_count": self.error_count,
            "errors_truncated": self.errors_truncated,
            "dry_run": self.dry_run,
            "errors": [e.as_dict() for e in self.errors],
        }


# --- validation of single values -----------------------------------------------------


def external_id_error(value: Any) -> str | None:
    """Return why ``value`` is not a valid external id, or None when it is."""
    if not isinstance(value, str):
        return f"external_id {value!r} must be a string of {ID_RULE}"
    if not _EXTERNAL_ID.fullmatch(value):
        return f"external_id {value!r} must be {ID_RULE}"
    return None


def tag_error(value: Any, *, field_name: str = "tags") -> str | None:
    """Return why ``value`` is not a valid tag, or None when it is."""
    if not isinstance(value, str):
        return f"{field_name}: tag {value!r} must be a string"
    size = len(value.encode("utf-8"))
    if size > TAG_MAX_BYTES:
        return f"{field_name}: tag {value!r} is {size} bytes of UTF-8; a tag is {TAG_RULE}"
    if not _TAG.fullmatch(value):
        return f"{field_name}: tag {value!r} must be {TAG_RULE}"
    return None


def clean_tags(value: Any, *, field_name: str = "tags") -> tuple[list[str], list[str]]:
    """Return (tags stripped and de-duplicated in order, error messages) for a list of tags."""
    if not isinstance(value, list | tuple):
        return [], [f"{field_name} {value!r} must be a list of tags"]
    tags: list[str] = []
    errors: list[str] = []
    for raw in value:
        tag = raw.strip() if isinstance(raw, str) else raw
        message = tag_error(tag, field_name=field_name)
        if message:
            errors.append(message)
        elif tag not in tags:
            tags.append(tag)
    return tags, errors


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
        if not isinstance(raw_addresses, Mapping):
            fail("addresses", f"addresses {raw_addresses!r} must be an object {{provider kind: address}}")
        else:
            addresses = {}
            for kind, address in raw_addresses.items():
                if kind not in PROVIDERS:
                    fail(
                        "addresses",
                        f"addresses: {kind!r} is not a provider kind; known: {', '.join(PROVIDERS)}",
                    )
                elif address is None or address == "":
                    addresses[kind] = None
                elif not isinstance(address, str):
                    fail("addresses", f"addresses.{kind} {address!r} must be a string")
                elif len(address) > ADDRESS_MAX_LENGTH:
                    fail(
                        "addresses",
                        f"addresses.{kind} is {len(address)} characters; "
                        f"an address is at most {ADDRESS_MAX_LENGTH}",
                    )
                elif kind in ADDRESS_PATTERNS and not ADDRESS_PATTERNS[kind].fullmatch(address):
                    fail("addresses", f"addresses.{kind} {address!r} must be {ADDRESS_RULES[kind]}")
                else:
                    addresses[kind] = address

    if errors:
        return None, errors
    return CleanRow(external_id=external_id, language=language, tags=tags, addresses=addresses), []


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


def _write_batch(batch: dict[str, CleanRow], repeats: int, report: ImportReport) -> None:
    """Upsert one batch of distinct external ids and their tag rows, in one transaction."""
    ids = list(batch)
    with transaction.atomic():
        stored = {
            external_id: (language, tags, addresses)
            for external_id, language, tags, addresses in Recipient.objects.filter(
                external_id__in=ids
            ).values_list("external_id", "language", "tags", "addresses")
        }
        report.updated += len(stored) + repeats
        report.created += len(ids) - len(stored)
        if report.dry_run:
            return
        objs = []
        for external_id, clean in batch.items():
            language, tags, addresses = stored.get(external_id, (DEFAULT_LANGUAGE, [], {}))
            objs.append(
                Recipient(
                    external_id=external_id,
                    language=clean.language or language,
                    tags=list(clean.tags) if clean.tags is not None else list(tags or []),
                    addresses=_merge_addresses(addresses, clean.addresses),
                )
            )
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
    batch_size: int = 2000,
    dry_run: bool = False,
) -> ImportReport:
    """Create or update recipients by external id from ``rows``; return what happened.

    Rows are read lazily and written ``batch_size`` at a time (one transaction per batch,
    recipient and tag rows together), so memory does not grow with the number of rows.

    A file with some bad rows imports its good rows: every bad row is refused whole — never
    half-written — and listed in the report with its number, field and rule. Callers who
    want all-or-nothing run a ``dry_run`` first (validates and counts, writes nothing), as
    the admin upload page does. Within the input, a later row for the same external id
    applies on top of the earlier one (counted as an update). See the module docstring for
    what each field of a row means.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size {batch_size} must be at least 1")
    report = ImportReport(dry_run=dry_run)
    batch: dict[str, CleanRow] = {}
    repeats = 0
    for number, row in enumerate(rows, start=1):
        report.rows = number
        if isinstance(row, MalformedRow):
            report.add_errors([RowError(number, row.field, row.message)])
            continue
        clean, errors = recipient_clean_row(row, row_number=number)
        if clean is None:
            report.add_errors(errors)
            continue
        earlier = batch.get(clean.external_id)
        if earlier is not None:
            batch[clean.external_id] = earlier.then(clean)
            repeats += 1
            continue
        batch[clean.external_id] = clean
        if len(batch) >= batch_size:
            _write_batch(batch, repeats, report)
            batch, repeats = {}, 0
    if batch:
        _write_batch(batch, repeats, report)
    return report


# --- single recipients -----------------------------------------------------------------


def recipient_create(
    *,
    external_id: str,
    language: str = DEFAULT_LANGUAGE,
    tags: Sequence[str] = (),
    addresses: Mapping[str, str | None] | None = None,
) -> Recipient:
    """Create one recipient; raise ValidationError (by field) if invalid or the id exists."""
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
    return recipient


def recipient_update(
    *,
    recipient: Recipient,
    language: str | None = None,
    tags: Sequence[str] | None = None,
    addresses: Mapping[str, str | None] | None = None,
) -> Recipient:
    """Change a recipient's language, tags (replaced) or addresses (merged by kind; "" removes).

    Arguments left as None are kept. The external id never changes: audiences refer to it.
    Raise ValidationError by field when a value breaks a rule; nothing is written then.
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
        if clean.language:
            locked.language = clean.language
        if clean.tags is not None:
            locked.tags = list(clean.tags)
        if clean.addresses is not None:
            locked.addresses = _merge_addresses(locked.addresses, clean.addresses)
        locked.save(update_fields=["language", "tags", "addresses", "updated_at"])
        _sync_tags({locked.pk: locked.tags})
    return locked


def recipient_opt_out(*, external_id: str, provider_kind: str, template_key: str | None = None) -> bool:
    """Record that ``external_id`` refused messages; return True if that is new.

    With ``template_key`` the refusal covers that template only (Binance 900241), without
    it everything from ``provider_kind`` (Binance 900240). An id the provider reported but
    we have no Recipient for (a "users" audience may list such ids) gets a Recipient row,
    so later sends skip it too.
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
    return True


# Address kinds that are credentials (an Alipay+ accessToken lets us message the user):
# shown only by their last characters in the API and the admin.
SECRET_ADDRESS_KINDS = frozenset({"alipayplus"})


def masked_addresses(addresses: Mapping[str, str] | None) -> dict[str, str]:
    """Return ``addresses`` with credential-like values cut to their last four characters
    (nothing at all of a value of eight characters or fewer)."""
    return {
        kind: (
            f"…{value[-4:] if len(value) > 8 else ''}" if kind in SECRET_ADDRESS_KINDS and value else value
        )
        for kind, value in (addresses or {}).items()
    }


# --- parsers --------------------------------------------------------------------------


def _text_stream(stream: IO) -> IO[str]:
    """Return ``stream`` as text, decoding bytes as UTF-8 (a leading BOM is dropped)."""
    if isinstance(stream.read(0), bytes):
        return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    return stream


def csv_records(stream: IO) -> Iterator[list[str] | MalformedRow]:
    """Yield the records of a CSV file as lists of cells, lazily.

    A file that is not UTF-8 text, or not CSV, yields a MalformedRow where reading failed
    and ends: what follows cannot be trusted.
    """
    reader = csv.reader(_text_stream(stream))
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            yield MalformedRow(
                "file", f"the file is not UTF-8 text ({exc.reason} at byte {exc.start} of a block)"
            )
            return
        except csv.Error as exc:
            yield MalformedRow("file", f"the file is not valid CSV: {exc}")
            return
        yield cells


def _csv_header(header: list[str]) -> list[str]:
    """Return the normalized header; raise ValidationError when a column is unknown or missing."""
    columns = [name.strip().lower() for name in header]
    errors = []
    for name in columns:
        if name in ("external_id", "language", "tags"):
            continue
        if name.startswith(CSV_ADDRESS_PREFIX) and name[len(CSV_ADDRESS_PREFIX) :] in PROVIDERS:
            continue
        errors.append(
            f"column {name!r} is not known; columns are external_id, language, tags and "
            f"address_<kind> with kind one of {', '.join(PROVIDERS)}"
        )
    if "external_id" not in columns:
        errors.append(f"the header {', '.join(columns) or '(empty)'} has no external_id column")
    duplicates = sorted({name for name in columns if columns.count(name) > 1})
    if duplicates:
        errors.append(f"column(s) {', '.join(duplicates)} appear more than once in the header")
    if errors:
        raise ValidationError({"file": errors})
    return columns


def parse_csv(stream: IO) -> Iterator[dict[str, Any] | MalformedRow]:
    """Yield one row dict per CSV record, lazily.

    The first line is the header: ``external_id`` (required), ``language``, ``tags`` (tags
    separated by "|" or ";") and ``address_<kind>`` columns (``address_alipayplus``, …).
    An empty language or address cell means "keep what is stored"; an empty tags cell
    clears the tags (leave the column out to keep them). A record with the wrong number of
    cells yields a MalformedRow. Raise ValidationError (field ``file``) on a bad header,
    before any row is yielded.
    """
    records = csv_records(stream)
    header = next(records, None)
    if header is None:
        raise ValidationError(
            {"file": ["the file is empty; the first line must be a header with external_id"]}
        )
    if isinstance(header, MalformedRow):
        raise ValidationError({"file": [header.message]})
    columns = _csv_header(header)
    for cells in records:
        if isinstance(cells, MalformedRow):
            yield cells
            return
        if not cells or all(not cell.strip() for cell in cells):
            continue  # blank lines (e.g. at the end of the file) are not rows
        if len(cells) != len(columns):
            yield MalformedRow("row", f"the record has {len(cells)} cells; the header has {len(columns)}")
            continue
        row: dict[str, Any] = {}
        addresses: dict[str, str] = {}
        for name, cell in zip(columns, cells, strict=True):
            cell = cell.strip()
            if name == "tags":
                row["tags"] = [tag for tag in CSV_TAG_SEPARATORS.split(cell) if tag.strip()]
            elif name.startswith(CSV_ADDRESS_PREFIX):
                if cell:
                    addresses[name[len(CSV_ADDRESS_PREFIX) :]] = cell
            elif cell:
                row[name] = cell
        if addresses:
            row["addresses"] = addresses
        yield row


_READ_SIZE = 64 * 1024
MAX_JSON_ROW_CHARS = 1024 * 1024


def parse_json(stream: IO) -> Iterator[Any]:
    """Yield the rows of a JSON array, or of JSON Lines (one object per line), lazily.

    The array is decoded element by element from a bounded buffer, never loaded whole.
    Elements are yielded as decoded (the importer refuses non-objects, by row). Invalid
    JSON yields a MalformedRow for that element and ends the stream, since nothing after
    it can be trusted to line up with the row numbers.
    """
    try:
        yield from _json_values(_text_stream(stream))
    except UnicodeDecodeError as exc:
        yield MalformedRow(
            "file", f"the file is not UTF-8 text ({exc.reason} at byte {exc.start} of a block)"
        )


def _json_values(text: IO[str]) -> Iterator[Any]:
    decoder = json.JSONDecoder()
    buffer = ""
    eof = False
    pos = 0

    def fill() -> bool:
        nonlocal buffer, pos, eof
        if eof:
            return False
        chunk = text.read(_READ_SIZE)
        if not chunk:
            eof = True
            return False
        buffer = buffer[pos:] + chunk
        pos = 0
        return True

    def skip_space() -> str:
        """Return the next non-space character (not consumed), "" at the end of input."""
        nonlocal pos
        while True:
            while pos < len(buffer) and buffer[pos].isspace():
                pos += 1
            if pos < len(buffer):
                return buffer[pos]
            if not fill():
                return ""

    first = skip_space()
    if first == "":
        return
    in_array = first == "["
    if in_array:
        pos += 1
    expect_value = True
    while True:
        char = skip_space()
        if char == "":
            if in_array:
                yield MalformedRow("file", "the JSON array is not closed with ']'")
            return
        if in_array and char == "]":
            return
        if in_array and not expect_value:
            if char != ",":
                yield MalformedRow("file", f"expected ',' or ']' between array elements, found {char!r}")
                return
            pos += 1
            expect_value = True
            continue
        # Decode one value; if the buffer ends inside it (or right at its end, where a
        # number could go on), read more and try again.
        while True:
            try:
                value, end = decoder.raw_decode(buffer, pos)
            except json.JSONDecodeError as exc:
                if len(buffer) - pos > MAX_JSON_ROW_CHARS:
                    yield MalformedRow(
                        "row", f"the element is not valid JSON within {MAX_JSON_ROW_CHARS} characters"
                    )
                    return
                if fill():
                    continue
                yield MalformedRow("row", f"invalid JSON: {exc.msg}")
                return
            if end == len(buffer) and fill():
                continue
            break
        pos = end
        expect_value = False
        yield value
