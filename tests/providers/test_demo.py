"""The demo provider accounts: idempotent, complete, and working against run_emulators."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from providers import demo
from providers.emulators.server import EmulatorServer
from providers.management.commands import run_emulators
from providers.models import ProviderAccount
from providers.registry import provider_class

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def platform_key_file(monkeypatch, tmp_path):
    path = tmp_path / "alipayplus-platform-key.pem"
    monkeypatch.setenv("CRIER_ALIPAYPLUS_PLATFORM_KEY", str(path))
    return path


def test_seed_creates_one_account_per_kind_pointing_at_the_emulators():
    demo.seed(io.StringIO())
    accounts = {a.kind: a for a in ProviderAccount.objects.all()}
    assert sorted(a.name for a in accounts.values()) == [
        "Alipay+ demo",
        "Binance demo",
        "Jiguang demo",
        "mPaaS demo",
    ]
    for kind, account in accounts.items():
        assert account.base_url == f"http://127.0.0.1:{provider_class(kind).emulator_port}"
        assert all(account.credential_status().values()), kind
    assert accounts["mpaas"].settings == {
        "workspace_id": "default",
        "delivery_type": 1,
        "region_id": "cn-hangzhou",
    }
    assert "BEGIN PRIVATE KEY" in accounts["alipayplus"].get_credentials()["private_key"]


def test_seeding_twice_keeps_the_accounts_and_their_credentials():
    demo.seed(io.StringIO())
    first = {a.name: a.get_credentials() for a in ProviderAccount.objects.all()}
    out = io.StringIO()
    demo.seed(out)
    assert {a.name: a.get_credentials() for a in ProviderAccount.objects.all()} == first
    assert out.getvalue().count("kept") == 4


def test_seed_keeps_a_key_an_operator_replaced_and_fills_one_that_is_missing():
    demo.seed(io.StringIO())
    binance = ProviderAccount.objects.get(name="Binance demo")
    binance.credentials_encrypted = ""
    binance.set_credentials({"access_key": "operator-ak"})
    binance.save()
    demo.seed(io.StringIO())
    binance.refresh_from_db()
    credentials = binance.get_credentials()
    assert credentials["access_key"] == "operator-ak" and credentials["secret_key"]


def test_the_seeded_accounts_pass_check_provider_against_run_emulators(monkeypatch):
    demo.seed(io.StringIO())
    served = {}
    monkeypatch.setattr(run_emulators, "serve_forever", lambda apps, host: served.update(apps))
    call_command("run_emulators", stdout=io.StringIO(), stderr=io.StringIO())
    servers = []
    try:
        for port, app in served.items():
            server = EmulatorServer(app).start()
            servers.append(server)
            ProviderAccount.objects.filter(base_url=f"http://127.0.0.1:{port}").update(base_url=server.url)
        out = io.StringIO()
        call_command("check_provider", "--all", stdout=out)
    finally:
        for server in servers:
            server.stop()
    assert out.getvalue().count(": OK - authenticated") == 4, out.getvalue()
