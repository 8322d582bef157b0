"""Issue 15, point 2: a provider account's credentials never follow a changed URL.

A production account sends only over https to its provider's declared hosts (or those the
deployment adds in CRIER_PROVIDER_HOSTS); a sandbox account only where
CRIER_ALLOW_SANDBOX_ACCOUNTS is on; changing the base URL takes the credentials again; and a
row edited in the database directly never gets a request sent (docs/providers.md §7).
Real HTTP throughout: emulators and a local server that is no provider.
"""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AuditEvent
from providers.base import Batch, Message, Outcome
from providers.endpoints import refusal
from providers.models import ProviderAccount
from providers.services import account_check, account_update
from tests.providers.conftest import foreign_server, start_emulator  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

URL = "/api/v1/provider-accounts/"
OFFICIAL = "https://dip-cb.binanceapi.com"
ACCESS_KEY = "pin-access-key-visible-nowhere"
SECRET_KEY = "pin-secret-key-visible-nowhere-0123456789abcdef"
CREDENTIALS = {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}


@pytest.fixture
def operator(make_user):
    return make_user("olga", "Operators")


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def production_account(**fields) -> ProviderAccount:
    account = ProviderAccount(
        name=fields.pop("name", "Binance prod"),
        kind="binance",
        base_url=fields.pop("base_url", OFFICIAL),
        app_id="app-1",
        **fields,
    )
    account.set_credentials(CREDENTIALS)
    account.save()
    return account


# -- the one rule ------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, url, field",
    [
        ("binance", "https://dip-cb.binanceapi.com", None),
        ("binance", "https://DIP-CB.binanceapi.com:443/", None),
        ("mpaas", "https://mpaas.cn-hangzhou.aliyuncs.com", None),
        ("jiguang", "https://api.ums.jiguang.cn", None),
        ("binance", "http://dip-cb.binanceapi.com", "base_url"),  # not https
        ("binance", "https://dip-cb.binanceapi.com.evil.example", "base_url"),  # look-alike
        ("binance", "https://dip-cb.binanceapi.com:8443", "base_url"),  # another port
        ("binance", "https://user:pw@dip-cb.binanceapi.com", "base_url"),  # user info
        ("binance", "https://api.ums.jiguang.cn", "base_url"),  # another provider's host
        ("jiguang", "https://collector.example", "base_url"),
        ("alipayplus", "https://open.wallet.example", "base_url"),  # declares none
    ],
)
def test_a_production_account_may_use_only_its_providers_declared_https_hosts(kind, url, field):
    refused = refusal(kind=kind, base_url=url, sandbox=False)
    assert (refused.field if refused else None) == field
    if refused:
        assert "base_url" in refused.message


@override_settings(CRIER_PROVIDER_HOSTS=["alipayplus=https://open.wallet.example", "nonsense"])
def test_the_deployment_adds_hosts_in_crier_provider_hosts():
    assert refusal(kind="alipayplus", base_url="https://open.wallet.example/api/open", sandbox=False) is None
    assert refusal(kind="alipayplus", base_url="https://other.wallet.example", sandbox=False) is not None
    # An added host is for its kind only.
    assert refusal(kind="binance", base_url="https://open.wallet.example", sandbox=False) is not None


def test_a_sandbox_account_may_use_any_http_host_only_where_sandbox_accounts_are_allowed():
    assert refusal(kind="binance", base_url="http://127.0.0.1:8101", sandbox=True) is None
    with override_settings(CRIER_ALLOW_SANDBOX_ACCOUNTS=False):
        refused = refusal(kind="binance", base_url="http://127.0.0.1:8101", sandbox=True)
        assert refused.field == "sandbox" and "CRIER_ALLOW_SANDBOX_ACCOUNTS" in refused.message
        # Even on the official host: a sandbox account is refused as such.
        assert refusal(kind="binance", base_url=OFFICIAL, sandbox=True) is not None


def _setting_in_a_fresh_process(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "CRIER_", "DEBUG"))}
    clean.update(CRIER_ENV_FILE="", SECRET_KEY="x" * 50, DJANGO_SETTINGS_MODULE="config.settings", **env)
    code = "from django.conf import settings; print(settings.CRIER_ALLOW_SANDBOX_ACCOUNTS)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=clean,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_sandbox_accounts_are_allowed_by_default_only_with_debug():
    assert _setting_in_a_fresh_process(DEBUG="0") == "False"
    assert _setting_in_a_fresh_process(DEBUG="1") == "True"
    assert _setting_in_a_fresh_process(DEBUG="0", CRIER_ALLOW_SANDBOX_ACCOUNTS="1") == "True"
    assert _setting_in_a_fresh_process(DEBUG="1", CRIER_ALLOW_SANDBOX_ACCOUNTS="0") == "False"


