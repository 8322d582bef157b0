"""Signed checkpoints of the chain's head: deleting the newest events, or rewriting a
checkpoint, is detected; what only the copy outside the database can show is shown with it."""

from __future__ import annotations

import json
import logging

import pytest
from django.core.management import CommandError, call_command
from django_q.models import Schedule

from audit.chain import canonical_json, checkpoint_record
from audit.models import AuditCheckpoint, AuditEvent, AuditEventImmutable
from audit.services import audit_verify, checkpoint_write
from audit.tasks import write_checkpoint
from tests.audit.conftest import CHECKPOINTS, KEY_A, append, delete_events, sql

pytestmark = pytest.mark.django_db


def test_a_checkpoint_signs_the_count_and_head_and_goes_to_the_table_the_log_and_the_file(
    key_a, tmp_path, caplog
):
    key_a.CRIER_AUDIT_CHECKPOINT_FILE = str(tmp_path / "checkpoints.jsonl")
    events = append(3)

    with caplog.at_level(logging.INFO, logger="crier.audit"):
        checkpoint = checkpoint_write()

    stored = AuditCheckpoint.objects.get()
    assert (stored.event_count, stored.legacy_count, stored.head_id, stored.head_hash, stored.key_id) == (
        3, 0, events[-1].pk, events[-1].hash, "a"
    )
    line = canonical_json(checkpoint_record(checkpoint))
    assert json.loads(line)["mac"] == stored.mac
    assert [r.getMessage() for r in caplog.records if r.name == "crier.audit"] == [f"audit checkpoint {line}"]
    assert (tmp_path / "checkpoints.jsonl").read_text() == line + "\n"
    assert KEY_A.split(":")[1] not in caplog.text + line  # the secret never leaves the settings


def test_deleting_the_newest_events_after_a_checkpoint_is_detected(key_a):
    events = append(5)
    checkpoint = checkpoint_write()

    delete_events(events[4].pk, events[3].pk)
    result = audit_verify()

    assert result.chain_ok  # the shorter chain is valid by itself
    assert not result.ok
    at = checkpoint.created_at.isoformat(timespec="seconds")
    assert result.checkpoint_problems == [
        f"checkpoint {checkpoint.pk} ({at}) counted 5 events "
        f"up to event {events[4].pk}, but the chain has only 3: the newest 2 events were deleted"
    ]
    with pytest.raises(CommandError, match="the newest 2 events were deleted") as raised:
        call_command("verify_audit")
    assert raised.value.returncode == 3


def test_replacing_the_newest_events_with_as_many_new_ones_is_detected(key_a):
    events = append(4)
    checkpoint_write()

    delete_events(events[3].pk, events[2].pk)
    append(2, start=10)  # the same count again, signed with the real key by the real code
    result = audit_verify()

    assert result.chain_ok and not result.ok
    assert f"names event {events[3].pk}" in result.checkpoint_problems[0]
    assert "deleted or replaced" in result.checkpoint_problems[0]


def test_a_rewritten_checkpoint_is_detected(key_a):
    events = append(5)
    checkpoint = checkpoint_write()
    delete_events(events[4].pk)
    # ...and the checkpoint "corrected" to match the shorter chain, without the key.
    sql(
        f"UPDATE {CHECKPOINTS} SET event_count = %s, head_id = %s, head_hash = %s WHERE id = %s",
        [4, events[3].pk, events[3].hash, checkpoint.pk],
    )

    result = audit_verify()

    assert result.checkpoint_problems == [
        f"checkpoint {checkpoint.pk} ({checkpoint.created_at.isoformat(timespec='seconds')}): its signature "
        "does not match its contents: the checkpoint was rewritten or made without the key"
    ]
    with pytest.raises(CommandError, match=f"checkpoint {checkpoint.pk} .*signature does not") as raised:
        call_command("verify_audit")
    assert raised.value.returncode == 3


def test_checkpoints_are_append_only():
    append(1)
    checkpoint = checkpoint_write()

    with pytest.raises(AuditEventImmutable):
        AuditCheckpoint.objects.all().delete()
    with pytest.raises(AuditEventImmutable):
        AuditCheckpoint.objects.update(event_count=0)
    checkpoint.event_count = 0
    with pytest.raises(AuditEventImmutable):
        checkpoint.save()
    assert AuditCheckpoint.objects.get().event_count == 1


