"""Import reports: what a recipient or member import did, row by row.

Shared by ``campaigns.audiences.recipients`` and ``campaigns.audiences.services``. A row is
numbered as docs/csv-uploads.md says (a CSV file's row as a spreadsheet shows it, else the
1-based position), and for a file carries the lines it spans and its raw text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from campaigns.audiences.parsing import MalformedRow, Record, Source

# Errors kept in a report; beyond this only ``error_count`` grows, so a file of a million
# bad rows cannot exhaust memory.
MAX_REPORTED_ERRORS = 1000


@dataclass(frozen=True)
class RowError:
    """Why one row of an import was refused (or, as a warning, what looks wrong in it): its
    number, the field and the rule; for a file, the lines it spans and its raw text.

    ``row`` is the row as a spreadsheet numbers it for a CSV file (the header is row 1),
    else the 1-based position of the row or id in the input.
    """

    row: int
    field: str
    message: str
    lines: tuple[int, int] | None = None
    raw: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The API's form: ``lines`` ([first, last]) and ``raw`` only for a file's rows."""
        shown: dict[str, Any] = {"row": self.row, "field": self.field, "message": self.message}
        if self.lines is not None:
            shown["lines"] = list(self.lines)
        if self.raw is not None:
            shown["raw"] = self.raw
        return shown


def sourced(source: Source | None, row: int, field_name: str, message: str) -> RowError:
    """Return the RowError of ``row`` with where it came from, when a parser said so."""
    if source is None:
        return RowError(row, field_name, message)
    return RowError(source.row, field_name, message, (source.first_line, source.last_line), source.raw)


def unwrap(position: int, item: Any) -> tuple[int, Any, Source | None, tuple]:
    """Return (row number, value, source, notices) of one input item: a parser's ``Record``
    or ``MalformedRow``, or a plain value numbered by its position."""
    if isinstance(item, Record):
        return item.source.row, item.value, item.source, item.notices
    if isinstance(item, MalformedRow) and item.source is not None:
        return item.source.row, item, item.source, ()
    return position, item, None, ()


@dataclass
class ImportReport:
    """What an import did. Rows are numbered as ``RowError`` says.

    ``created``/``updated`` count rows written (for audience members: ids newly listed /
    already listed), ``removed`` ids dropped by a replacing import, ``invalid`` rows refused
    (each has at least one entry in ``errors``, which keeps the first
    ``MAX_REPORTED_ERRORS``; ``error_count`` counts them all). ``warnings`` are rows
    imported but worth a look (an id repeated in the input, a quoted cell spanning lines),
    kept and counted the same way.
    """

    rows: int = 0
    created: int = 0
    updated: int = 0
    removed: int = 0
    invalid: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    warning_count: int = 0
    warnings: list[RowError] = field(default_factory=list)
    dry_run: bool = False

    def add_errors(self, errors: Sequence[RowError]) -> None:
        self.invalid += 1
        self.error_count += len(errors)
        room = MAX_REPORTED_ERRORS - len(self.errors)
        if room > 0:
            self.errors.extend(errors[:room])

    def add_warning(self, warning: RowError) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_REPORTED_ERRORS:
            self.warnings.append(warning)

    def add_notices(self, source: Source | None, row: int, notices: Sequence[Any]) -> None:
        for notice in notices:
            self.add_warning(sourced(source, row, notice.field, notice.message))

    def add_repeat(self, source: Source | None, row: int, external_id: str, first: int, applies: str) -> None:
        self.add_warning(
            sourced(
                source,
                row,
                "external_id",
                _("%(id)s is also on row %(first)s; %(what)s")
                % {"id": repr(external_id), "first": first, "what": applies},
            )
        )

    @property
    def errors_truncated(self) -> bool:
        return self.error_count > len(self.errors)

    @property
    def warnings_truncated(self) -> bool:
        return self.warning_count > len(self.warnings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "removed": self.removed,
            "invalid": self.invalid,
            "error_count": self.error_count,
            "errors_truncated": self.errors_truncated,
            "warning_count": self.warning_count,
            "warnings_truncated": self.warnings_truncated,
            "dry_run": self.dry_run,
            "errors": [e.as_dict() for e in self.errors],
            "warnings": [w.as_dict() for w in self.warnings],
        }
