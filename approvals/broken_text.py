"""Find rows already holding text Crier no longer accepts (issue #15: the repair path).

Since the API, the admin, the imports and the callbacks refuse a lone surrogate, a NUL and
JSON nested deeper than 64 levels (``providers/safe_json.py``; docs/architecture.md,
"Where each rule lives"), nothing new of the kind is stored; rows written before may still
hold it. :func:`scan` reads every text and JSON column of every model of Crier's apps and
yields a :class:`Finding` for each value that breaks a rule: model, primary key, field,
the JSON path inside the value, and the rule.

What each database can hold (tests/hostile/test_find_broken_text.py checks both):

* SQLite stores any bytes in a TEXT column: a lone surrogate (as the three bytes UTF-8
  would give it, which Python refuses to decode: the row cannot even be read through the
  ORM) and a NUL. JSON is text there, so over-deep JSON too.
* PostgreSQL refuses a NUL in text and in ``jsonb`` and refuses a lone surrogate
  (``\\ud800`` in ``jsonb`` is "Unicode low surrogate must follow a high surrogate"), but
  keeps ``jsonb`` nested thousands of levels deep.

So the scan reads raw: on SQLite each column ``CAST(... AS BLOB)`` (bytes, decoded here
with ``surrogatepass`` so the bad code point can be named), on PostgreSQL ``::text``
(JSON not decoded by the driver, whose recursive reader would fail on deep nesting). Rows
are read through ``connection.chunked_cursor()``: a server-side cursor on PostgreSQL, so
memory stays bounded by ``CHUNK`` rows whatever the table's size.

Reporting only, no ``--fix``: every such row belongs to something the services own (a
campaign's text is bound by its approval's hash, ``campaigns/snapshot.py``; every change
is an audit event). A repair written beside the services would change approved content
without voiding the approval. The operator repairs each finding through the admin or the
API, which refuse the bad text, or deletes the row there.

It uses only the app registry it is given, so the data migration
(``approvals/migrations/0008_find_broken_text.py``) runs it on historical models.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import models

from providers import safe_json

#: Crier's own apps, bottom layer first (docs/architecture.md, "The picture").
CRIER_APPS = ("audit", "providers", "templates_registry", "campaigns", "approvals")
#: Rows read per round trip.
CHUNK = 2000


@dataclass(frozen=True)
class Finding:
    """One value that breaks a rule: ``path`` is the JSON path inside it ("" for the whole)."""

    model: str
    pk: Any
    field: str
    path: str
    problem: str

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"{self.model} pk={self.pk} field={self.field}{where}: {self.problem}"


def crier_models(app_registry) -> list[type[models.Model]]:
    """Every concrete model of Crier's apps in ``app_registry`` (the live one or a
    migration's historical one)."""
    found = []
    for label in CRIER_APPS:
        try:
            config = app_registry.get_app_config(label)
        except LookupError:
            continue
        found.extend(m for m in config.get_models() if not m._meta.proxy and m._meta.managed)
    return found


def text_fields(model: type[models.Model]) -> list[models.Field]:
    """The model's own columns that hold text or JSON."""
    return [
        field
        for field in model._meta.concrete_fields
        if isinstance(field, models.CharField | models.TextField | models.JSONField)
    ]


def _raw_column(connection, column: str) -> str:
    quoted = connection.ops.quote_name(column)
    if connection.vendor == "sqlite":
        return f"CAST({quoted} AS BLOB)"
    if connection.vendor == "postgresql":
        return f"{quoted}::text"
    return quoted


def _as_text(raw: Any) -> tuple[str | None, str | None]:
    """Return (text, problem): bytes are decoded keeping lone surrogates so they can be
    named; bytes that are not UTF-8 at all are a problem of their own."""
    if raw is None:
        return None, None
    if isinstance(raw, memoryview):
        raw = raw.tobytes()
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8", "surrogatepass"), None
        except UnicodeDecodeError as exc:
            return None, f"not UTF-8 (byte {exc.start}: {raw[exc.start:exc.start + 1]!r})"
    return str(raw), None


def value_problem(field: models.Field, text: str) -> tuple[str, str] | None:
    """Return (JSON path, rule) when ``text``, the stored form of ``field``, breaks a rule."""
    if isinstance(field, models.JSONField):
        try:
            safe_json.loads(text)
        except safe_json.HostileInput as exc:
            return exc.path, exc.message
        except ValueError as exc:  # not JSON at all (SQLite keeps whatever text it was given)
            return "", _plain_problem(text) or f"not JSON ({exc})"
        return None
    problem = _plain_problem(text)
    return ("", problem) if problem else None


def _plain_problem(text: str) -> str | None:
    try:
        safe_json.check(text)
    except safe_json.HostileInput as exc:
        return exc.message
    return None


def scan_model(model: type[models.Model], connection, *, chunk: int = CHUNK) -> Iterator[Finding]:
    """Yield every Finding in ``model``'s table, read in chunks through a server-side cursor."""
    fields = text_fields(model)
    if not fields:
        return
    pk = model._meta.pk
    columns = ", ".join(
        [connection.ops.quote_name(pk.column), *(_raw_column(connection, f.column) for f in fields)]
    )
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.chunked_cursor() as cursor:
        # ORDER BY 1, the key: a text primary key is also one of the scanned columns.
        cursor.execute(f"SELECT {columns} FROM {table} ORDER BY 1")  # noqa: S608 (names quoted)
        while rows := cursor.fetchmany(chunk):
            for key, *values in rows:
                for field, raw in zip(fields, values, strict=True):
                    text, problem = _as_text(raw)
                    found = ("", problem) if problem else (value_problem(field, text) if text else None)
                    if found:
                        yield Finding(model._meta.label, key, field.name, found[0], found[1])


def scan(model_list: Iterable[type[models.Model]], connection) -> Iterator[Finding]:
    """Yield every Finding of every model in ``model_list``."""
    for model in model_list:
        yield from scan_model(model, connection)
