"""The provider accounts REST API: write-only credentials checked per kind, managers only."""

from __future__ import annotations

import logging

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from rest_framework.test import APIClient

from providers.models import ProviderAccount
from tests.providers.conftest import start_emulator  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

URL = "/api/v1/provider-accounts/"
ACCESS_KEY = "api-access-key-visible-nowhere"
SECRET_KEY = "api-secret-key-visible-nowhere-0123456789abcdef"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def operator(make_user):
    return make_user("olga", "Operators")


def binance_payload(**overrides) -> dict:
    payload = {
        "name": "Binance main",
        "kind": "binance",
        "base_url": "http://127.0.0.1:9",
        "sandbox": True,
        "app_id": "app-1",
        "settings": {"test_uid": "42"},
        "rate_limit": 5,
        "enabled": True,
        "credentials": {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY},
    }
    payload.update(overrides)
    return payload


def rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def create(user, payload: dict):
    return client_for(user).post(URL, payload, format="json")


def test_operator_creates_an_account_and_sees_which_credentials_are_set_but_never_their_values(operator):
    response = create(operator, binance_payload())

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "binance" and body["settings"] == {"test_uid": "42"} and body["rate_limit"] == 5
    assert body["credentials_set"] == {"access_key": True, "secret_key": True}
    assert "credentials" not in body
    assert ACCESS_KEY not in response.content.decode() and SECRET_KEY not in response.content.decode()
    account = ProviderAccount.objects.get(pk=body["id"])
    assert account.get_credentials() == {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}
    listed = client_for(operator).get(URL).content.decode()
    detail = client_for(operator).get(f"{URL}{account.pk}/").content.decode()
    for page in (listed, detail):
        assert ACCESS_KEY not in page and SECRET_KEY not in page and account.credentials_encrypted not in page


def test_a_required_credential_missing_on_create_is_refused_naming_it(operator):
    response = create(operator, binance_payload(credentials={"access_key": ACCESS_KEY}))

    assert response.status_code == 400
    assert response.json() == {"credentials": ["secret_key is required for Binance mini program accounts."]}
    assert not ProviderAccount.objects.exists()


def test_an_unknown_credential_name_is_refused_naming_the_field_and_the_names_the_kind_takes(operator):
    credentials = {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "pasword": "x"}
    response = create(operator, binance_payload(credentials=credentials))

    assert response.status_code == 400
    [message] = response.json()["credentials"]
    assert message.startswith("pasword is not a credential name")
    assert "access_key, secret_key" in message


def test_a_credential_of_another_kind_is_refused(operator):
    credentials = {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "master_secret": "x"}
    response = create(operator, binance_payload(credentials=credentials))

    assert response.status_code == 400
    assert "master_secret belongs to another kind of account" in response.json()["credentials"][0]


def test_an_alipayplus_private_key_that_is_not_a_key_is_refused_without_echoing_it(operator):
    payload = binance_payload(
        kind="alipayplus", credentials={"client_id": "cid", "private_key": "not-a-key-value-xyz"}
    )
    response = create(operator, payload)

    assert response.status_code == 400
    [message] = response.json()["credentials"]
    assert message.startswith("private_key is not an unencrypted RSA private key")
    assert "not-a-key-value-xyz" not in response.content.decode()


def test_an_alipayplus_account_takes_a_pem_key_and_leaves_the_platform_key_optional(operator):
    payload = binance_payload(kind="alipayplus", credentials={"client_id": "cid", "private_key": rsa_pem()})
    response = create(operator, payload)

    assert response.status_code == 201, response.json()
    assert response.json()["credentials_set"] == {
        "client_id": True,
        "private_key": True,
        "platform_public_key": False,
    }


def test_field_errors_name_the_field(operator):
    response = create(operator, binance_payload(base_url="not a url", rate_limit=0, kind="carrier-pigeon"))

    assert response.status_code == 400
    assert set(response.json()) == {"base_url", "rate_limit", "kind"}


def test_a_duplicate_name_is_a_field_error(operator):
    assert create(operator, binance_payload()).status_code == 201
    response = create(operator, binance_payload())

    assert response.status_code == 400 and "name" in response.json()


def test_settings_with_a_nul_character_are_refused(operator):
    response = create(operator, binance_payload(settings={"region": "cn\x00"}))

    # Refused by the API's JSON parser (config/parsers.py) before the serializer, naming the path.
    assert response.status_code == 400
    assert response.json() == {
        "detail": "JSON refused - settings.region: the NUL character (\\u0000) is not allowed in text"
    }
    assert not ProviderAccount.objects.exists()


