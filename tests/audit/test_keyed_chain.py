"""The audit chain is keyed (issue 15, point 3): without CRIER_AUDIT_KEY nobody can recompute
it, old (legacy) events still verify as its prefix, and a key rotation keeps every event
verifiable."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from django.core.management import CommandError, call_command

from audit.chain import canonical_json, event_fields
from audit.keys import AuditKey
from audit.models import AuditEvent
from audit.services import audit_verify, checkpoint_write
from tests.audit.conftest import KEY_A, KEY_B, append, legacy_chain, plain_sha256, rewrite_from, under

pytestmark = pytest.mark.django_db


def test_a_new_event_is_an_hmac_under_the_newest_key_and_names_that_key(settings):
    settings.CRIER_AUDIT_KEY = [KEY_A, KEY_B]
    first, second = append(2)

    assert (first.key_id, second.key_id) == ("a", "a")
    payload = canonical_json({**event_fields(second), "key_id": "a"}).encode()
    expected = hmac.new(b"A" * 40, b"crier-audit-event-v1\x00" + payload, hashlib.sha256).hexdigest()
    assert second.hash == expected
    assert second.prev_hash == first.hash
    assert audit_verify().ok


def test_changing_an_actor_and_recomputing_the_chain_as_plain_sha256_is_detected(key_a, marketer, reviewer):
    events = append(5, actor=marketer)

    def blame_the_reviewer(event: AuditEvent) -> None:
        event.actor_id = reviewer.pk

    rewrite_from(events[2].pk, plain_sha256, blame_the_reviewer)
    result = audit_verify()

    assert (result.ok, result.broken_id, result.checked) == (False, events[2].pk, 2)
    assert "unkeyed (legacy) event after keyed ones" in result.problem
    with pytest.raises(CommandError, match=f"audit trail broken at event {events[2].pk}") as raised:
        call_command("verify_audit")
    assert raised.value.returncode == 1


def test_recomputing_the_whole_chain_as_plain_sha256_contradicts_the_checkpoints(key_a):
    events = append(4)
    checkpoint_write()

    rewrite_from(events[0].pk, plain_sha256, lambda event: setattr(event, "reason", "nothing happened"))
    result = audit_verify()

    assert result.chain_ok  # every plain link holds: only the signed checkpoint can tell
    assert not result.ok
    assert "signed 0 legacy (unkeyed) events, the chain has 4" in result.checkpoint_problems[0]
    with pytest.raises(CommandError) as raised:
        call_command("verify_audit")
    assert raised.value.returncode == 3


def test_a_chain_recomputed_as_plain_sha256_with_its_checkpoints_deleted_is_still_refused(key_a):
    events = append(3)

    rewrite_from(events[0].pk, plain_sha256, lambda event: setattr(event, "reason", "forged"))
    result = audit_verify()

    assert result.chain_ok and not result.ok
    assert "3 legacy (unkeyed) events and no checkpoint sealing them" in result.checkpoint_problems[0]


def test_a_chain_recomputed_under_a_wrong_key_with_the_right_key_id_is_detected(key_a):
    events = append(4)
    guessed = AuditKey("a", b"not-the-secret" * 3)

    rewrite_from(events[1].pk, under(guessed), lambda event: setattr(event, "reason", "forged"))
    result = audit_verify()

    assert (result.broken_id, result.checked) == (events[1].pk, 1)
    assert "does not match its contents under key 'a'" in result.problem


def test_a_chain_recomputed_under_a_key_of_its_own_cannot_pass_as_verified(key_a):
    events = append(3)

    forger = under(AuditKey("mine", b"x" * 40))
    rewrite_from(events[1].pk, forger, lambda event: setattr(event, "reason", "x"))
    result = audit_verify()

    assert not result.ok
    assert [(m.key_id, m.what, m.first_id, m.last_id, m.count) for m in result.missing_keys] == [
        ("mine", "events", events[1].pk, events[2].pk, 2)
    ]
    with pytest.raises(CommandError, match="2 events .* signed with key 'mine'") as raised:
        call_command("verify_audit")
    assert raised.value.returncode == 4


def test_a_key_rotation_keeps_every_event_and_checkpoint_verifiable(settings, capsys):
    settings.CRIER_AUDIT_KEY = [KEY_A]
    under_a = append(3)
    checkpoint_write()
    settings.CRIER_AUDIT_KEY = [KEY_B, KEY_A]  # the new key first, the old one kept
    under_b = append(2, start=3)
    checkpoint_write()

    assert {e.key_id for e in under_a} == {"a"} and {e.key_id for e in under_b} == {"b"}
    result = audit_verify()
    assert result.ok, (result.problem, result.checkpoint_problems, result.missing_keys)
    assert (result.checked, result.key_ids, result.checkpoints) == (5, ["a", "b"], 2)
    call_command("verify_audit")
    out = capsys.readouterr().out
    assert "audit trail intact: 5 events verified" in out
    assert "keys that signed events: a, b" in out


def test_dropping_a_key_that_signed_events_names_them_instead_of_passing(settings):
    settings.CRIER_AUDIT_KEY = [KEY_A]
    under_a = append(2)
    checkpoint_write()
    settings.CRIER_AUDIT_KEY = [KEY_B]

    result = audit_verify()

    assert result.chain_ok and not result.ok
    missing = {(m.key_id, m.what): (m.first_id, m.last_id, m.count) for m in result.missing_keys}
    assert missing[("a", "events")] == (under_a[0].pk, under_a[1].pk, 2)
    assert missing[("a", "checkpoints")][2] == 1
    with pytest.raises(CommandError, match="signed with key 'a', which is not in CRIER_AUDIT_KEY") as raised:
        call_command("verify_audit")
    assert raised.value.returncode == 4


def test_legacy_events_verify_as_the_chains_sealed_prefix(key_a, capsys):
    from django.apps import apps

    seal = __import__("audit.migrations.0003_checkpoint_schedule_and_seal", fromlist=["seal_legacy_chain"])
    old = legacy_chain(3)
    seal.seal_legacy_chain(apps, None)  # what migration audit.0003 does on an upgraded database
    new = append(2)

    assert new[0].prev_hash == old[-1].hash and new[0].key_id == "a"
    result = audit_verify()
    assert result.ok, (result.problem, result.checkpoint_problems)
    assert (result.checked, result.legacy) == (5, 3)
    call_command("verify_audit")
    assert "3 legacy (unkeyed) events before the keyed ones" in capsys.readouterr().out


def test_a_legacy_event_rewritten_with_its_plain_chain_recomputed_breaks_the_first_keyed_link(key_a):
    old = legacy_chain(3)
    new = append(1)

    rewrite_from(old[1].pk, plain_sha256, lambda event: setattr(event, "reason", "forged"))
    # rewrite_from recomputed the keyed event too, as plain SHA-256; put its keyed row back.
    from tests.audit.conftest import EVENTS, sql

    sql(f"UPDATE {EVENTS} SET prev_hash = %s, key_id = 'a', hash = %s WHERE id = %s",
        [new[0].prev_hash, new[0].hash, new[0].pk])
    result = audit_verify()

    assert result.broken_id == new[0].pk
    assert "prev_hash" in result.problem


def test_unsealed_legacy_events_are_reported(key_a):
    legacy_chain(2)

    result = audit_verify()

    assert result.chain_ok and not result.ok
    assert "no checkpoint sealing them" in result.checkpoint_problems[0]
