"""Report rows already holding text Crier refuses today (approvals/broken_text.py)."""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.translation import gettext as _

from approvals.broken_text import crier_models, scan


class Command(BaseCommand):
    @property
    def help(self) -> str:  # translated when asked, in the active language
        return _(
            "Scan every text and JSON column of Crier's models for a lone surrogate, a NUL or "
            "JSON nested deeper than 64 levels, and print model, primary key, field and JSON "
            "path of each. Read only: repair each row through the admin or the API. Exits with "
            "status 1 when anything is found."
        )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help=_("the database to scan"))

    def handle(self, *args, database: str, **options) -> None:
        count = 0
        for finding in scan(crier_models(apps), connections[database]):
            count += 1
            self.stdout.write(str(finding))
        if count:
            raise CommandError(
                _("%(count)s value(s) hold text Crier refuses; repair them through the admin or the API")
                % {"count": count}
            )
        self.stdout.write(_("no broken text found"))