# -- the API and the admin ------------------------------------------------------------


def test_the_api_refuses_a_production_account_on_a_foreign_host_naming_base_url(operator):
    payload = {
        "name": "B",
        "kind": "binance",
        "base_url": "https://collector.example",
        "credentials": CREDENTIALS,
    }
    response = api(operator).post(URL, payload, format="json")
    assert response.status_code == 400
    [message] = response.json()["base_url"]
    assert "collector.example" in message and OFFICIAL in message
    assert not ProviderAccount.objects.exists()


@override_settings(CRIER_ALLOW_SANDBOX_ACCOUNTS=False)
def test_without_the_setting_the_api_refuses_a_sandbox_account_naming_sandbox(operator):
    payload = {
        "name": "B",
        "kind": "binance",
        "base_url": "http://127.0.0.1:8101",
        "sandbox": True,
        "credentials": CREDENTIALS,
    }
    response = api(operator).post(URL, payload, format="json")
    assert response.status_code == 400
    assert "CRIER_ALLOW_SANDBOX_ACCOUNTS" in response.json()["sandbox"][0]
    assert not ProviderAccount.objects.exists()


def test_moving_an_account_without_its_credentials_is_refused_and_nothing_changes(operator):
    account = production_account(sandbox=True)
    before = (account.base_url, account.credentials_encrypted)

    response = api(operator).patch(f"{URL}{account.pk}/", {"base_url": "http://127.0.0.1:9"}, format="json")

    assert response.status_code == 400
    [rule] = response.json()["credentials"]
    assert "base_url" in rule and "access_key, secret_key" in rule
    account.refresh_from_db()
    assert (account.base_url, account.credentials_encrypted) == before
    assert not AuditEvent.objects.filter(object_type="provider_account").exists()


def test_giving_only_some_credentials_when_moving_is_refused_too(operator):
    account = production_account(sandbox=True)
    payload = {"base_url": "http://127.0.0.1:9", "credentials": {"access_key": ACCESS_KEY}}
    response = api(operator).patch(f"{URL}{account.pk}/", payload, format="json")
    assert response.status_code == 400 and "secret_key" in response.json()["credentials"][0]


def test_moving_with_the_credentials_is_allowed_only_to_a_declared_host_and_is_audited(operator):
    account = production_account(base_url=OFFICIAL + "/gateway")
    client = api(operator)

    foreign = client.patch(
        f"{URL}{account.pk}/",
        {"base_url": "https://collector.example", "credentials": CREDENTIALS},
        format="json",
    )
    assert foreign.status_code == 400 and set(foreign.json()) == {"base_url"}

    moved = client.patch(
        f"{URL}{account.pk}/", {"base_url": OFFICIAL, "credentials": CREDENTIALS}, format="json"
    )
    assert moved.status_code == 200, moved.json()
    assert ProviderAccount.objects.get(pk=account.pk).base_url == OFFICIAL
    events = list(AuditEvent.objects.filter(object_type="provider_account", object_id=str(account.pk)))
    assert [(e.action, e.actor_id) for e in events] == [
        ("updated", operator.pk),
        ("credentials_rotated", operator.pk),
    ]
    assert events[0].data == {"fields": ["base_url"]}
    assert events[1].data == {"credentials": ["access_key", "secret_key"]}


def test_other_changes_keep_the_stored_credentials(operator):
    account = production_account()
    response = api(operator).patch(
        f"{URL}{account.pk}/", {"rate_limit": 3, "base_url": OFFICIAL + "/"}, format="json"
    )
    assert response.status_code == 200
    assert ProviderAccount.objects.get(pk=account.pk).get_credentials() == CREDENTIALS


