"""Check that provider accounts authenticate and are configured, with one harmless request each.

``python manage.py check_provider "Binance demo"`` (or ``--all`` for every enabled
account) sends the provider module's ``check_request()`` — a Binance preview to the
account's test uid, an Alipay+ message to a dummy token with a fresh requestId, … — and
says whether the provider accepted the credentials. A business answer (even a refusal
of the dummy values) proves authentication; an auth error, no answer, a wrong path or
an answer that fails verification does not. Exits non-zero when any account fails.
Credentials are decrypted in this process and never printed or logged; the sentence
repeats no text of the answer, and an account whose base URL is not allowed sends nothing
(docs/providers.md §7).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from providers.models import ProviderAccount
from providers.services import account_check


def check_account(account: ProviderAccount) -> tuple[bool, str]:
    """Return whether ``account`` authenticates and is configured, and a sentence saying why."""
    return account_check(account=account)


class Command(BaseCommand):
    help = "Send one harmless signed request per provider account and report whether it authenticates."

    def add_arguments(self, parser) -> None:
        parser.add_argument("names", nargs="*", metavar="account name")
        parser.add_argument(
            "--all", dest="check_all", action="store_true", help="check every enabled account"
        )

    def handle(self, *args: Any, names: list[str], check_all: bool, **options: Any) -> None:
        if check_all:
            accounts = list(ProviderAccount.objects.filter(enabled=True).order_by("name"))
        elif names:
            accounts = list(ProviderAccount.objects.filter(name__in=names))
            unknown = sorted(set(names) - {a.name for a in accounts})
            if unknown:
                known = ", ".join(ProviderAccount.objects.order_by("name").values_list("name", flat=True))
                named = ", ".join(map(repr, unknown))
                raise CommandError(f"no provider account named {named}; known: {known or 'none'}")
        else:
            raise CommandError("name an account (check_provider 'Binance demo') or pass --all")
        failed = []
        for account in accounts:
            ok, why = check_account(account)
            line = f"{account.name} ({account.kind}, {account.base_url}): {'OK' if ok else 'FAILED'} - {why}"
            self.stdout.write(self.style.SUCCESS(line) if ok else self.style.ERROR(line))
            if not ok:
                failed.append(account.name)
        if failed:
            raise CommandError(f"{len(failed)} of {len(accounts)} account(s) failed: {', '.join(failed)}")
