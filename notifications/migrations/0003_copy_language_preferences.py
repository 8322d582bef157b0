"""Keep every saved language preference: copy crier_config.UserPreference's rows to
notifications.UserPreference (the model moved down a layer so that notifications are
rendered in it; docs/architecture.md, "Languages of pages and notifications").
crier_config.0002 deletes the old table after this; going back copies the rows back first."""

from django.db import migrations


def copy(source, target):
    def run(apps, schema_editor):
        old = apps.get_model(*source)
        new = apps.get_model(*target)
        new.objects.bulk_create(
            [new(user_id=row.user_id, language=row.language) for row in old.objects.all()],
            batch_size=1000,
        )

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("crier_config", "0001_initial"),
        ("notifications", "0002_languages"),
    ]

    operations = [
        migrations.RunPython(
            copy(("crier_config", "UserPreference"), ("notifications", "UserPreference")),
            copy(("notifications", "UserPreference"), ("crier_config", "UserPreference")),
        ),
    ]