def test_events_deleted_with_the_newest_checkpoint_are_found_only_with_the_copy_outside(key_a, tmp_path):
    key_a.CRIER_AUDIT_CHECKPOINT_FILE = str(tmp_path / "checkpoints.jsonl")
    append(3)
    checkpoint_write()
    newest = append(2, start=3)
    second = checkpoint_write()

    # Someone with database access removes the two newest events and the checkpoint naming them.
    delete_events(newest[1].pk, newest[0].pk)
    sql(f"DELETE FROM {CHECKPOINTS} WHERE id = %s", [second.pk])

    assert audit_verify().ok  # honest: the database alone is consistent with itself
    with pytest.raises(CommandError, match="counted 5 events .* the newest 2 events were deleted") as raised:
        call_command("verify_audit", "--checkpoint-file", str(tmp_path / "checkpoints.jsonl"))
    assert raised.value.returncode == 3
    assert "checkpoints.jsonl" in str(raised.value)


def test_the_log_lines_are_a_copy_verify_audit_can_read(key_a, tmp_path, caplog):
    append(2)
    with caplog.at_level(logging.INFO, logger="crier.audit"):
        checkpoint = checkpoint_write()
    log = tmp_path / "crier.log"
    log.write_text(
        "2026-12-06 08:00:00 INFO django.request something else {\"not\": \"a checkpoint\"}\n"
        + "".join(f"2026-12-06 08:00:01 INFO crier.audit {r.getMessage()}\n" for r in caplog.records)
    )
    sql(f"DELETE FROM {CHECKPOINTS} WHERE id = %s", [checkpoint.pk])

    call_command("verify_audit", "--checkpoint-file", str(log))  # intact: the copy matches

    delete_events(AuditEvent.objects.order_by("-id").values_list("id", flat=True).first())
    with pytest.raises(CommandError, match="the newest 1 events were deleted"):
        call_command("verify_audit", "--checkpoint-file", str(log))


def test_an_unreadable_checkpoint_file_is_a_usage_error_naming_the_line(tmp_path):
    copy = tmp_path / "copy.jsonl"
    copy.write_text('{"event_count": 1}\n')

    with pytest.raises(CommandError, match="copy.jsonl line 1 is not a checkpoint record") as raised:
        call_command("verify_audit", "--checkpoint-file", str(copy))
    assert raised.value.returncode == 2
    with pytest.raises(CommandError, match="cannot read checkpoint file") as raised:
        call_command("verify_audit", "--checkpoint-file", str(tmp_path / "missing"))
    assert raised.value.returncode == 2


def test_the_scheduled_checkpoint_is_written_only_when_the_chain_moved(key_a):
    assert write_checkpoint() is None  # an empty chain: nothing to sign yet
    append(2)
    first = write_checkpoint()
    assert first is not None
    assert write_checkpoint() is None
    append(1, start=2)
    second = write_checkpoint()

    assert list(AuditCheckpoint.objects.values_list("id", "event_count")) == [(first, 2), (second, 3)]


def test_a_schedule_writes_checkpoints_every_five_minutes():
    schedule = Schedule.objects.get(name="crier-audit-checkpoint")

    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "audit.tasks.write_checkpoint", Schedule.MINUTES, 5, -1
    )


def test_audit_checkpoint_writes_one_on_demand_and_verify_audit_reports_what_it_covers(key_a, capsys):
    append(3)
    call_command("audit_checkpoint")
    call_command("audit_checkpoint")  # on demand: written even when the head did not move
    append(2, start=3)

    out = capsys.readouterr().out
    assert "written: 3 events, head event" in out and "signed with key 'a'" in out
    assert AuditCheckpoint.objects.count() == 2
    call_command("verify_audit")
    out = capsys.readouterr().out
    assert "audit trail intact: 5 events verified" in out
    assert "2 checkpoints match; 2 events were appended after the newest one" in out


def test_verify_audit_says_when_there_is_no_checkpoint_yet(capsys):
    append(1)

    call_command("verify_audit")

    assert "no checkpoint yet: deleting the newest events would not be detected" in capsys.readouterr().out
