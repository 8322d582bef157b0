"""The checkpoint schedule, run by a real qcluster, and kept across a flush."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from audit.apps import CHECKPOINT_SCHEDULE, ensure_checkpoint_schedule
from audit.models import AuditCheckpoint
from audit.services import audit_verify
from tests.audit.conftest import KEY_A, append


@pytest.mark.django_db(transaction=True)
def test_the_checkpoint_schedule_is_put_back_after_a_flush():
    Schedule.objects.filter(name=CHECKPOINT_SCHEDULE).delete()
    call_command("flush", interactive=False, verbosity=0)

    schedule = Schedule.objects.get(name=CHECKPOINT_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "audit.tasks.write_checkpoint", Schedule.MINUTES, 5, -1
    )


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_running_cluster_writes_a_signed_checkpoint_on_schedule(settings, qcluster):
    settings.CRIER_AUDIT_KEY = [KEY_A]
    events = append(3)
    ensure_checkpoint_schedule()
    Schedule.objects.filter(name=CHECKPOINT_SCHEDULE).update(next_run=timezone.now() - timedelta(seconds=5))

    cluster = qcluster(CRIER_AUDIT_KEY=KEY_A)
    # django-q2's sentinel runs the scheduler about every 30 seconds.
    deadline = time.monotonic() + 90
    while not AuditCheckpoint.objects.exists():
        assert time.monotonic() < deadline, cluster.output()[-3000:]
        time.sleep(0.5)

    checkpoint = AuditCheckpoint.objects.get()
    assert (checkpoint.event_count, checkpoint.head_id, checkpoint.key_id) == (3, events[-1].pk, "a")
    assert audit_verify().ok
    assert "audit checkpoint {" in cluster.output()  # the log line, in the cluster's log
