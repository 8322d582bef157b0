from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = _("Approvals")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from approvals import receivers
        from approvals.roles import ensure_roles
        from campaigns import signals as campaign_signals
        from campaigns.models import Campaign

        # After this app's permissions exist (auth's own handler runs first).
        post_migrate.connect(ensure_roles, sender=self, dispatch_uid="approvals.ensure_roles")
        # Reviews follow their campaign (campaigns.signals says why these are signals).
        campaign_signals.approval_voided.connect(
            receivers.void_review, sender=Campaign, dispatch_uid="approvals.void_review"
        )
        campaign_signals.review_abandoned.connect(
            receivers.close_review, sender=Campaign, dispatch_uid="approvals.close_review"
        )
