"""No credential value of any kind shows in the admin, command output or logs."""

from __future__ import annotations

import base64
import io
import logging

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from providers.models import ProviderAccount

pytestmark = pytest.mark.django_db


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def accounts(start_emulator) -> dict[str, dict[str, str]]:
    """Create one account of each kind with known credentials, each at its running emulator."""
    merchant = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    platform = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    known = {
        "binance": {"access_key": "bn-ak-7f3e9c1d", "secret_key": "bn-sk-a81c2b7e9d6f40e3b5a6c7d8e9f00112"},
        "alipayplus": {
            "client_id": "2022000011112222",
            "private_key": pem(merchant),
            "platform_public_key": platform.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode(),
        },
        "mpaas": {"access_key_id": "LTAI5tMpaasKeyId42", "access_key_secret": "mp-secret-Zq81Lk29Xw55Pv07"},
        "jiguang": {"channel_key": "7d431e42dfa6a6d693ac2d04", "master_secret": "5e987ac6d2e04d95a9d8f0d1"},
    }
    emulator_credentials = {
        "binance": {known["binance"]["access_key"]: known["binance"]["secret_key"]},
        "alipayplus": {known["alipayplus"]["client_id"]: pem(merchant)},
        "mpaas": {known["mpaas"]["access_key_id"]: known["mpaas"]["access_key_secret"]},
        "jiguang": {known["jiguang"]["channel_key"]: known["jiguang"]["master_secret"]},
    }
    settings = {"mpaas": {"workspace_id": "default", "delivery_type": 1}, "binance": {"test_uid": "1"}}
    for kind, credentials in known.items():
        options = {"platform_private_key": pem(platform)} if kind == "alipayplus" else {}
        server = start_emulator(kind, emulator_credentials[kind], **options)
        account = ProviderAccount(
            name=f"{kind} account",
            kind=kind,
            base_url=server.url,
            sandbox=True,
            app_id="ONEX570DA89211721",
            settings=settings.get(kind, {}),
        )
        account.set_credentials(credentials)
        account.save()
    return known


SECRET_FIELDS = {"secret_key", "private_key", "access_key_secret", "master_secret"}


def needles(known: dict[str, dict[str, str]], *, secrets_only: bool) -> set[str]:
    """Return credential values and the forms they could leak in (PEM lines, Basic auth).

    Key ids (``access_key``, ``client_id``, ``access_key_id``, ``channel_key``) travel in
    clear on the wire (mPaaS puts AccessKeyId in the query string, Alipay+ echoes
    Client-Id), so HTTP-level debug logs may show them; ``secrets_only`` leaves them out.
    """
    found = set()
    for credentials in known.values():
        for name, value in credentials.items():
            if secrets_only and name not in SECRET_FIELDS:
                continue
            lines = [line for line in value.splitlines() if line and not line.startswith("-----")]
            found.update(lines[:3] if lines else [value])
    jiguang = known["jiguang"]
    found.add(base64.b64encode(f"{jiguang['channel_key']}:{jiguang['master_secret']}".encode()).decode())
    return found


def test_no_secret_appears_in_admin_pages_check_output_or_logs(admin_client, accounts, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "providers", "django"):
        caplog.set_level(logging.DEBUG, logger=name)
    pages = [
        admin_client.get(reverse("admin:providers_provideraccount_changelist")).content.decode(),
        admin_client.get(reverse("admin:providers_provideraccount_add")).content.decode(),
    ]
    for account in ProviderAccount.objects.all():
        url = reverse("admin:providers_provideraccount_change", args=[account.pk])
        pages.append(admin_client.get(url).content.decode())
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("check_provider", "--all", stdout=out, stderr=err)
        failure = ""
    except CommandError as exc:
        failure = str(exc)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith(("providers", "django"))]
    shown = [*pages, out.getvalue(), err.getvalue(), failure, *ours]
    logged = [caplog.text, *(repr(record.args) for record in caplog.records)]

    # The haystack is real: every account was rendered and checked, and the logs ran.
    assert out.getvalue().count(": OK - authenticated") == 4, out.getvalue() + failure
    assert all(f"{kind} account" in pages[0] for kind in accounts)
    assert "checking account" in caplog.text and "HTTP Request: POST" in caplog.text
    assert {n for n in needles(accounts, secrets_only=False) for text in shown if n in text} == set()
    assert {n for n in needles(accounts, secrets_only=True) for text in logged if n in text} == set()
