"""The language preference moved to notifications.UserPreference; its rows were copied by
notifications.0003 before this drops the old table."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("crier_config", "0001_initial"),
        ("notifications", "0003_copy_language_preferences"),
    ]

    operations = [
        migrations.DeleteModel(name="UserPreference"),
    ]
