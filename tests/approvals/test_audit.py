"""The audit trail: append-only, hash-chained, verifiable."""

from __future__ import annotations

import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, connections, transaction

from audit.models import AuditEvent, AuditEventImmutable
from audit.services import GENESIS, audit_verify, event_hash, record_event

pytestmark = pytest.mark.django_db


def _append(n: int, **fields) -> list[AuditEvent]:
    return [
        record_event(object_type="test", object_id=i, action="poke", reason=f"event {i}", **fields)
        for i in range(n)
    ]


def test_each_event_links_to_the_hash_of_the_one_before():
    first, second, third = _append(3)

    assert first.prev_hash == GENESIS
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert third.hash == event_hash(AuditEvent.objects.get(pk=third.pk))


def test_an_untouched_trail_verifies(marketer, capsys):
    _append(3, actor=marketer, data={"nested": {"b": 1, "a": [1, 2]}, "text": "ünïcode"})

    assert audit_verify().ok
    call_command("verify_audit")
    assert "audit trail intact: 3 events verified" in capsys.readouterr().out


def test_queryset_update_and_delete_are_refused():
    _append(2)

    with pytest.raises(AuditEventImmutable):
        AuditEvent.objects.filter(action="poke").update(reason="rewritten")
    with pytest.raises(AuditEventImmutable):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.count() == 2


def test_saving_or_deleting_a_recorded_event_is_refused():
    (event,) = _append(1)
    event.reason = "rewritten"

    with pytest.raises(AuditEventImmutable):
        event.save()
    with pytest.raises(AuditEventImmutable):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).reason == "event 0"


def test_raw_sql_tampering_makes_verify_audit_fail_at_that_row():
    events = _append(5)
    tampered = events[2]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AuditEvent._meta.db_table} SET reason = %s WHERE id = %s",
            ["nothing happened", tampered.pk],
        )

    result = audit_verify()

    assert (result.ok, result.broken_id, result.checked) == (False, tampered.pk, 2)
    with pytest.raises(CommandError, match=f"audit trail broken at event {tampered.pk}"):
        call_command("verify_audit")


def test_a_deleted_row_in_the_middle_breaks_the_next_link():
    events = _append(4)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {AuditEvent._meta.db_table} WHERE id = %s", [events[1].pk])

    result = audit_verify()

    assert result.broken_id == events[2].pk
    assert "prev_hash" in result.problem


def test_a_rehashed_forgery_is_caught_by_the_following_link():
    events = _append(3)
    forged = AuditEvent.objects.get(pk=events[1].pk)
    forged.reason = "forged"
    new_hash = event_hash(forged)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AuditEvent._meta.db_table} SET reason = %s, hash = %s WHERE id = %s",
            ["forged", new_hash, forged.pk],
        )

    assert audit_verify().broken_id == events[2].pk


def test_the_chain_cannot_fork_two_events_never_share_a_predecessor():
    (event,) = _append(1)
    twin = AuditEvent(
        object_type="test", object_id="x", action="fork", created_at=event.created_at,
        prev_hash=event.prev_hash, hash="f" * 64,
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save(force_insert=True)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_one_unbroken_chain():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite's in-memory test database cannot take concurrent writers")
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                with transaction.atomic():
                    record_event(object_type="test", object_id=f"{n}-{i}", action="race")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert AuditEvent.objects.count() == 60
    assert audit_verify().ok


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_checkpoints_written_while_many_sessions_append_each_name_a_consistent_head():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite's in-memory test database cannot take concurrent writers")
    from audit.models import AuditCheckpoint
    from audit.services import checkpoint_write

    errors: list[BaseException] = []
    done = threading.Event()

    def writer(n: int) -> None:
        try:
            for i in range(10):
                with transaction.atomic():
                    record_event(object_type="test", object_id=f"{n}-{i}", action="race")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    def checkpointer() -> None:
        try:
            while not done.is_set():
                checkpoint_write()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    sealing = [threading.Thread(target=checkpointer) for _ in range(2)]
    for thread in threads + sealing:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    for thread in sealing:
        thread.join()
    checkpoint_write()

    assert errors == []
    assert AuditCheckpoint.objects.count() > 1
    result = audit_verify()
    assert result.ok, (result.problem, result.checkpoint_problems)
    assert (result.checked, result.checkpoints) == (40, AuditCheckpoint.objects.count())
