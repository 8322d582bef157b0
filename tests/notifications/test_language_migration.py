"""The language preference moved from config to notifications without losing a row
(notifications.0003 moves the rows, crier_config.0002 drops the old table; going back moves them back)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("crier_config", "0001_initial"), ("notifications", "0002_languages")]
AFTER = [("crier_config", "0002_delete_userpreference"), ("notifications", "0003_copy_language_preferences")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_saved_languages_survive_the_move_both_ways(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")
    try:
        old = migrate(BEFORE).get_model("crier_config", "UserPreference")
        old.objects.create(user_id=alice.pk, language="zh-hans")
        old.objects.create(user_id=bob.pk, language="")

        moved = migrate(AFTER).get_model("notifications", "UserPreference")
        assert set(moved.objects.values_list("user_id", "language")) == {(alice.pk, "zh-hans"), (bob.pk, "")}

        apps = migrate(BEFORE)
        back = apps.get_model("crier_config", "UserPreference")
        assert set(back.objects.values_list("user_id", "language")) == {(alice.pk, "zh-hans"), (bob.pk, "")}
        assert not apps.get_model("notifications", "UserPreference").objects.exists()

        again = migrate(AFTER).get_model("notifications", "UserPreference")
        assert again.objects.count() == 2
    finally:
        migrate(AFTER)
