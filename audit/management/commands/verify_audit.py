"""Check the audit trail's hash chain and report the first broken link."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from audit.services import audit_verify


class Command(BaseCommand):
    help = (
        "Verify that the audit trail is intact: every event's hash matches its contents and "
        "links to the event before it. Exits non-zero at the first broken link."
    )

    def handle(self, *args, **options) -> None:
        result = audit_verify()
        if not result.ok:
            raise CommandError(
                f"audit trail broken at event {result.broken_id} "
                f"(after {result.checked} intact events): {result.problem}"
            )
        self.stdout.write(self.style.SUCCESS(f"audit trail intact: {result.checked} events verified"))
