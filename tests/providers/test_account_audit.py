"""Every provider account change is an audit event, naming fields and credentials, never a value.

Issue 15, point 2: "account changes are not audited". Created, fields changed, enabled or
disabled, credentials replaced, deleted, re-encrypted under a new key: each is an event with
its actor, through the API, the admin and the commands (providers/history.py).
"""

from __future__ import annotations

import io
import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AuditEvent
from providers.models import ProviderAccount

pytestmark = pytest.mark.django_db

URL = "/api/v1/provider-accounts/"
ACCESS_KEY = "audit-access-key-visible-nowhere"
SECRET_KEY = "audit-secret-key-visible-nowhere-0123456789abcdef"
NEW_SECRET = "audit-new-secret-visible-nowhere-0123456789abcdef"


def events(account_id: int) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(object_type="provider_account", object_id=str(account_id)).order_by("id")
    )


def no_secret_in_the_trail() -> None:
    dumped = json.dumps([[e.action, e.reason, e.data] for e in AuditEvent.objects.all()])
    for secret in (ACCESS_KEY, SECRET_KEY, NEW_SECRET):
        assert secret not in dumped


@pytest.fixture
def operator(make_user):
    return make_user("olga", "Operators")


def test_api_changes_are_events_with_the_actor_and_names_only(operator):
    client = APIClient()
    client.force_authenticate(operator)
    payload = {
        "name": "Binance main",
        "kind": "binance",
        "base_url": "http://127.0.0.1:9",
        "sandbox": True,
        "app_id": "app-1",
        "credentials": {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY},
    }
    account_id = client.post(URL, payload, format="json").json()["id"]
    changed = {
        "name": "Binance renamed",
        "enabled": False,
        "rate_limit": 3,
        "credentials": {"secret_key": NEW_SECRET},
    }
    assert client.patch(f"{URL}{account_id}/", changed, format="json").status_code == 200
    assert client.patch(f"{URL}{account_id}/", {"enabled": True}, format="json").status_code == 200

    trail = events(account_id)
    assert [(e.action, e.from_state, e.to_state) for e in trail] == [
        ("created", "", "enabled"),
        ("disabled", "enabled", "disabled"),
        ("updated", "", ""),
        ("credentials_rotated", "", ""),
        ("enabled", "disabled", "enabled"),
    ]
    assert {e.actor_id for e in trail} == {operator.pk}
    assert trail[0].data == {
        "name": "Binance main",
        "kind": "binance",
        "sandbox": True,
        "credentials": ["access_key", "secret_key"],
    }
    assert trail[2].data == {"fields": ["name", "rate_limit"]}
    assert trail[3].data == {"credentials": ["secret_key"]}
    no_secret_in_the_trail()


def test_a_refused_change_leaves_no_event(operator):
    client = APIClient()
    client.force_authenticate(operator)
    account = ProviderAccount.objects.create(
        name="B", kind="binance", base_url="http://127.0.0.1:9", sandbox=True
    )
    assert client.patch(f"{URL}{account.pk}/", {"rate_limit": 0}, format="json").status_code == 400
    assert events(account.pk) == []


def test_admin_saves_and_deletes_are_events(admin_client, django_user_model):
    admin = django_user_model.objects.get(username="admin")
    add = {
        "name": "Jiguang main",
        "kind": "jiguang",
        "base_url": "https://api.ums.jiguang.cn",
        "settings": "{}",
        "rate_limit": "10",
        "max_concurrency": "10",
        "max_attempts": "5",
        "timeout_seconds": "10",
        "enabled": "on",
        "channel_key": ACCESS_KEY,
        "master_secret": SECRET_KEY,
    }
    assert admin_client.post(reverse("admin:providers_provideraccount_add"), add).status_code == 302
    account = ProviderAccount.objects.get(name="Jiguang main")
    change = reverse("admin:providers_provideraccount_change", args=[account.pk])
    edited = {k: v for k, v in add.items() if k not in {"kind", "channel_key", "master_secret", "enabled"}}
    response = admin_client.post(change, {**edited, "app_id": "app-9", "master_secret": NEW_SECRET})
    assert response.status_code == 302
    delete = reverse("admin:providers_provideraccount_delete", args=[account.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not ProviderAccount.objects.filter(pk=account.pk).exists()

    trail = events(account.pk)
    assert [e.action for e in trail] == ["created", "disabled", "updated", "credentials_rotated", "deleted"]
    assert {e.actor_id for e in trail} == {admin.pk}
    assert trail[2].data == {"fields": ["app_id"]}
    assert trail[3].data == {"credentials": ["master_secret"]}
    assert trail[4].data == {"name": "Jiguang main", "kind": "jiguang"}
    no_secret_in_the_trail()


def test_re_encrypting_credentials_under_a_new_key_is_an_event():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[old]):
        account = ProviderAccount(name="B", kind="binance", base_url="http://127.0.0.1:9", sandbox=True)
        account.set_credentials({"access_key": ACCESS_KEY, "secret_key": SECRET_KEY})
        account.save()
    with override_settings(FIELD_ENCRYPTION_KEYS=[new, old]):
        call_command("rotate_credentials", stdout=io.StringIO())
        call_command("rotate_credentials", stdout=io.StringIO())  # nothing left: no second event
    [event] = events(account.pk)
    assert event.action == "credentials_reencrypted" and event.actor_id is None
    assert event.data == {"credentials": ["access_key", "secret_key"]}
    call_command("verify_audit", stdout=io.StringIO())
