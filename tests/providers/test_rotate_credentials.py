"""manage.py rotate_credentials: re-encrypt every account's credentials with the newest key."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from providers.crypto import CredentialsUnreadable
from providers.models import ProviderAccount

pytestmark = pytest.mark.django_db

OLD, NEW, OTHER = (Fernet.generate_key().decode() for _ in range(3))
SECRET = {"access_key": "rot-ak", "secret_key": "rot-sk-" + "s" * 40}


def make_account(name: str, credentials: dict[str, str] | None = SECRET) -> ProviderAccount:
    account = ProviderAccount(name=name, kind="binance", base_url="http://127.0.0.1:9", app_id="app1")
    if credentials:
        account.set_credentials(credentials)
    account.save()
    return account


def rotate() -> str:
    out = io.StringIO()
    call_command("rotate_credentials", stdout=out)
    return out.getvalue()


def test_credentials_move_to_the_new_key_and_stay_readable_once_the_old_key_is_dropped(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    make_account("Binance one")
    make_account("Binance two")
    make_account("Binance empty", credentials=None)

    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    assert "2 account(s) re-encrypted with the newest key, 1 already under it." in rotate()

    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    for name in ("Binance one", "Binance two"):
        assert ProviderAccount.objects.get(name=name).get_credentials() == SECRET
    assert ProviderAccount.objects.get(name="Binance empty").get_credentials() == {}


def test_running_it_again_changes_nothing(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    make_account("Binance one")
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    rotate()
    token = ProviderAccount.objects.get(name="Binance one").credentials_encrypted

    assert "0 account(s) re-encrypted with the newest key, 1 already under it." in rotate()
    assert ProviderAccount.objects.get(name="Binance one").credentials_encrypted == token


def test_an_account_no_key_can_read_is_named_and_the_others_still_rotate(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OTHER]
    make_account("Binance lost")
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    make_account("Binance kept")

    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"1 account\(s\) .* can read: 'Binance lost'"):
        call_command("rotate_credentials", stdout=out)
    assert "1 account(s) re-encrypted" in out.getvalue()

    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    assert ProviderAccount.objects.get(name="Binance kept").get_credentials() == SECRET
    with pytest.raises(CredentialsUnreadable):
        ProviderAccount.objects.get(name="Binance lost").get_credentials()
