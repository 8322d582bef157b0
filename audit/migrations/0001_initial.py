"""Take over the model AuditEvent from approvals, in Django's state only.

The table ``approvals_auditevent`` already exists (created by ``approvals.0001_initial``,
constrained by ``approvals.0003``) and keeps its name, rows, indexes and constraints:
nothing runs against the database here. ``approvals.0004`` removes the model from the
approvals app's state after this migration.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("approvals", "0003_audit_chain_is_linear"),
        ("campaigns", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEvent",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("object_type", models.CharField(max_length=50)),
                        ("object_id", models.CharField(max_length=64)),
                        ("action", models.CharField(max_length=50)),
                        ("from_state", models.CharField(blank=True, max_length=32)),
                        ("to_state", models.CharField(blank=True, max_length=32)),
                        ("reason", models.TextField(blank=True)),
                        ("data", models.JSONField(blank=True, default=dict)),
                        ("created_at", models.DateTimeField()),
                        ("prev_hash", models.CharField(max_length=64)),
                        ("hash", models.CharField(max_length=64, unique=True)),
                        ("actor", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="audit_events", to=settings.AUTH_USER_MODEL)),
                        ("campaign", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="audit_events", to="campaigns.campaign")),
                    ],
                    options={
                        "db_table": "approvals_auditevent",
                        "ordering": ["id"],
                        "base_manager_name": "objects",
                        "constraints": [
                            models.UniqueConstraint(fields=("prev_hash",), name="audit_event_linear_chain"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
