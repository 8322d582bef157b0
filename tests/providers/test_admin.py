"""The provider account admin: credentials are write-only and only managers change accounts."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth.models import Permission
from django.urls import reverse

from providers.models import ProviderAccount

pytestmark = pytest.mark.django_db

ACCESS_KEY = "binance-access-key-visible-nowhere"
SECRET_KEY = "binance-secret-key-visible-nowhere-0123456789"
LOCAL = "http://127.0.0.1:9"  # nothing listens: a sandbox account (docs/providers.md §7)


def rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def binance_account() -> ProviderAccount:
    account = ProviderAccount(name="Binance main", kind="binance", base_url=LOCAL, sandbox=True)
    account.set_credentials({"access_key": ACCESS_KEY, "secret_key": SECRET_KEY})
    account.save()
    return account


def change_url(account: ProviderAccount) -> str:
    return reverse("admin:providers_provideraccount_change", args=[account.pk])


def form_data(account: ProviderAccount, **credentials: str) -> dict[str, str]:
    return {
        "name": account.name,
        "base_url": account.base_url,
        "app_id": account.app_id,
        "settings": "{}",
        "rate_limit": "10",
        "max_concurrency": "10",
        "max_attempts": "5",
        "timeout_seconds": "10",
        "enabled": "on",
        **({"sandbox": "on"} if account.sandbox else {}),
        **credentials,
    }


def test_change_page_shows_which_credentials_are_set_but_never_their_values(admin_client, binance_account):
    page = admin_client.get(change_url(binance_account)).content.decode()
    assert ACCESS_KEY not in page and SECRET_KEY not in page
    assert binance_account.credentials_encrypted not in page
    assert "credentials_encrypted" not in page
    assert "access_key: set, secret_key: set" in page
    assert page.count("Set. Leave empty to keep the stored value.") == 2
    assert 'type="password"' in page


def test_leaving_a_credential_empty_keeps_the_stored_value(admin_client, binance_account):
    response = admin_client.post(change_url(binance_account), form_data(binance_account, access_key="new-ak"))
    assert response.status_code == 302
    binance_account.refresh_from_db()
    assert binance_account.get_credentials() == {"access_key": "new-ak", "secret_key": SECRET_KEY}


def test_a_form_error_does_not_echo_the_submitted_secrets(admin_client):
    pem = rsa_pem()
    account = ProviderAccount(name="Alipay main", kind="alipayplus", base_url=LOCAL, sandbox=True)
    data = form_data(account, kind="alipayplus", private_key=pem, secret_key="typed-in-the-wrong-place-123")
    response = admin_client.post(reverse("admin:providers_provideraccount_add"), data)
    page = response.content.decode()
    assert response.status_code == 200  # redisplayed with errors
    assert "client_id is required for Alipay+ mini program accounts." in page
    assert "secret_key belongs to another kind of account" in page
    assert pem.splitlines()[1] not in page
    assert "typed-in-the-wrong-place-123" not in page
    assert not ProviderAccount.objects.filter(name="Alipay main").exists()


def test_an_unusable_pem_key_is_refused_without_echoing_it(admin_client):
    account = ProviderAccount(name="Alipay main", kind="alipayplus", base_url=LOCAL, sandbox=True)
    garbage = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ1dC1icm9rZW4=\n-----END PRIVATE KEY-----"
    data = form_data(account, kind="alipayplus", client_id="cid", private_key=garbage)
    page = admin_client.post(reverse("admin:providers_provideraccount_add"), data).content.decode()
    assert "private_key is not an unencrypted RSA private key" in page
    assert "c2VjcmV0LWJ1dC1icm9rZW4" not in page


def test_adding_an_account_stores_only_its_kind_credentials_encrypted(admin_client):
    pem = rsa_pem()
    account = ProviderAccount(name="Alipay main", kind="alipayplus", base_url=LOCAL, sandbox=True)
    data = form_data(account, kind="alipayplus", client_id="2022000000000001", private_key=pem)
    assert admin_client.post(reverse("admin:providers_provideraccount_add"), data).status_code == 302
    saved = ProviderAccount.objects.get(name="Alipay main")
    assert saved.get_credentials() == {"client_id": "2022000000000001", "private_key": pem.strip()}
    assert pem.splitlines()[1] not in saved.credentials_encrypted


def test_the_kind_of_an_account_cannot_be_changed(admin_client, binance_account):
    data = form_data(binance_account, kind="jiguang", master_secret="x")
    admin_client.post(change_url(binance_account), data)
    binance_account.refresh_from_db()
    assert binance_account.kind == "binance"
    assert "master_secret" not in binance_account.get_credentials()


def test_an_operator_with_the_manage_permission_can_change_accounts(client, make_user, binance_account):
    client.force_login(make_user("olga", "Operators"))
    data = form_data(binance_account, secret_key="rotated-secret")
    response = client.post(change_url(binance_account), data)
    assert response.status_code == 302
    binance_account.refresh_from_db()
    assert binance_account.get_credentials()["secret_key"] == "rotated-secret"


def test_change_permission_without_the_manage_permission_is_not_enough(client, make_user, binance_account):
    user = make_user("carl")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_provideraccount", "change_provideraccount"])
    )
    client.force_login(user)
    response = client.post(change_url(binance_account), form_data(binance_account, secret_key="stolen"))
    assert response.status_code == 403
    binance_account.refresh_from_db()
    assert binance_account.get_credentials()["secret_key"] == SECRET_KEY
    assert client.get(reverse("admin:providers_provideraccount_add")).status_code == 403


def test_a_marketer_sees_an_account_read_only_without_credential_fields(client, marketer, binance_account):
    client.force_login(marketer)
    page = client.get(change_url(binance_account)).content.decode()
    assert "access_key: set" in page
    assert 'type="password"' not in page
    assert SECRET_KEY not in page and ACCESS_KEY not in page
    assert client.post(change_url(binance_account), form_data(binance_account)).status_code == 403


def test_the_list_says_whether_credentials_are_complete(admin_client, binance_account):
    incomplete = ProviderAccount(name="Jiguang", kind="jiguang", base_url="http://127.0.0.1:9", sandbox=True)
    incomplete.set_credentials({"channel_key": "ck"})
    incomplete.save()
    page = admin_client.get(reverse("admin:providers_provideraccount_changelist")).content.decode()
    assert "complete (access_key: set, secret_key: set)" in page
    assert "incomplete (channel_key: set, master_secret: not set)" in page
    assert SECRET_KEY not in page
