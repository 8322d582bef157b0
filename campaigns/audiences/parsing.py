"""Read import files lazily: recipient rows from CSV or JSON, audience member ids from CSV
or plain text.

Parsers yield one row at a time and never load a file whole, so memory stays flat however
long it is. What a parser cannot read becomes a ``MalformedRow`` in the stream (the
importer reports it as an invalid row) rather than an exception, except a bad CSV header,
which refuses the whole file before any row. What a row means is the importer's business
(``campaigns.audiences.recipients``).

CSV records carry where they came from (``Source``): the row number as a spreadsheet shows
it (the header is row 1, a blank line is a row, a record whose quoted cell holds line
breaks is one row), the file lines it spans and its raw text, shortened and escaped, so a
report can show what a refused row said. The quoting rule (docs/csv-uploads.md):

* Quotes are read strictly (``csv`` with ``strict=True``): text after a closing quote, and
  a quote still open at the end of the file, refuse that record with every line it took,
  instead of being glued into a cell that silently swallowed the rows after it.
* A quoted cell that spans lines is legal CSV, so it is only a warning ("a quoted cell
  spans lines M–K; check for a missing quote") with the raw lines. No column of a
  recipient file may hold a line break, so such a recipient row is refused by its column's
  rule as well; a member list reads only the first cell, which must be an id.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

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
# How much of a record's raw text a report quotes; enough to recognise the row.
RAW_LIMIT = 200
# A line longer than this ends the file's reading: no recipient or id line comes near it
# (a header at the column cap is a few kilobytes; a huge header must still reach the column
# check, which names its count), and reading it whole would let one line take the memory
# the streaming saves.
MAX_LINE_CHARS = 4 * 1024 * 1024


def raw_excerpt(text: str, limit: int = RAW_LIMIT) -> str:
    """Return ``text`` as a report quotes it: line ends dropped at the end, other line
    breaks kept as "\\n", control characters escaped (``\\x00``, ``\\t``), at most ``limit``
    characters (then "…")."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n").split("\n")
    shown = "\n".join(
        "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in line)
        for line in lines
    )
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


@dataclass(frozen=True)
class Source:
    """Where a record came from: its row as a spreadsheet numbers it (header = row 1), the
    file lines it spans and its raw text (``raw_excerpt``)."""

    row: int
    first_line: int
    last_line: int
    raw: str


@dataclass(frozen=True)
class Notice:
    """Something legal but suspicious about a record: reported, not refused."""

    field: str
    message: str


@dataclass(frozen=True)
class Record:
    """One parsed record (a row dict, or a member id) with its ``Source`` and notices."""

    value: Any
    source: Source
    notices: tuple[Notice, ...] = ()


@dataclass(frozen=True)
class MalformedRow:
    """A record a parser could not turn into a row dict (the importer reports it as invalid),
    with its ``Source`` when the parser knows it."""

    field: str
    message: str
    source: Source | None = field(default=None, compare=False)


class _LineTooLong(Exception):
    def __init__(self, number: int) -> None:
        self.number = number


class _Lines:
    """The lines of a text stream for ``csv.reader``: counted, and the start of the current
    record's raw text kept (at most ``RAW_LIMIT`` + 1 characters, so memory stays flat)."""

    def __init__(self, text: IO[str]) -> None:
        self._text = text
        self.number = 0
        self._first = 1
        self._raw: list[str] = []
        self._kept = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._text.readline(MAX_LINE_CHARS + 1)
        if not line:
            raise StopIteration
        if len(line) > MAX_LINE_CHARS:
            raise _LineTooLong(self.number + 1)
        self.number += 1
        if self._kept <= RAW_LIMIT:
            part = line[: RAW_LIMIT + 1 - self._kept]
            self._raw.append(part)
            self._kept += len(part)
        return line

    def take(self, row: int) -> Source:
        """Return the source of the record just read and start the next one."""
        source = Source(
            row=row,
            first_line=self._first,
            last_line=max(self.number, self._first),
            raw=raw_excerpt("".join(self._raw)),
        )
        self._first = self.number + 1
        self._raw, self._kept = [], 0
        return source


def _lines_text(source: Source) -> str:
    if source.first_line == source.last_line:
        return _("line %(line)s") % {"line": source.first_line}
    return _("lines %(first)s–%(last)s") % {"first": source.first_line, "last": source.last_line}


def spans_lines_notice(source: Source) -> Notice:
    return Notice(
        "row",
        _("a quoted cell spans lines %(first)s–%(last)s; check for a missing quote")
        % {"first": source.first_line, "last": source.last_line},
    )


def _text_stream(stream: IO) -> IO[str]:
    """Return ``stream`` as text, decoding bytes as UTF-8 (a leading BOM is dropped)."""
    if isinstance(stream.read(0), bytes):
        return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    return stream


