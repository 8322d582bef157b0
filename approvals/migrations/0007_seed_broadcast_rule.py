"""Seed the approval rule that was built into the code before rules were data:
"Broadcast to everyone" (audience kind ``all``) needs ``CRIER_APPROVALS_REQUIRED_BROADCAST``
distinct approvals (default 2), read when this migration runs. Afterwards administrators
change the rule in the admin; the setting no longer moves it.
"""

from django.conf import settings
from django.db import migrations

NAME = "Broadcast to everyone"


def seed(apps, schema_editor):
    ApprovalRule = apps.get_model("approvals", "ApprovalRule")
    required = max(1, int(getattr(settings, "CRIER_APPROVALS_REQUIRED_BROADCAST", 2)))
    ApprovalRule.objects.get_or_create(
        name=NAME, defaults={"audience_kind": "all", "approvals_required": required, "enabled": True}
    )


def unseed(apps, schema_editor):
    apps.get_model("approvals", "ApprovalRule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("approvals", "0006_approval_rules")]

    operations = [migrations.RunPython(seed, unseed)]
