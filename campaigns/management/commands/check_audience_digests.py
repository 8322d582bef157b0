"""Recompute every audience's membership digest from its rows and report any drift.

The digests are kept by database triggers (``campaigns.audiences.digest``); drift means a
write bypassed them (``TRUNCATE``, a restore of one table without the other, a trigger
dropped by hand). Exit status 1 on drift. ``--repair`` stores the recomputed digests, under
the digest row's lock, and records one audit event per audience repaired: an approval that
bound the drifted digest then no longer matches, which is right, since its list is not the
one it says.

It also checks the provider kinds kept on every tag row (``campaigns.audiences.address_kinds``,
the reach count of a tag audience reads them) and, with ``--repair``, rewrites the rows that
differ from their recipient's addresses.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand
from django.db import transaction

from audit.services import record_event
from campaigns import stored_text
from campaigns.audiences.address_kinds import kinds_drift
from campaigns.audiences.digest import digest_drift, digest_lock, member_digest_recomputed
from campaigns.models import AudienceDigest, RecipientTag


class Command(BaseCommand):
    help = "Recompute audience membership digests from their rows; report (and with --repair fix) drift."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--repair", action="store_true", help="Store the recomputed digests.")

    def handle(self, *args, repair: bool = False, **options) -> None:
        drifted = 0
        for audience_id, kept, recomputed in digest_drift():
            drifted += 1
            line = (
                f"audience {audience_id}: kept {kept.count} ids {kept.hexdigest}, "
                f"rows say {recomputed.count} ids {recomputed.hexdigest}"
            )
            if not repair:
                self.stderr.write(line)
                continue
            with transaction.atomic():
                digest_lock(audience_id)
                fixed = member_digest_recomputed(audience_id)
                lanes = dict(zip(("lane0", "lane1", "lane2", "lane3"), fixed.lanes, strict=True))
                AudienceDigest.objects.filter(audience_id=audience_id).update(count=fixed.count, **lanes)
                record_event(
                    object_type="audience",
                    object_id=audience_id,
                    action="audience_digest_repaired",
                    reason=stored_text.DIGEST_DIFFERED,
                    data={"kept": kept.as_data(), "recomputed": fixed.as_data()},
                )
            self.stdout.write(f"{line}: repaired")
        self.stdout.write(f"{drifted} audiences drifted" + (" (repaired)" if repair and drifted else ""))
        stale = self._tag_kinds(repair)
        if (drifted or stale) and not repair:
            sys.exit(1)

    def _tag_kinds(self, repair: bool) -> int:
        """Report (and repair) tag rows whose provider kinds are not their recipient's."""
        stale = 0
        for pk, stored, expected in kinds_drift():
            stale += 1
            line = f"recipient tag {pk}: kept address kinds {stored!r}, the addresses say {expected!r}"
            if repair:
                RecipientTag.objects.filter(pk=pk).update(address_kinds=expected)
            else:
                self.stderr.write(line)
        repaired = " (repaired)" if repair and stale else ""
        self.stdout.write(f"{stale} tag rows with stale address kinds{repaired}")
        return stale
