"""manage.py check_provider and run_emulators, against emulators over real HTTP."""

from __future__ import annotations

import io

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import call_command
from django.core.management.base import CommandError

from providers.alipayplus import AlipayPlusProvider
from providers.base import AccountConfig, Batch, Message, Outcome, Target
from providers.binance import BinanceProvider
from providers.emulators.alipayplus import public_key_pem
from providers.emulators.server import EmulatorServer
from providers.management.commands import run_emulators
from providers.models import ProviderAccount

pytestmark = pytest.mark.django_db

BINANCE = {"access_key": "check-ak", "secret_key": "check-secret-key-" + "x" * 40}


def rsa_pem(bits: int = 2048) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def make_account(
    name: str, kind: str, base_url: str, credentials: dict[str, str], **fields: object
) -> ProviderAccount:
    account = ProviderAccount(
        name=name, kind=kind, base_url=base_url, sandbox=True, app_id=fields.pop("app_id", "app1")
    )
    for key, value in fields.items():
        setattr(account, key, value)
    account.set_credentials(credentials)
    account.save()
    return account


def check(*args: str) -> str:
    out = io.StringIO()
    call_command("check_provider", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


# -- check_provider --------------------------------------------------------------


def test_check_provider_reports_a_working_binance_account(start_emulator):
    emulator = start_emulator("binance", {BINANCE["access_key"]: BINANCE["secret_key"]})
    make_account("Binance", "binance", emulator.url, BINANCE, settings={"test_uid": "42"})
    output = check("Binance")
    assert "Binance (binance" in output and ": OK - authenticated" in output
    [accepted] = emulator.app.accepted
    assert accepted.targets == ("42",) and accepted.payload["preview"] is True


def test_check_provider_fails_with_a_non_zero_exit_when_the_secret_is_wrong(start_emulator):
    emulator = start_emulator("binance", {BINANCE["access_key"]: "the-real-secret-" + "y" * 40})
    make_account("Binance", "binance", emulator.url, BINANCE)
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 of 1 account") as error:
        call_command("check_provider", "Binance", stdout=out)
    assert error.value.returncode == 1
    assert "FAILED - authentication refused (HTTP 200, 900002" in out.getvalue()


def test_check_provider_reports_an_alipayplus_account_and_its_platform_key(start_emulator):
    merchant, platform = rsa_pem(), rsa_pem()
    emulator = start_emulator("alipayplus", {"cid": merchant}, platform_private_key=platform)
    credentials = {
        "client_id": "cid",
        "private_key": merchant,
        "platform_public_key": emulator.app.platform_public_key_pem,
    }
    make_account("Alipay", "alipayplus", emulator.url, credentials)
    assert ": OK - authenticated" in check("Alipay")
    [accepted] = emulator.app.accepted
    assert accepted.key.startswith("crier-check-") and accepted.targets == ("crier-check",)


def test_check_provider_fails_when_the_platform_key_does_not_verify_answers(start_emulator):
    merchant = rsa_pem()
    emulator = start_emulator("alipayplus", {"cid": merchant})
    credentials = {"client_id": "cid", "private_key": merchant, "platform_public_key": rsa_pem(1024)}
    make_account("Alipay", "alipayplus", emulator.url, credentials)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_provider", "Alipay", stdout=out)
    assert "could not be trusted" in out.getvalue() and "RESPONSE_SIGNATURE_INVALID" in out.getvalue()


def test_check_provider_names_missing_credentials_without_sending(start_emulator):
    emulator = start_emulator("binance", {})
    make_account("Binance", "binance", emulator.url, {"access_key": "ak"})
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_provider", "Binance", stdout=out)
    assert "credentials not set: secret_key" in out.getvalue()
    assert emulator.app.requests_seen == 0


def test_check_provider_says_when_nothing_answers():
    make_account("Binance", "binance", "http://127.0.0.1:9", BINANCE)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_provider", "--all", stdout=out)
    assert "FAILED - no answer from http://127.0.0.1:9" in out.getvalue()


def test_check_provider_lists_the_known_names_for_an_unknown_one():
    make_account("Binance", "binance", "http://127.0.0.1:9", BINANCE)
    with pytest.raises(CommandError, match="no provider account named 'Binanse'; known: Binance"):
        call_command("check_provider", "Binanse")


# -- run_emulators ---------------------------------------------------------------


def test_emulator_credentials_come_from_enabled_complete_accounts():
    make_account("A", "binance", "http://127.0.0.1:8101", {"access_key": "ak-a", "secret_key": "sk-a"})
    make_account("B", "binance", "http://127.0.0.1:8101", {"access_key": "ak-b", "secret_key": "sk-b"})
    make_account("Off", "binance", "http://x", {"access_key": "ak-c", "secret_key": "sk-c"}, enabled=False)
    make_account("Half", "binance", "http://x", {"access_key": "ak-d"})
    make_account("J", "jiguang", "http://x", {"channel_key": "ck", "master_secret": "ms"})
    warnings: list[str] = []
    mapping, accounts = run_emulators.emulator_credentials("binance", warn=warnings.append)
    assert mapping == {"ak-a": "sk-a", "ak-b": "sk-b"}
    assert [a.name for a in accounts] == ["A", "B"]
    assert warnings == ["skipping 'Half': access_key or secret_key is not set"]
    assert run_emulators.emulator_credentials("jiguang")[0] == {"ck": "ms"}


def test_run_emulators_serves_each_kind_with_the_accounts_credentials(monkeypatch, tmp_path):
    monkeypatch.setenv("CRIER_ALIPAYPLUS_PLATFORM_KEY", str(tmp_path / "platform.pem"))
    account = make_account("Binance", "binance", "http://127.0.0.1:18101", BINANCE)
    served = {}
    monkeypatch.setattr(run_emulators, "serve_forever", lambda apps, host: served.update(apps))
    out = io.StringIO()
    call_command("run_emulators", "--binance-port", "18101", stdout=out, stderr=io.StringIO())
    text = out.getvalue()
    assert "binance     emulator on http://127.0.0.1:18101  (Binance)" in text
    assert "alipayplus  emulator on http://127.0.0.1:8102  (no enabled accounts)" in text
    assert BINANCE["secret_key"] not in text and BINANCE["access_key"] not in text
    assert {app.kind for app in served.values()} == {"binance", "alipayplus", "mpaas", "jiguang"}
    assert (tmp_path / "platform.pem").stat().st_mode & 0o077 == 0
    # The served Binance emulator accepts what the account sends.
    with EmulatorServer(served[18101]) as server, httpx.Client() as client:
        config = AccountConfig(
            kind="binance", base_url=server.url, app_id=account.app_id, credentials=account.get_credentials()
        )
        result = BinanceProvider(config).send(
            client, Message(template_ref="1", language="en", parameters={}), Batch(key="k")
        )
    assert result.outcome is Outcome.DELIVERED


def test_run_emulators_refuses_two_emulators_on_one_port():
    with pytest.raises(CommandError, match="cannot share a port"):
        call_command("run_emulators", "--binance-port", "9000", "--jiguang-port", "9000")


def test_run_emulators_can_serve_only_some_kinds(monkeypatch):
    served = {}
    monkeypatch.setattr(run_emulators, "serve_forever", lambda apps, host: served.update(apps))
    call_command("run_emulators", "--only", "jiguang", stdout=io.StringIO())
    assert [app.kind for app in served.values()] == ["jiguang"]


def test_the_alipayplus_emulator_from_run_emulators_signs_with_the_kept_platform_key(monkeypatch, tmp_path):
    monkeypatch.setenv("CRIER_ALIPAYPLUS_PLATFORM_KEY", str(tmp_path / "platform.pem"))
    served = {}
    monkeypatch.setattr(run_emulators, "serve_forever", lambda apps, host: served.update(apps))
    call_command("run_emulators", "--only", "alipayplus", stdout=io.StringIO())
    call_command("run_emulators", "--only", "alipayplus", stdout=io.StringIO())  # the same key again
    expected = public_key_pem((tmp_path / "platform.pem").read_text())
    assert served[8102].platform_public_key_pem == expected


def test_an_alipayplus_user_token_is_a_target_of_the_served_emulator(monkeypatch, tmp_path):
    monkeypatch.setenv("CRIER_ALIPAYPLUS_PLATFORM_KEY", str(tmp_path / "platform.pem"))
    merchant = rsa_pem()
    credentials = {"client_id": "cid", "private_key": merchant}
    make_account("Alipay", "alipayplus", "http://127.0.0.1:8102", credentials)
    served = {}
    monkeypatch.setattr(run_emulators, "serve_forever", lambda apps, host: served.update(apps))
    call_command("run_emulators", "--only", "alipayplus", stdout=io.StringIO())
    with EmulatorServer(served[8102]) as server, httpx.Client() as client:
        config = AccountConfig(
            kind="alipayplus",
            base_url=server.url,
            app_id="app1",
            credentials=credentials,
        )
        message = Message(template_ref="TP_1", language="en-US", parameters={})
        batch = Batch(key="r-1", targets=(Target("u", address="token-1"),))
        assert AlipayPlusProvider(config).send(client, message, batch).outcome is Outcome.DELIVERED
    assert served[8102].counts_by_target() == {"token-1": 1}
