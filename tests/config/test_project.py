"""The project as a whole: migrations, settings, system checks, roles."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.checks import run_checks
from django.core.management import call_command
from django.test import override_settings

from campaigns.checks import check_queue_settings
from config.environment import database_from_url


@pytest.mark.django_db
def test_every_model_change_has_a_migration():
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exc:  # makemigrations --check exits 1 when a migration is missing
        pytest.fail(f"missing migration:\n{out.getvalue()}", pytrace=False) if exc.code else None


def test_system_checks_pass_with_shipped_settings():
    assert [m for m in run_checks() if m.is_serious()] == []


@pytest.mark.parametrize(
    ("change", "check_id"),
    [
        ({"max_attempts": 0}, "campaigns.E001"),
        ({"catch_up": True}, "campaigns.E002"),
        ({"retry": 60, "timeout": 120}, "campaigns.E003"),
        ({"orm": "other"}, "campaigns.E004"),
    ],
)
def test_queue_settings_that_can_double_send_fail_the_system_check(change, check_id):
    conf = {k: v for k, v in settings.Q_CLUSTER.items() if k != "redis"}
    conf.setdefault("orm", "default")
    with override_settings(Q_CLUSTER={**conf, **change}):
        ids = [e.id for e in check_queue_settings(None)]
    assert ids == [check_id]


def test_catch_up_is_an_error_when_left_at_the_django_q_default():
    conf = {k: v for k, v in settings.Q_CLUSTER.items() if k != "catch_up"}
    with override_settings(Q_CLUSTER=conf):
        assert "campaigns.E002" in [e.id for e in check_queue_settings(None)]


def test_database_url_parses_sqlite_and_postgres():
    sqlite = database_from_url("sqlite:////tmp/x.db")
    assert sqlite["ENGINE"].endswith("sqlite3") and sqlite["NAME"] == "/tmp/x.db"
    assert sqlite["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    pg = database_from_url("postgres://u:p%40ss@db.example:5433/crier?sslmode=require")
    assert (pg["NAME"], pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"]) == (
        "crier", "u", "p@ss", "db.example", "5433")
    assert pg["OPTIONS"] == {"sslmode": "require"}


def test_unsupported_database_url_is_a_clear_error():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="mysql"):
        database_from_url("mysql://x/y")


def test_check_deploy_is_clean_with_production_variables(tmp_path):
    from cryptography.fernet import Fernet

    env = {
        k: v for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "CRIER_FIELD_KEYS", "CRIER_AUDIT_KEY",
                     "PYTEST_CURRENT_TEST"}
    }
    env.update(
        CRIER_ENV_FILE="",
        DEBUG="0",
        SECRET_KEY="x" * 20 + "-a-long-random-production-secret-key-" + "y" * 20,
        ALLOWED_HOSTS="crier.example.com",
        CRIER_FIELD_KEYS=Fernet.generate_key().decode(),
        CRIER_AUDIT_KEY="k1:" + "a-long-random-audit-secret-" + "z" * 20,
        DATABASE_URL=f"sqlite:///{tmp_path}/deploy.db",
    )
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues" in proc.stdout


def test_production_without_secret_key_refuses_to_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    env.update(CRIER_ENV_FILE="", DEBUG="0", DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    proc = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=settings.BASE_DIR, env=env,
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0
    assert "SECRET_KEY must be set" in proc.stderr


def test_production_without_field_key_fails_the_deploy_check(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"CRIER_FIELD_KEYS"}}
    env.update(CRIER_ENV_FILE="", DEBUG="0", SECRET_KEY="s" * 60, ALLOWED_HOSTS="x.example",
               DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=settings.BASE_DIR, env=env,
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0
    assert "providers.E001" in proc.stdout + proc.stderr


@pytest.mark.django_db
def test_reviewers_hold_approve_permission_and_marketing_does_not(marketer, reviewer):
    assert reviewer.has_perm("campaigns.approve_campaign")
    assert not marketer.has_perm("campaigns.approve_campaign")
    assert marketer.has_perm("campaigns.add_campaign")
    assert marketer.has_perm("campaigns.submit_campaign")
    assert not marketer.has_perm("providers.manage_provider_accounts")


@pytest.mark.django_db
def test_marketer_and_reviewer_can_log_in_and_see_the_models(client, marketer, reviewer):
    for user in (marketer, reviewer):
        client.force_login(user)
        page = client.get("/admin/")
        assert page.status_code == 200
        body = page.content.decode()
        for model in ("Campaigns", "Message templates", "Audiences"):
            assert model in body, (user.username, model)
        client.logout()
