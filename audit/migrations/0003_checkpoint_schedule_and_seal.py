"""Write a signed checkpoint every five minutes (when the chain moved), and seal the legacy chain.

The schedule runs ``audit.tasks.write_checkpoint`` in whichever cluster picks it up; two
clusters at once write one checkpoint, since it is written under the chain's lock and only
when the head moved. Change its interval in the admin's django-q schedules if needed.

Events written before this upgrade carry plain SHA-256 links (``key_id`` empty). The seal is
a checkpoint signed now, under the newest audit key, that counts them: afterwards no event
can be recomputed as a legacy one without contradicting it. Set ``CRIER_AUDIT_KEY`` before
running this migration, so the seal is signed with the key that stays.
"""

from django.db import migrations
from django.utils import timezone


def create_schedule(apps, schema_editor):
    from audit.apps import ensure_checkpoint_schedule

    ensure_checkpoint_schedule(apps, using=schema_editor.connection.alias)


def remove_schedule(apps, schema_editor):
    from audit.apps import CHECKPOINT_SCHEDULE

    apps.get_model("django_q", "Schedule").objects.filter(name=CHECKPOINT_SCHEDULE).delete()


def seal_legacy_chain(apps, schema_editor):
    # The real services sign and publish (log line, checkpoint file); the historical models
    # give the rows, which have every field those functions read.
    from audit.services import checkpoint_publish, checkpoint_sign

    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditCheckpoint = apps.get_model("audit", "AuditCheckpoint")
    head = AuditEvent.objects.order_by("-id").values("id", "hash").first()
    if head is None:
        return  # a new installation: nothing to seal
    count = AuditEvent.objects.count()
    seal = AuditCheckpoint(
        created_at=timezone.now(), event_count=count, legacy_count=count,
        head_id=head["id"], head_hash=head["hash"],
    )
    checkpoint_sign(seal)
    seal.save(force_insert=True)
    checkpoint_publish(seal)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_keyed_chain_and_checkpoints"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [
        migrations.RunPython(create_schedule, remove_schedule),
        # Reversing keeps the seal: checkpoints are append-only.
        migrations.RunPython(seal_legacy_chain, migrations.RunPython.noop),
    ]