def test_the_admin_form_refuses_a_move_without_credentials_naming_the_fields(admin_client):
    account = production_account(sandbox=True)
    data = {
        "name": account.name,
        "base_url": "http://127.0.0.1:9",
        "sandbox": "on",
        "app_id": account.app_id,
        "settings": "{}",
        "rate_limit": "10",
        "max_concurrency": "10",
        "max_attempts": "5",
        "timeout_seconds": "10",
        "enabled": "on",
    }
    change = reverse("admin:providers_provideraccount_change", args=[account.pk])

    response = admin_client.post(change, data)

    assert response.status_code == 200  # the form again, with errors
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"access_key", "secret_key"}
    assert "changing base_url takes the credentials again" in errors["secret_key"][0]
    assert ProviderAccount.objects.get(pk=account.pk).base_url == OFFICIAL

    moved = admin_client.post(change, {**data, "access_key": "ak-2", "secret_key": "sk-2-" + "x" * 40})
    assert moved.status_code == 302
    assert ProviderAccount.objects.get(pk=account.pk).base_url == "http://127.0.0.1:9"


def test_the_admin_form_refuses_a_foreign_host_for_a_production_account(admin_client):
    data = {
        "name": "B",
        "kind": "binance",
        "base_url": "https://collector.example",
        "settings": "{}",
        "rate_limit": "10",
        "max_concurrency": "10",
        "max_attempts": "5",
        "timeout_seconds": "10",
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
    }
    response = admin_client.post(reverse("admin:providers_provideraccount_add"), data)
    assert response.status_code == 200
    assert "base_url" in response.context["adminform"].form.errors
    assert not ProviderAccount.objects.exists()


# -- defence in depth: a row edited in the database -------------------------------------


def test_an_account_edited_to_a_foreign_host_gets_no_credentials_and_sends_nothing(foreign_server):  # noqa: F811
    server = foreign_server(
        status=200, body=b'{"code": "000000", "success": true}', content_type="application/json"
    )
    account = production_account()
    ProviderAccount.objects.filter(pk=account.pk).update(base_url=server.url)
    account.refresh_from_db()

    provider = account.provider(with_credentials=True)
    assert provider.account.credentials == {}
    message = Message(template_ref="1344001", language="en", parameters={})
    with httpx.Client(timeout=5) as client:
        result = provider.send(client, message, Batch(key="k-1", preview=True, test_uids=("42",)))
        recalled = provider.recall(client, "m-1")
    assert (result.outcome, result.code) == (Outcome.FAILED, "ENDPOINT_REFUSED")
    assert "base_url" in result.message and recalled.code == "ENDPOINT_REFUSED"

    ok, why = account_check(account=account)
    assert not ok and why.startswith("nothing sent: base_url")
    assert server.received == []


@override_settings(CRIER_ALLOW_SANDBOX_ACCOUNTS=False)
def test_with_debug_off_and_no_setting_a_sandbox_account_sends_nothing(start_emulator):  # noqa: F811
    emulator = start_emulator("binance", {ACCESS_KEY: SECRET_KEY})
    account = ProviderAccount(name="emu", kind="binance", base_url=emulator.url, sandbox=True, app_id="a")
    account.set_credentials(CREDENTIALS)
    account.save()

    ok, why = account_check(account=account)
    assert not ok and "CRIER_ALLOW_SANDBOX_ACCOUNTS" in why
    assert account.provider(with_credentials=True).account.credentials == {}
    with pytest.raises(Exception) as refused:
        account_update(account=account, changes={"rate_limit": 2})
    assert "sandbox" in refused.value.message_dict
    assert emulator.app.requests_seen == 0

    with override_settings(CRIER_ALLOW_SANDBOX_ACCOUNTS=True):
        assert account_check(account=account)[0] is True
    assert emulator.app.requests_seen == 1


# -- system checks -------------------------------------------------------------------


def test_a_malformed_crier_provider_hosts_entry_is_a_system_check_error():
    from providers.checks import check_provider_hosts

    assert check_provider_hosts(None) == []
    entries = ["alipayplus=http://open.wallet.example", "open.wallet.example", "fax=https://fax.example"]
    with override_settings(CRIER_PROVIDER_HOSTS=entries):
        errors = check_provider_hosts(None)
    assert [e.id for e in errors] == ["providers.E003"] * 3
    assert "'fax'" in errors[2].msg


def test_sandbox_accounts_allowed_with_debug_off_is_a_deploy_warning():
    from providers.checks import check_sandbox_accounts

    with override_settings(DEBUG=False, CRIER_ALLOW_SANDBOX_ACCOUNTS=True):
        assert [w.id for w in check_sandbox_accounts(None)] == ["providers.W001"]
    with override_settings(DEBUG=False, CRIER_ALLOW_SANDBOX_ACCOUNTS=False):
        assert check_sandbox_accounts(None) == []
