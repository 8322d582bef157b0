from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# The django-q2 Schedule that writes a signed checkpoint of the audit chain's head.
CHECKPOINT_SCHEDULE = "crier-audit-checkpoint"
CHECKPOINT_MINUTES = 5


def ensure_checkpoint_schedule(apps=None, using: str = "default", **kwargs) -> None:
    """Create the checkpoint Schedule if it is missing (idempotent; an edited one is kept).

    Migration ``audit.0003`` creates it once; this ``post_migrate`` handler puts it back
    after a ``flush`` (every transactional test, too), as campaigns does for its ticker.
    """
    from django.apps import apps as global_apps

    try:
        schedule = (apps or global_apps).get_model("django_q", "Schedule")
    except LookupError:  # django_q not migrated (yet) in this database
        return
    schedule.objects.using(using).get_or_create(
        name=CHECKPOINT_SCHEDULE,
        defaults={
            "func": "audit.tasks.write_checkpoint",
            "schedule_type": "I",  # minutes
            "minutes": CHECKPOINT_MINUTES,
            "repeats": -1,
        },
    )


class AuditConfig(AppConfig):
    """The keyed, hash-chained audit trail: the bottom layer, importing no other app of Crier."""

    name = "audit"
    verbose_name = _("Audit trail")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from audit import checks  # noqa: F401  (registers system checks)

        post_migrate.connect(
            ensure_checkpoint_schedule, sender=self, dispatch_uid="audit.ensure_checkpoint_schedule"
        )
