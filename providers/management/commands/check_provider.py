"""Check that provider accounts authenticate and are configured, with one harmless request each.

``python manage.py check_provider "Binance demo"`` (or ``--all`` for every enabled
account) sends the provider module's ``check_request()`` — a Binance preview to the
account's test uid, an Alipay+ message to a dummy token with a fresh requestId, … — and
says whether the provider accepted the credentials. A business answer (even a refusal
of the dummy values) proves authentication; an auth error, no answer, a wrong path or
an answer that fails verification does not. Exits non-zero when any account fails.
Credentials are decrypted in this process and never printed or logged.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from django.core.management.base import BaseCommand, CommandError

from providers.base import AccountConfig, ProviderError, Result
from providers.crypto import CredentialsUnreadable
from providers.models import CREDENTIAL_FIELDS, OPTIONAL_CREDENTIALS, ProviderAccount
from providers.registry import provider_class

logger = logging.getLogger("providers.check")


def account_config(account: ProviderAccount, credentials: dict[str, str]) -> AccountConfig:
    # The same view campaigns.messages.account_config builds; repeated here because
    # providers imports no other app.
    return AccountConfig(
        kind=account.kind,
        base_url=account.base_url.rstrip("/"),
        app_id=account.app_id,
        settings=dict(account.settings or {}),
        credentials=credentials,
        timeout=account.timeout_seconds,
    )


def check_account(account: ProviderAccount) -> tuple[bool, str]:
    """Return whether ``account`` authenticates and is configured, and a sentence saying why."""
    try:
        credentials = account.get_credentials()
    except CredentialsUnreadable as exc:
        return False, str(exc)
    required = [n for n in CREDENTIAL_FIELDS.get(account.kind, ()) if n not in OPTIONAL_CREDENTIALS]
    missing = [name for name in required if not credentials.get(name)]
    if missing:
        return False, f"credentials not set: {', '.join(missing)}"
    try:
        provider = provider_class(account.kind)(account_config(account, credentials))
    except (KeyError, ImportError) as exc:
        return False, f"no provider module for kind {account.kind!r}: {exc}"
    try:
        request = provider.check_request()
    except ProviderError as exc:
        field = f" ({exc.field})" if exc.field else ""
        return False, f"configuration{field}: {exc}"
    except NotImplementedError:
        return False, f"the {account.kind} provider module has no check request"
    # Scheme, host and path only: some providers put key ids in the query string.
    where = request.url.copy_with(query=None)
    logger.debug("checking account %r: %s %s", account.name, request.method, where)
    with httpx.Client(timeout=account.timeout_seconds) as client:
        try:
            response = client.send(request)
        except httpx.HTTPError as exc:
            result: Result = provider.transport_error(exc)
        else:
            result = provider.parse_response(response)
    logger.debug(
        "account %r answered %s %s (%s)", account.name, result.http_status, result.code, result.outcome
    )
    return provider.check_outcome(result)


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
