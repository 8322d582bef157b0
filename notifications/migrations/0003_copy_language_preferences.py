"""Keep every saved language preference: move crier_config.UserPreference's rows to
notifications.UserPreference (the model moved down a layer so that notifications are
rendered in it; docs/architecture.md, "Languages of pages and notifications").
crier_config.0002 deletes the old table after this; going back moves the rows back first."""

from django.db import migrations


def move(source, target):
    """Move every row from ``source`` to ``target``: the rows live in one table at a time, so
    migrating back and forth again never meets a row twice."""

    def run(apps, schema_editor):
        old = apps.get_model(*source)
        new = apps.get_model(*target)
        new.objects.bulk_create(
            [new(user_id=row.user_id, language=row.language) for row in old.objects.all()],
            batch_size=1000,
        )
        old.objects.all().delete()

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("crier_config", "0001_initial"),
        ("notifications", "0002_languages"),
    ]

    operations = [
        migrations.RunPython(
            move(("crier_config", "UserPreference"), ("notifications", "UserPreference")),
            move(("notifications", "UserPreference"), ("crier_config", "UserPreference")),
        ),
    ]
