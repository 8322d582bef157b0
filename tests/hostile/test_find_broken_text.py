"""The repair path for rows already broken: ``manage.py find_broken_text`` and the data
migration that runs the same scan (approvals/broken_text.py). Broken rows are written with
raw SQL, as an older Crier or a manual edit could have; each database is tested for what
it can hold at all."""

from __future__ import annotations

import importlib
import io
import json
import logging

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DataError, connection, transaction
from django.db.utils import OperationalError

from approvals.broken_text import Finding, crier_models, scan, scan_model
from campaigns.audiences.recipients import recipients_bulk_upsert
from campaigns.models import Audience, Recipient
from templates_registry.models import MessageTemplate

pytestmark = pytest.mark.django_db

sqlite_only = pytest.mark.skipif("connection.vendor != 'sqlite'", reason="what SQLite can hold")
postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="what PostgreSQL can hold")

DEEP_100 = "[" * 100 + "]" * 100


def table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def run() -> tuple[str, str | None]:
    """Return the command's output and its error (None when it found nothing)."""
    out = io.StringIO()
    try:
        call_command("find_broken_text", stdout=out)
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), None


@pytest.fixture
def recipients():
    recipients_bulk_upsert(
        actor=None, rows=[{"external_id": f"u{n}", "language": "en", "tags": ["vip"]} for n in (1, 2, 3)]
    )
    return {r.external_id: r.pk for r in Recipient.objects.all()}


def test_a_clean_database_reports_nothing(recipients):
    output, error = run()
    assert error is None
    assert "no broken text found" in output


def test_every_text_and_json_column_of_every_model_is_scanned():
    scanned = {model._meta.label for model in crier_models(apps)}
    # From the app registry: every app of ours, and a model with text columns in each.
    assert {"audit.AuditEvent", "providers.ProviderAccount", "templates_registry.TemplateVersion",
            "campaigns.Campaign", "campaigns.Recipient", "approvals.Review"} <= scanned


def test_json_nested_deeper_than_64_levels_is_found_with_its_path_on_every_database(recipients):
    pk = recipients["u2"]
    tags = json.dumps(["vip", {"more": json.loads(DEEP_100)}])
    with connection.cursor() as cursor:
        cast = "::jsonb" if connection.vendor == "postgresql" else ""
        cursor.execute(f"UPDATE {table(Recipient)} SET tags = %s{cast} WHERE id = %s", [tags, pk])

    output, error = run()

    assert error == "1 value(s) hold text Crier refuses; repair them through the admin or the API"
    assert output.splitlines() == [
        f"campaigns.Recipient pk={pk} field=tags at [1].more" + "[0]" * 62
        + ": JSON nested deeper than 64 levels is refused"
    ]


@sqlite_only
def test_sqlite_holds_a_lone_surrogate_and_a_nul_and_the_scan_names_both(recipients):
    with connection.cursor() as cursor:
        # char(55296) is U+D800: SQLite writes the three bytes ED A0 80, not valid UTF-8.
        cursor.execute(
            f"UPDATE {table(Recipient)} SET external_id = 'u' || char(55296) WHERE id = %s",
            [recipients["u1"]],
        )
        # A raw NUL in JSON is refused by SQLite's JSON_VALID check; in plain text it is kept.
        cursor.execute(
            f"UPDATE {table(Recipient)} SET language = 'e' || char(0) || 'n' WHERE id = %s",
            [recipients["u3"]],
        )
    # The ORM cannot even read the first row: why the scan reads bytes.
    with pytest.raises(OperationalError):
        list(Recipient.objects.filter(pk=recipients["u1"]).values_list("external_id", flat=True))

    found = list(scan([Recipient], connection))

    assert found == [
        Finding("campaigns.Recipient", recipients["u1"], "external_id", "",
                'a lone surrogate ("\\ud800") is not valid Unicode text'),
        Finding("campaigns.Recipient", recipients["u3"], "language", "",
                "the NUL character (\\u0000) is not allowed in text"),
    ]


