"""CRIER_AUDIT_KEY: parsed strictly, never shown, derived only where no key is set, and
required by `check --deploy`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from audit.checks import check_audit_key_format, check_audit_key_set
from audit.keys import audit_keys, key_by_id, parse_keys, signing_key
from tests.audit.conftest import KEY_A, KEY_B


def test_keys_are_id_and_secret_newest_first_and_the_secret_is_never_in_their_repr(settings):
    settings.CRIER_AUDIT_KEY = [KEY_B, KEY_A]

    assert [key.key_id for key in audit_keys()] == ["b", "a"]
    assert signing_key().key_id == "b"
    assert key_by_id("a").secret == b"A" * 40
    assert "AAAA" not in repr(key_by_id("a"))


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (["no-colon-here-" + "x" * 40], "entry 1 must be '<key id>:<secret>'"),
        ([KEY_A, ":" + "x" * 40], "entry 2 must be '<key id>:<secret>'"),
        (["bad id:" + "x" * 40], "entry 1 must be '<key id>:<secret>'"),
        (["k1:short"], r"entry 1 \(key id 'k1'\): the secret must have at least 32 characters"),
        ([KEY_A, "a:" + "z" * 40], "entry 2: key id 'a' appears twice"),
    ],
)
def test_a_malformed_key_is_refused_naming_its_position_not_its_secret(entries, message):
    with pytest.raises(ImproperlyConfigured, match=message) as raised:
        parse_keys(entries)
    assert "x" * 40 not in str(raised.value) and "z" * 40 not in str(raised.value)


def test_without_keys_one_is_derived_from_secret_key_and_its_id_changes_with_it(settings):
    settings.CRIER_AUDIT_KEY = []
    derived = signing_key()
    settings.SECRET_KEY = "another-secret-key-for-this-test-" + "s" * 20

    assert derived.key_id.startswith("dev-")
    assert signing_key().key_id.startswith("dev-") and signing_key().key_id != derived.key_id


def test_the_checks_refuse_a_missing_key_in_deploy_and_a_malformed_one_always(settings):
    settings.CRIER_AUDIT_KEY = []
    assert [error.id for error in check_audit_key_set(None)] == ["audit.E001"]
    assert check_audit_key_format(None) == []

    settings.CRIER_AUDIT_KEY = ["k1:short"]
    assert check_audit_key_set(None) == []
    assert [error.id for error in check_audit_key_format(None)] == ["audit.E002"]

    settings.CRIER_AUDIT_KEY = [KEY_B, KEY_A]
    assert check_audit_key_set(None) == check_audit_key_format(None) == []


def test_production_without_an_audit_key_fails_the_deploy_check(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"CRIER_AUDIT_KEY"}}
    env.update(CRIER_ENV_FILE="", DEBUG="0", SECRET_KEY="s" * 60, ALLOWED_HOSTS="x.example",
               DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=django_settings.BASE_DIR, env=env,
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0
    assert "audit.E001" in proc.stdout + proc.stderr
