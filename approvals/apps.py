from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from approvals.roles import ensure_roles

        # After this app's permissions exist (auth's own handler runs first).
        post_migrate.connect(ensure_roles, sender=self, dispatch_uid="approvals.ensure_roles")