@sqlite_only
def test_sqlite_json_escapes_of_a_surrogate_and_a_nul_are_found_too(db):
    template = MessageTemplate.objects.create(key="t", provider_refs={})
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table(MessageTemplate)} SET provider_refs = %s WHERE id = %s",
            ['{"jiguang": {"id": "\\ud800"}, "binance": "\\u0000"}', template.pk],
        )

    found = [(f.field, f.path, f.problem.split(" (")[0]) for f in scan([MessageTemplate], connection)]

    assert found == [("provider_refs", "binance", "the NUL character")]  # the first one met is named


@postgres_only
def test_postgresql_refuses_a_nul_and_a_lone_surrogate_so_only_depth_can_be_stored(recipients):
    pk = recipients["u1"]
    for sql, value in (
        (f"UPDATE {table(Recipient)} SET external_id = %s WHERE id = %s", "a\x00b"),
        (f"UPDATE {table(Recipient)} SET tags = %s::jsonb WHERE id = %s", '["a\\u0000b"]'),
        (f"UPDATE {table(Recipient)} SET tags = %s::jsonb WHERE id = %s", '["\\ud800"]'),
    ):
        with pytest.raises((DataError, ValueError)), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [value, pk])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table(Recipient)} SET tags = %s::jsonb WHERE id = %s", ["[" * 5000 + "]" * 5000, pk]
        )

    assert [(f.pk, f.field, f.path) for f in scan([Recipient], connection)] == [(pk, "tags", "")]


def test_the_scan_reads_in_chunks_and_finds_rows_past_the_first(recipients):
    with connection.cursor() as cursor:
        cast = "::jsonb" if connection.vendor == "postgresql" else ""
        cursor.execute(
            f"UPDATE {table(Recipient)} SET tags = %s{cast} WHERE id = %s", [DEEP_100, recipients["u3"]]
        )

    assert [f.pk for f in scan_model(Recipient, connection, chunk=1)] == [recipients["u3"]]


def test_the_data_migration_logs_each_finding_and_never_fails(recipients, caplog):
    migration = importlib.import_module("approvals.migrations.0008_find_broken_text")
    with connection.cursor() as cursor:
        cast = "::jsonb" if connection.vendor == "postgresql" else ""
        cursor.execute(f"UPDATE {table(Audience)} SET tags = %s{cast}", [DEEP_100])  # no rows: no finding
        cursor.execute(
            f"UPDATE {table(Recipient)} SET tags = %s{cast} WHERE id = %s", [DEEP_100, recipients["u1"]]
        )

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection
    with caplog.at_level(logging.WARNING, logger="approvals.broken_text"):
        migration.report_broken_text(apps, editor)
    messages = [r.getMessage() for r in caplog.records]
    assert f"broken text: campaigns.Recipient pk={recipients['u1']} field=tags at " in messages[0]
    assert "1 value(s) hold text Crier refuses" in messages[1]

    class Broken:
        def get_app_config(self, label):
            raise RuntimeError("the registry is unreadable")

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="approvals.broken_text"):
        migration.report_broken_text(Broken(), editor)  # logged, not raised
    assert "the scan for broken text failed" in caplog.records[0].getMessage()


def test_a_failing_query_in_the_data_migration_leaves_the_migration_usable(recipients, caplog, monkeypatch):
    """On PostgreSQL a failed query aborts the transaction: the scan runs in a savepoint."""
    migration = importlib.import_module("approvals.migrations.0008_find_broken_text")

    def failing_scan(model_list, conn):
        with conn.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table_for_the_scan")
        yield from ()

    monkeypatch.setattr("approvals.broken_text.scan", failing_scan)
    editor = type("Editor", (), {"connection": connection})()

    with caplog.at_level(logging.WARNING, logger="approvals.broken_text"):
        migration.report_broken_text(apps, editor)

    assert "the scan for broken text failed" in caplog.records[0].getMessage()
    assert Recipient.objects.count() == 3  # the surrounding transaction still works
