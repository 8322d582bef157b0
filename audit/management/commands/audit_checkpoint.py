"""Write a signed checkpoint of the audit chain's head now (the schedule writes one every few
minutes when the chain moved); print it so that the operator can keep a copy elsewhere."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from audit.chain import canonical_json, checkpoint_record
from audit.services import checkpoint_write


class Command(BaseCommand):
    help = (
        "Sign the audit chain's head (event count, last event and its MAC) with the newest "
        "audit key; store it, log it (logger crier.audit) and append it to CRIER_AUDIT_CHECKPOINT_FILE."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        checkpoint = checkpoint_write()
        assert checkpoint is not None  # only the schedule's only_if_moved may skip
        self.stdout.write(self.style.SUCCESS(
            _("checkpoint %(id)s written: %(count)d events, head event %(head)s, signed with key %(key)r")
            % {"id": checkpoint.pk, "count": checkpoint.event_count, "head": checkpoint.head_id,
               "key": checkpoint.key_id}
        ))
        self.stdout.write(canonical_json(checkpoint_record(checkpoint)))
