"""Compress a planned request's ids and routes with lz4 on PostgreSQL (pglz before).

A Jiguang request's ``targets`` and ``routes`` are 13 and 25 KB of JSON, compressed when
they are stored (TOAST). Writing 20 of them was a fifth of a SQL planning step with pglz
(20 of 104 ms), 15 ms with lz4 (BENCHMARKS.md, "This round"); lz4 also decompresses faster
when the send loop reads them. Only rows written from now on are compressed with lz4; the
older ones stay readable as they are. A server built without lz4 keeps pglz. SQLite has no
such setting.
"""

from django.db import migrations

COLUMNS = ("targets", "routes")


def _set(schema_editor, method: str) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'", [method]
        )
        row = cursor.fetchone()
    if not row or not row[0]:
        return
    table = connection.ops.quote_name("campaigns_delivery")
    changes = ", ".join(f"ALTER COLUMN {connection.ops.quote_name(c)} SET COMPRESSION {method}" for c in COLUMNS)
    schema_editor.execute(f"ALTER TABLE {table} {changes}")


def lz4(apps, schema_editor) -> None:
    _set(schema_editor, "lz4")


def pglz(apps, schema_editor) -> None:
    _set(schema_editor, "pglz")


class Migration(migrations.Migration):

    dependencies = [
        ("campaigns", "0014_dispatch_planning_cursor"),
    ]

    operations = [migrations.RunPython(lz4, pglz)]
