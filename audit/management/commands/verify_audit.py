"""Check the audit trail: the keyed hash chain, and every signed checkpoint against it.

Exit status, so that a monitoring job can tell the cases apart:

* 0: intact: every link and MAC holds and every checkpoint matches;
* 1: the chain is broken: the first bad event is named, with why;
* 3: a checkpoint does not match (the newest events were deleted, events were recomputed
  without the key, or the checkpoint itself was rewritten): each such checkpoint is named;
* 4: events or checkpoints are signed with a key that is not in ``CRIER_AUDIT_KEY``, so
  they cannot be verified: the key id and the ids it signed are named. Put the key back.

(2 is the usage error of every management command.) When several apply, every finding is
printed and the lowest status is returned.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from audit.verification import AuditCheck, audit_verify, read_checkpoint_file

EXIT_CHAIN_BROKEN = 1
EXIT_CHECKPOINT_MISMATCH = 3
EXIT_KEY_MISSING = 4


def _findings(result: AuditCheck) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    if not result.chain_ok:
        found.append((EXIT_CHAIN_BROKEN, _(
            "audit trail broken at event %(id)s (after %(checked)d intact events): %(problem)s"
        ) % {"id": result.broken_id, "checked": result.checked, "problem": result.problem}))
    found.extend((EXIT_CHECKPOINT_MISMATCH, problem) for problem in result.checkpoint_problems)
    for missing in result.missing_keys:
        found.append((EXIT_KEY_MISSING, _(
            "%(count)d %(what)s (ids %(first)s to %(last)s) are signed with key %(key)r, which is not "
            "in CRIER_AUDIT_KEY: they cannot be verified; keep every key that signed something"
        ) % {
            "count": missing.count, "what": missing.what, "first": missing.first_id,
            "last": missing.last_id, "key": missing.key_id,
        }))
    return found


class Command(BaseCommand):
    help = (
        "Verify the audit trail: every event's MAC matches its contents and links to the event "
        "before it, and every signed checkpoint matches the chain (so deleting the newest events "
        "is detected). Exit status 1: chain broken; 3: a checkpoint does not match; 4: a key is missing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--checkpoint-file",
            action="append",
            default=[],
            metavar="PATH",
            help="Also check the checkpoints in this copy kept outside the database (the "
            "CRIER_AUDIT_CHECKPOINT_FILE, or log lines of logger crier.audit). Repeatable.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        extra = []
        for path in options["checkpoint_file"]:
            try:
                extra.extend((checkpoint, path) for checkpoint in read_checkpoint_file(path))
            except (OSError, ValueError) as exc:
                message = _("cannot read checkpoint file: %(error)s") % {"error": exc}
                raise CommandError(message, returncode=2) from exc
        result = audit_verify(extra_checkpoints=extra)
        findings = _findings(result)
        if findings:
            for _status, text in findings[1:]:
                self.stderr.write(text)
            status, text = findings[0]
            raise CommandError(text, returncode=min(status for status, _text in findings))
        self.stdout.write(self.style.SUCCESS(
            _("audit trail intact: %(count)d events verified") % {"count": result.checked}
        ))
        self.stdout.write(_(
            "%(legacy)d legacy (unkeyed) events before the keyed ones; keys that signed events: %(keys)s"
        ) % {"legacy": result.legacy, "keys": ", ".join(result.key_ids) or "-"})
        if result.newest_checkpoint_count is None:
            self.stdout.write(_(
                "no checkpoint yet: deleting the newest events would not be detected "
                "(write one with `manage.py audit_checkpoint`)"
            ))
            return
        after = result.checked - result.newest_checkpoint_count
        self.stdout.write(ngettext(
            "%(count)d checkpoint matches; %(after)d events were appended after the newest one and are "
            "covered by the next checkpoint, not yet by one",
            "%(count)d checkpoints match; %(after)d events were appended after the newest one and are "
            "covered by the next checkpoint, not yet by one",
            result.checkpoints,
        ) % {"count": result.checkpoints, "after": after})
