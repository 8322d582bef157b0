"""AuditEvent now belongs to the ``audit`` app: drop it from this app's state only.

The table ``approvals_auditevent`` stays as it is (``audit.AuditEvent`` uses it). The
content type moves with the model, so the permission ``view_auditevent`` already given to
the role groups, and admin log entries about events, now name ``audit.auditevent``.
"""

from django.db import migrations


def _move_content_type(apps, schema_editor, *, source: str, target: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    manager = content_type.objects.db_manager(schema_editor.connection.alias)
    if manager.filter(app_label=target, model="auditevent").exists():
        return  # already there (e.g. created by a post_migrate run): leave both as they are
    manager.filter(app_label=source, model="auditevent").update(app_label=target)


def forwards(apps, schema_editor) -> None:
    _move_content_type(apps, schema_editor, source="approvals", target="audit")


def backwards(apps, schema_editor) -> None:
    _move_content_type(apps, schema_editor, source="audit", target="approvals")


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0003_audit_chain_is_linear"),
        ("audit", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEvent")],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
