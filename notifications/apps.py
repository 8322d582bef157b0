from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# The django-q2 Schedule that sweeps the outbox every minute.
SWEEP_SCHEDULE = "crier-notifications-sweep"


def ensure_sweep_schedule(apps=None, using: str = "default", **kwargs) -> None:
    """Create the outbox sweep's Schedule if it is missing (idempotent; after a flush too,
    as campaigns does for the dispatcher's)."""
    from django.apps import apps as global_apps

    try:
        schedule = (apps or global_apps).get_model("django_q", "Schedule")
    except LookupError:
        return
    schedule.objects.using(using).get_or_create(
        name=SWEEP_SCHEDULE,
        defaults={"func": "notifications.tasks.sweep", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


class NotificationsConfig(AppConfig):
    """Telling people: the outbox derived from the audit trail, e-mail and team chat."""

    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from audit.signals import event_recorded
        from notifications import errors  # noqa: F401  (declares the sentences of last_error)
        from notifications.outbox import on_event_recorded

        event_recorded.connect(on_event_recorded, dispatch_uid="notifications.outbox")
        post_migrate.connect(ensure_sweep_schedule, sender=self, dispatch_uid="notifications.sweep_schedule")
