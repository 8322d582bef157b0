"""Alipay+ access tokens are encrypted at rest (providers/fields.py).

A recipient's address that is a credential (``Provider.address_is_credential``) is a Fernet
token in the database row, readable only with CRIER_FIELD_KEYS; Crier itself reads it back in
clear (ORM and the audience stream's raw SQL), masks it as before, rotates it with
``rotate_credentials``, and the migration encrypts rows stored before it.
"""

from __future__ import annotations

import importlib
import io

import pytest
from cryptography.fernet import Fernet, MultiFernet
from django.apps import apps
from django.core.management import call_command
from django.db import connection, models
from django.db.models import Value
from django.test import override_settings
from rest_framework.test import APIClient

from audit.models import AuditEvent
from campaigns.audiences.recipients import recipients_bulk_upsert
from campaigns.audiences.stream import iter_audience_targets
from campaigns.models import Audience, AudienceMember, Recipient
from providers.fields import PREFIX

pytestmark = pytest.mark.django_db

TOKEN = "alipay-token-visible-nowhere-0123456789"
JIGUANG_ID = "jiguang_user_42"


def raw_addresses(external_id: str) -> str:
    """The row as the database holds it (no field conversion)."""
    table = Recipient._meta.db_table
    column = Recipient._meta.get_field("addresses").column
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE external_id = %s", [external_id])
        (value,) = cursor.fetchone()
    return value if isinstance(value, str) else str(value)


def import_one(external_id: str = "u1", token: str = TOKEN) -> None:
    rows = [{"external_id": external_id, "addresses": {"alipayplus": token, "jiguang": JIGUANG_ID}}]
    report = recipients_bulk_upsert(actor=None, rows=rows)
    assert not report.errors


def test_a_token_is_unreadable_in_the_raw_row_and_read_back_in_clear():
    import_one()

    stored = raw_addresses("u1")
    assert TOKEN not in stored and PREFIX in stored
    assert JIGUANG_ID in stored  # an address that is not a credential stays readable
    assert Recipient.objects.get(external_id="u1").addresses == {"alipayplus": TOKEN, "jiguang": JIGUANG_ID}
    assert Recipient.objects.filter(addresses__has_key="alipayplus").count() == 1


def test_a_reimported_or_changed_token_is_encrypted_again():
    import_one()
    recipients_bulk_upsert(actor=None, rows=[{"external_id": "u1", "addresses": {"alipayplus": TOKEN}}])
    imported = AuditEvent.objects.filter(action="recipients_imported").order_by("-id").first()
    # Compared in clear, not as ciphertext (which is never the same twice).
    assert (imported.data["changed"], imported.data["unchanged"]) == (0, 1)
    import_one(token="alipay-token-replaced-0123456789")
    assert "alipay-token-replaced" not in raw_addresses("u1")
    assert (
        Recipient.objects.get(external_id="u1").addresses["alipayplus"] == "alipay-token-replaced-0123456789"
    )


def test_the_audience_stream_reads_the_token_in_clear_through_both_of_its_paths():
    import_one("u1")
    listed = Audience.objects.create(name="listed", kind="users")
    AudienceMember.objects.create(audience=listed, external_id="u1")
    everyone = Audience.objects.create(name="everyone", kind="all")
    for audience in (listed, everyone):  # raw SQL for users, the ORM for all
        [target] = [
            t
            for chunk in iter_audience_targets(audience, provider_kind="alipayplus", template_key="k")
            for t in chunk
        ]
        assert target.address == TOKEN


def test_the_api_masks_the_token_as_before(make_user):
    import_one()
    client = APIClient()
    client.force_authenticate(make_user("mia", "Marketing"))
    body = client.get("/api/v1/recipients/", {"external_id": "u1"}).content.decode()
    assert TOKEN not in body and TOKEN[-4:] in body and JIGUANG_ID in body


def test_the_migration_encrypts_rows_stored_in_clear():
    import_one()
    clear = Value({"alipayplus": TOKEN, "jiguang": JIGUANG_ID}, output_field=models.JSONField())
    Recipient.objects.filter(external_id="u1").update(addresses=clear)
    assert TOKEN in raw_addresses("u1")

    migration = importlib.import_module("campaigns.migrations.0010_recipient_tokens_encrypted")
    migration.encrypt_tokens(apps, None)

    assert TOKEN not in raw_addresses("u1")
    assert Recipient.objects.get(external_id="u1").addresses["alipayplus"] == TOKEN
    migration.decrypt_tokens(apps, None)
    assert TOKEN in raw_addresses("u1")


def test_rotate_credentials_re_encrypts_tokens_with_the_newest_key():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[old]):
        import_one()
    with override_settings(FIELD_ENCRYPTION_KEYS=[new, old]):
        before = raw_addresses("u1")
        out = io.StringIO()
        call_command("rotate_credentials", stdout=out)
        assert "1 recipient(s) with access tokens re-encrypted" in out.getvalue()
        assert raw_addresses("u1") != before
        call_command("rotate_credentials", stdout=out)
        assert "0 recipient(s) with access tokens re-encrypted" in out.getvalue()
    with override_settings(FIELD_ENCRYPTION_KEYS=[new]):  # the old key dropped
        assert Recipient.objects.get(external_id="u1").addresses["alipayplus"] == TOKEN
        assert TOKEN not in raw_addresses("u1")


def fernet_decryptions(monkeypatch) -> list[int]:
    """Count every Fernet decryption from now on (the real one still runs)."""
    calls: list[int] = []
    real = MultiFernet.decrypt

    def counted(self, token, *args, **kwargs):
        calls.append(1)
        return real(self, token, *args, **kwargs)

    monkeypatch.setattr(MultiFernet, "decrypt", counted)
    return calls


def test_a_stream_that_keeps_no_token_classifies_by_presence_without_decrypting(monkeypatch):
    """``decrypt=False`` (planning, campaigns/sending/plan.py): the same targets and skips as a
    stream that reads the tokens, through both of its paths, and not one token decrypted."""
    for external_id in ("u1", "u2", "u3"):
        import_one(external_id)
    recipients_bulk_upsert(actor=None, rows=[{"external_id": "bare", "addresses": {"jiguang": JIGUANG_ID}}])
    Recipient.objects.filter(external_id="u2").update(opted_out_providers=["alipayplus"])
    listed = Audience.objects.create(name="listed", kind="users")
    for external_id in ("u1", "u2", "u3", "bare", "nobody"):
        AudienceMember.objects.create(audience=listed, external_id=external_id)
    everyone = Audience.objects.create(name="everyone", kind="all")

    def streamed(audience, *, decrypt: bool):
        stream = iter_audience_targets(
            audience, provider_kind="alipayplus", template_key="k", decrypt=decrypt
        )
        rows = [(t.external_id, t.address, t.position) for chunk in stream for t in chunk]
        return rows, dict(stream.skipped)

    for audience in (listed, everyone):  # raw SQL for users, the ORM for all
        read, read_skips = streamed(audience, decrypt=True)
        calls = fernet_decryptions(monkeypatch)
        present, present_skips = streamed(audience, decrypt=False)
        monkeypatch.undo()
        assert calls == []
        assert [(x, p) for x, _a, p in present] == [(x, p) for x, _a, p in read] != []
        assert {a for _x, a, _p in read} == {TOKEN} and {a for _x, a, _p in present} == {""}
        assert present_skips == read_skips
    assert read_skips == {"opted out of provider": 1}  # all: recipients without a token are no part of it
    assert streamed(listed, decrypt=False)[1] == {
        "opted out of provider": 1,
        "no address": 1,
        "unknown recipient": 1,
    }