def test_an_update_keeps_the_credentials_it_does_not_give(operator):
    account_id = create(operator, binance_payload()).json()["id"]
    response = client_for(operator).patch(
        f"{URL}{account_id}/", {"credentials": {"secret_key": "new-secret"}, "rate_limit": 2}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["rate_limit"] == 2
    account = ProviderAccount.objects.get(pk=account_id)
    assert account.get_credentials() == {"access_key": ACCESS_KEY, "secret_key": "new-secret"}


def test_an_update_with_an_empty_credential_keeps_the_stored_one(operator):
    account_id = create(operator, binance_payload()).json()["id"]
    payload = binance_payload(credentials={"access_key": "", "secret_key": ""}, enabled=False)
    response = client_for(operator).put(f"{URL}{account_id}/", payload, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["enabled"] is False
    assert ProviderAccount.objects.get(pk=account_id).get_credentials()["secret_key"] == SECRET_KEY


def test_an_account_keeps_its_kind(operator):
    account_id = create(operator, binance_payload()).json()["id"]
    response = client_for(operator).patch(f"{URL}{account_id}/", {"kind": "jiguang"}, format="json")

    assert response.status_code == 400
    assert response.json()["kind"][0].startswith("kind 'jiguang' differs from 'binance'")


def test_marketing_staff_read_accounts_but_cannot_create_or_change_them(operator, marketer):
    account_id = create(operator, binance_payload()).json()["id"]
    client = client_for(marketer)

    assert client.get(URL).status_code == 200
    assert client.get(f"{URL}{account_id}/").json()["credentials_set"] == {
        "access_key": True,
        "secret_key": True,
    }
    assert client.post(URL, binance_payload(name="other"), format="json").status_code == 403
    assert client.patch(f"{URL}{account_id}/", {"enabled": False}, format="json").status_code == 403
    assert client.post(f"{URL}{account_id}/check/").status_code == 403
    assert client.delete(f"{URL}{account_id}/").status_code in (403, 405)


def test_a_user_who_is_not_staff_cannot_read_accounts(django_user_model):
    user = django_user_model.objects.create_user(username="eve", password="x")
    assert client_for(user).get(URL).status_code == 403
    assert APIClient().get(URL).status_code in (401, 403)


def test_a_superuser_may_manage_accounts(make_user):
    root = make_user("root", superuser=True)
    assert create(root, binance_payload()).status_code == 201


def test_accounts_are_filtered_by_kind_and_enabled(operator):
    create(operator, binance_payload())
    jiguang = {"channel_key": "ck", "master_secret": "ms"}
    create(operator, binance_payload(name="Jiguang", kind="jiguang", enabled=False, credentials=jiguang))
    client = client_for(operator)

    assert [a["name"] for a in client.get(URL, {"kind": "jiguang"}).json()["results"]] == ["Jiguang"]
    assert [a["name"] for a in client.get(URL, {"enabled": "true"}).json()["results"]] == ["Binance main"]
    assert client.get(URL).json()["count"] == 2


def test_a_wrong_filter_is_refused_naming_the_parameter(operator):
    client = client_for(operator)

    assert client.get(URL, {"kind": "fax"}).json() == {
        "kind": ["kind 'fax' is not one of: binance, alipayplus, mpaas, jiguang"]
    }
    assert client.get(URL, {"enabled": "maybe"}).status_code == 400


def test_check_reports_a_working_account_against_its_emulator(operator, start_emulator, caplog):  # noqa: F811
    emulator = start_emulator("binance", {ACCESS_KEY: SECRET_KEY})
    account_id = create(operator, binance_payload(base_url=emulator.url)).json()["id"]

    with caplog.at_level(logging.DEBUG):
        response = client_for(operator).post(f"{URL}{account_id}/check/")

    assert response.status_code == 200
    assert response.json()["ok"] is True and "authenticated" in response.json()["detail"]
    assert len(emulator.app.accepted) == 1
    assert SECRET_KEY not in caplog.text and SECRET_KEY not in response.content.decode()


def test_check_reports_refused_credentials(operator, start_emulator):  # noqa: F811
    emulator = start_emulator("binance", {ACCESS_KEY: "the-real-secret-" + "y" * 40})
    account_id = create(operator, binance_payload(base_url=emulator.url)).json()["id"]

    body = client_for(operator).post(f"{URL}{account_id}/check/").json()

    assert body["ok"] is False and body["detail"].startswith("authentication refused")


def test_an_account_cannot_be_deleted_over_the_api(operator):
    account_id = create(operator, binance_payload()).json()["id"]
    assert client_for(operator).delete(f"{URL}{account_id}/").status_code == 405
