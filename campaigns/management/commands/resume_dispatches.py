"""Resume dispatches whose worker stopped or whose task was lost (the watchdog, by hand)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from campaigns.sending.watchdog import dispatches_recover


class Command(BaseCommand):
    help = (
        "Find dispatches whose worker stopped or whose task was lost and wake workers for them. "
        "In-flight requests are re-sent only where the provider deduplicates them; others become "
        "'unknown' for an operator to resend or close."
    )

    def handle(self, *args, **options) -> None:
        report = dispatches_recover()
        if not report:
            self.stdout.write("nothing to resume")
            return
        self.stdout.write(
            f"resumed {report.get('resumed', 0)} stale dispatches, re-enqueued {report.get('requeued', 0)} "
            f"pending ones; {report.get('resent', 0)} in-flight requests will be re-sent (deduplicated by "
            f"the provider), {report.get('unknown', 0)} marked unknown; "
            f"{report.get('held_expired', 0)} held occurrences past their expiry recorded expired"
        )
