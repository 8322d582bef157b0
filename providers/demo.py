"""Demo provider accounts pointing at the local emulators (``manage.py seed_demo``).

Four accounts, one per kind, created by name and left alone once they exist, so a
second seed changes nothing and keys an operator replaced stay replaced. Credentials are
generated on first seed (never fixed in the repository) and stored encrypted; the
emulators started by ``run_emulators`` read them back from the database. The Alipay+
account verifies answers with the public half of the emulator's platform key, kept at
``var/emulators/alipayplus-platform-key.pem`` (created here if absent). They are sandbox
accounts (docs/providers.md §7): usable only where CRIER_ALLOW_SANDBOX_ACCOUNTS
is on, as it is with DEBUG.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, TextIO

from providers.emulators.alipayplus import (
    default_platform_key_path,
    generate_private_key_pem,
    load_or_create_platform_key,
    public_key_pem,
)
from providers.history import account_state, record_account_change
from providers.models import ProviderAccount
from providers.registry import provider_class


def _binance() -> dict[str, str]:
    return {"access_key": f"demo{secrets.token_hex(10)}", "secret_key": secrets.token_urlsafe(48)}


def _alipayplus() -> dict[str, str]:
    platform = load_or_create_platform_key(default_platform_key_path())
    return {
        "client_id": f"2022{secrets.randbelow(10**12):012d}",
        "private_key": generate_private_key_pem(),
        "platform_public_key": public_key_pem(platform),
    }


def _mpaas() -> dict[str, str]:
    return {"access_key_id": f"LTAI{secrets.token_hex(10)}", "access_key_secret": secrets.token_urlsafe(24)}


def _jiguang() -> dict[str, str]:
    # Jiguang keys are 24 hex characters.
    return {"channel_key": secrets.token_hex(12), "master_secret": secrets.token_hex(12)}


def _sync_platform_key(account: ProviderAccount) -> None:
    # The key file may have been deleted and recreated since the last seed; an account
    # still pointing at the local emulator must verify answers with the current one.
    current = public_key_pem(load_or_create_platform_key(default_platform_key_path()))
    if account.get_credentials().get("platform_public_key") != current:
        account.set_credentials({"platform_public_key": current})
        account.save(update_fields=["credentials_encrypted", "updated_at"])
        record_account_change(
            account=account,
            before=account_state(account),
            credentials=["platform_public_key"],
            reason="demo seed: the emulator's platform key changed",
        )


# name -> (kind, app id, settings, credentials factory)
DEMO_ACCOUNTS: dict[str, tuple[str, str, dict[str, Any], Callable[[], dict[str, str]]]] = {
    "Binance demo": ("binance", "crierDemoMiniApp01", {"test_uid": "10001", "language": "en"}, _binance),
    "Alipay+ demo": ("alipayplus", "3502020000000001", {}, _alipayplus),
    "mPaaS demo": (
        "mpaas",
        "ONEX570DA89211721",
        {"workspace_id": "default", "delivery_type": 1, "region_id": "cn-hangzhou"},
        _mpaas,
    ),
    "Jiguang demo": ("jiguang", "", {}, _jiguang),
}


def seed(stdout: TextIO) -> dict[str, ProviderAccount]:
    """Create the demo accounts that do not exist yet; give credentials to those lacking them."""
    accounts = {}
    for name, (kind, app_id, settings, make_credentials) in DEMO_ACCOUNTS.items():
        local = f"http://127.0.0.1:{provider_class(kind).emulator_port}"
        account, created = ProviderAccount.objects.get_or_create(
            name=name,
            defaults={
                "kind": kind,
                "base_url": local,
                "app_id": app_id,
                "settings": settings,
                "sandbox": True,
            },
        )
        if created:
            record_account_change(account=account, before=None, reason="demo seed")
        required = provider_class(account.kind).required_credentials()
        status = account.credential_status()
        if not all(status.get(field) for field in required):
            # Only fill what is missing: keys an operator set stay as they are.
            fresh = make_credentials() if account.kind == kind else {}
            filled = {k: v for k, v in fresh.items() if not status.get(k)}
            account.set_credentials(filled)
            account.save(update_fields=["credentials_encrypted", "updated_at"])
            record_account_change(
                account=account, before=account_state(account), credentials=filled, reason="demo seed"
            )
        if account.kind == "alipayplus" and account.base_url == local:
            _sync_platform_key(account)
        accounts[name] = account
        stdout.write(f"provider account {name!r} {'created' if created else 'kept'} ({account.base_url})\n")
    return accounts
