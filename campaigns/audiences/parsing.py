"""Read import files lazily: recipient rows from CSV or JSON, audience member ids from CSV
or plain text.

Parsers yield one row at a time and never load a file whole, so memory stays flat however
long it is. What a parser cannot read becomes a ``MalformedRow`` in the stream (the
importer reports it as an invalid row) rather than an exception, except a bad CSV header,
which refuses the whole file before any row. What a row means is the importer's business
(``campaigns.audiences.recipients``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from providers import safe_json
from providers.registry import PROVIDERS

CSV_TAG_SEPARATORS = re.compile(r"[|;]")
CSV_ADDRESS_PREFIX = "address_"
_READ_SIZE = 64 * 1024
MAX_JSON_ROW_CHARS = 1024 * 1024
# A recipient file has at most 3 + one address column per provider kind; 200 is far above
# any real header and keeps the header check (and its error message) small.
MAX_CSV_COLUMNS = 200
# How much of a column name an error message quotes.
_QUOTE_LIMIT = 40
# A first line holding one of these is the header of a member list, not an id.
_MEMBER_HEADERS = frozenset({"external_id", "user_id", "userid", "id"})


@dataclass(frozen=True)
class MalformedRow:
    """A record a parser could not turn into a row dict (the importer reports it as invalid)."""

    field: str
    message: str


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


def _short(name: str) -> str:
    return name if len(name) <= _QUOTE_LIMIT else name[: _QUOTE_LIMIT - 1] + "…"


def _csv_header(header: list[str]) -> list[str]:
    """Return the normalized header; raise ValidationError when a column is unknown or missing.

    Linear in the header's length: a header of more than ``MAX_CSV_COLUMNS`` columns is
    refused before any column is looked at.
    """
    if len(header) > MAX_CSV_COLUMNS:
        raise ValidationError(
            {
                "file": [
                    _("the header has %(count)s columns; at most %(max)s are accepted")
                    % {"count": f"{len(header):,}", "max": MAX_CSV_COLUMNS}
                ]
            }
        )
    columns = [name.strip().lower() for name in header]
    errors = []
    for name in columns:
        if name in ("external_id", "language", "tags"):
            continue
        if name.startswith(CSV_ADDRESS_PREFIX) and name[len(CSV_ADDRESS_PREFIX) :] in PROVIDERS:
            continue
        errors.append(
            f"column {_short(name)!r} is not known; columns are external_id, language, tags and "
            f"address_<kind> with kind one of {', '.join(PROVIDERS)}"
        )
    if "external_id" not in columns:
        errors.append(f"the header {', '.join(map(_short, columns)) or '(empty)'} has no external_id column")
    duplicates = sorted(name for name, count in Counter(columns).items() if count > 1)
    if duplicates:
        errors.append(f"column(s) {', '.join(map(_short, duplicates))} appear more than once in the header")
    if errors:
        raise ValidationError({"file": errors})
    return columns


def parse_csv(stream: IO) -> Iterator[dict[str, Any] | MalformedRow]:
    """Yield one row dict per CSV record, lazily.

    The first line is the header: ``external_id`` (required), ``language``, ``tags`` (tags
    separated by "|" or ";") and ``address_<kind>`` columns (one per provider kind).
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
            except RecursionError as exc:
                raise ValidationError({"file": [safe_json.too_deep()]}) from exc
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
        try:  # text Crier cannot keep refuses the whole body (providers/safe_json.py)
            safe_json.check(value)
        except safe_json.HostileInput as exc:
            raise ValidationError({"file": [str(exc)]}) from exc
        yield value


def parse_member_lines(stream: Any) -> Iterator[str | MalformedRow]:
    """Yield the external ids of a CSV or text file: the first cell of each non-blank line.

    A first line reading ``external_id``, ``user_id``, ``userid`` or ``id`` is a header and
    skipped. Lines are yielded lazily; a file that is not UTF-8 text ends with a MalformedRow.
    """
    first = True
    for cells in csv_records(stream):
        if isinstance(cells, MalformedRow):
            yield cells
            return
        cell = cells[0].strip() if cells else ""
        if first:
            first = False
            if cell.lower() in _MEMBER_HEADERS:
                continue
        if not cell and all(not c.strip() for c in cells):
            continue
        yield cell
