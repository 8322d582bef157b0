from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# The django-q2 Schedule that restarts the dispatcher ticker loop every minute.
DISPATCHER_SCHEDULE = "crier-dispatcher-ticker"


def ensure_dispatcher_schedule(apps=None, using: str = "default", **kwargs) -> None:
    """Create the ticker's safety-net Schedule if it is missing (idempotent).

    Migration 0003 creates it once; this ``post_migrate`` handler puts it back after a
    ``flush`` (every transactional test, too), as approvals does for the role groups.
    Without it a ticker chain lost with a dying worker (the Redis broker hands a task to
    a consumer that is being killed, and it is gone) would never restart.
    """
    from django.apps import apps as global_apps

    try:
        schedule = (apps or global_apps).get_model("django_q", "Schedule")
    except LookupError:  # django_q not migrated (yet) in this database
        return
    schedule.objects.using(using).get_or_create(
        name=DISPATCHER_SCHEDULE,
        defaults={
            "func": "campaigns.tasks.dispatcher_loop",
            "schedule_type": "I",  # minutes
            "minutes": 1,
            "repeats": -1,
        },
    )


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from campaigns import (
            checks,  # noqa: F401  (registers system checks)
            stored_text,  # noqa: F401  (declares the sentences the engine stores)
        )
        from campaigns.audiences.digest import connect_signals

        connect_signals()  # SQLite: the function the audience member triggers call

        from django_q.signals import post_spawn

        from campaigns.sending.collector import freeze_what_the_worker_started_with

        post_spawn.connect(freeze_what_the_worker_started_with, dispatch_uid="campaigns.freeze_worker_start")

        post_migrate.connect(
            ensure_dispatcher_schedule, sender=self, dispatch_uid="campaigns.ensure_dispatcher_schedule"
        )