def csv_records(stream: IO) -> Iterator[tuple[list[str], Source] | MalformedRow]:
    """Yield the records of a CSV file as (cells, source), lazily.

    Broken quoting (see the module docstring) yields a MalformedRow for that record, with
    its source, and reading goes on after it; a quote still open at the end of the file
    has taken the rest of the file, so reading ends there. A file that is not UTF-8 text,
    or has a line over ``MAX_LINE_CHARS``, yields a MalformedRow where reading failed and
    ends: what follows cannot be trusted.
    """
    lines = _Lines(_text_stream(stream))
    reader = csv.reader(lines, strict=True)
    row = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            yield MalformedRow(
                "file",
                _("the file is not UTF-8 text (%(reason)s at byte %(byte)s of a block, after line %(line)s)")
                % {"reason": exc.reason, "byte": exc.start, "line": lines.number},
                Source(row + 1, lines.number + 1, lines.number + 1, ""),
            )
            return
        except _LineTooLong as exc:
            yield MalformedRow(
                "file",
                _("line %(line)s is longer than %(max)s characters; reading stopped there")
                % {"line": exc.number, "max": f"{MAX_LINE_CHARS:,}"},
                Source(row + 1, exc.number, exc.number, ""),
            )
            return
        except csv.Error as exc:
            row += 1
            source = lines.take(row)
            yield MalformedRow("row", _quoting_message(str(exc), source), source)
            if "end of data" in str(exc) or "field limit" in str(exc):
                return  # the open quote took the rest of the file (or a cell over the limit)
            continue
        row += 1
        yield cells, lines.take(row)


def _quoting_message(error: str, source: Source) -> str:
    """Return what a csv.Error means for a person editing the file."""
    where = {"first": source.first_line, "last": source.last_line, "lines": _lines_text(source)}
    if "end of data" in error:
        return (
            _(
                "the quote opened on line %(first)s is never closed, so %(lines)s (to the end of the "
                "file) were read as one cell; close the quote or remove it"
            )
            % where
        )
    if "expected after" in error:
        return (
            _(
                "a closing quote is followed by more text (%(lines)s); inside a quoted cell write a "
                'quote as two quotes ("")'
            )
            % where
        )
    if "field limit" in error:
        return (
            _(
                "a cell starting on line %(first)s is longer than %(max)s characters; check for a "
                "missing quote (reading stopped there)"
            )
            % {**where, "max": f"{csv.field_size_limit():,}"}
        )
    return _("%(lines)s is not valid CSV: %(error)s") % {**where, "error": error}


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


def parse_csv(stream: IO) -> Iterator[Record | MalformedRow]:
    """Yield one ``Record`` (its value a row dict) per CSV record, lazily.

    The first line is the header: ``external_id`` (required), ``language``, ``tags`` (tags
    separated by "|" or ";") and ``address_<kind>`` columns (one per provider kind).
    An empty language or address cell means "keep what is stored"; an empty tags cell
    clears the tags (leave the column out to keep them). A record with the wrong number of
    cells, or broken quoting, yields a MalformedRow with its source (row, lines, raw text);
    a record whose quoted cell spans lines carries a notice. Raise ValidationError (field
    ``file``) on a bad header, before any row is yielded.
    """
    records = csv_records(stream)
    header = next(records, None)
    if header is None:
        raise ValidationError(
            {"file": [_("the file is empty; the first line must be a header with external_id")]}
        )
    if isinstance(header, MalformedRow):
        raise ValidationError({"file": [_("the header: %(problem)s") % {"problem": header.message}]})
    columns = _csv_header(header[0])
    for item in records:
        if isinstance(item, MalformedRow):
            yield item
            continue
        cells, source = item
        if not cells or all(not cell.strip() for cell in cells):
            continue  # blank lines (e.g. at the end of the file) are not rows
        if len(cells) != len(columns):
            values = {"cells": len(cells), "columns": len(columns)}
            if source.last_line > source.first_line:
                message = ngettext(
                    "the row has %(cells)s cell; the header has %(columns)s (a quoted cell spans "
                    "lines %(first)s–%(last)s; check for a missing quote)",
                    "the row has %(cells)s cells; the header has %(columns)s (a quoted cell spans "
                    "lines %(first)s–%(last)s; check for a missing quote)",
                    len(cells),
                ) % {**values, "first": source.first_line, "last": source.last_line}
            else:
                message = ngettext(
                    "the row has %(cells)s cell; the header has %(columns)s",
                    "the row has %(cells)s cells; the header has %(columns)s",
                    len(cells),
                ) % values
            yield MalformedRow("row", message, source)
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
        notices = (spans_lines_notice(source),) if source.last_line > source.first_line else ()
        yield Record(row, source, notices)


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


def parse_member_lines(stream: Any) -> Iterator[Record | MalformedRow]:
    """Yield a ``Record`` (its value an external id) per non-blank line of a CSV or text
    file: the first cell of the line.

    A first line reading ``external_id``, ``user_id``, ``userid`` or ``id`` is a header and
    skipped. Lines are yielded lazily. Broken quoting yields a MalformedRow for that record
    (see ``csv_records``); a record whose quoted cell spans lines carries a notice, and so
    does one whose number of cells differs from the first line's (only the first cell is
    read, so a shifted column would import the wrong id).
    """
    first = True
    width = 0
    for item in csv_records(stream):
        if isinstance(item, MalformedRow):
            yield item
            continue
        cells, source = item
        cell = cells[0].strip() if cells else ""
        if first:
            first = False
            width = len(cells)
            if cell.lower() in _MEMBER_HEADERS:
                continue
        if not cell and all(not c.strip() for c in cells):
            continue
        notices = []
        if source.last_line > source.first_line:
            notices.append(spans_lines_notice(source))
        if len(cells) != width:
            notices.append(
                Notice(
                    "row",
                    ngettext(
                        "the row has %(cells)s cell, the first line %(width)s; only the first cell is read",
                        "the row has %(cells)s cells, the first line %(width)s; only the first cell is read",
                        len(cells),
                    )
                    % {"cells": len(cells), "width": width},
                )
            )
        yield Record(cell, source, tuple(notices))
