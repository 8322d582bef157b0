"""providers.rotation.rotate_rows: the one re-encryption loop of rotate_credentials and
rotate_chat_credentials, on both tables: rewritten, current, unreadable, and a save made
between the read and the write wins (compare-and-swap)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from notifications.models import ChatWebhook
from providers.models import ProviderAccount
from providers.rotation import rotate_rows

pytestmark = pytest.mark.django_db

OLD, NEW, LOST = (Fernet.generate_key().decode() for _ in range(3))
URL = {"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"}


def webhook(name: str, credentials: dict | None = URL) -> ChatWebhook:
    row = ChatWebhook(name=name, kind="wecom")
    if credentials:
        row.set_credentials(credentials)
    row.save()
    return row


def account(name: str) -> ProviderAccount:
    row = ProviderAccount(name=name, kind="binance", base_url="http://127.0.0.1:9", app_id="app1")
    row.set_credentials({"access_key": "ak", "secret_key": "sk-" + "s" * 40})
    row.save()
    return row


def test_rows_of_either_table_are_rewritten_counted_or_named(settings):
    settings.FIELD_ENCRYPTION_KEYS = [LOST]
    webhook("unreadable")
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    webhook("old")
    webhook("empty", credentials=None)
    account("Binance")
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    rotated_accounts = []

    hooks = rotate_rows(ChatWebhook.objects.order_by("name"))
    accounts = rotate_rows(ProviderAccount.objects.all(), on_rotated=rotated_accounts.append)

    assert (hooks.rotated, hooks.current, hooks.unreadable) == (1, 1, ["unreadable"])
    assert (accounts.rotated, accounts.current, [a.name for a in rotated_accounts]) == (1, 0, ["Binance"])
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    assert ChatWebhook.objects.get(name="old").get_credentials() == URL
    assert ProviderAccount.objects.get(name="Binance").get_credentials()["access_key"] == "ak"


def test_a_save_between_the_read_and_the_write_wins(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    row = webhook("ops")
    rows = ChatWebhook.objects.all()
    list(rows)  # read: the old token
    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    row.set_credentials({"url": "https://example.invalid/new"})  # an operator saves meanwhile
    row.save()
    saved = ChatWebhook.objects.get(pk=row.pk).credentials_encrypted
    called = []

    done = rotate_rows(rows, on_rotated=called.append)

    assert (done.rotated, done.current, called) == (0, 1, [])
    assert ChatWebhook.objects.get(pk=row.pk).credentials_encrypted == saved
