"""Provider account services: create, update and check accounts; the one credential rule.

The admin form, the REST API and ``manage.py check_provider`` all go through here, so a
credential is judged the same way everywhere: names come from ``credential_fields`` of
the account's provider class, required ones must be stored or given, and the provider
judges each value (``Provider.credential_problem``: Alipay+ keys must load). Messages
name the field and the rule, never the value: these are secrets.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import record_event
from providers import crypto
from providers.base import Provider, ProviderError, Result
from providers.models import ProviderAccount
from providers.registry import label as kind_label
from providers.registry import provider_class, provider_classes

logger = logging.getLogger("providers.check")

# Account fields the services accept (credentials are passed apart, never as a field).
ACCOUNT_FIELDS = (
    "name",
    "kind",
    "base_url",
    "app_id",
    "settings",
    "rate_limit",
    "max_concurrency",
    "max_attempts",
    "timeout_seconds",
    "enabled",
)


def stored_credentials(account: ProviderAccount) -> dict[str, str] | None:
    """Return the stored credentials, {} when none, None when they cannot be decrypted."""
    try:
        return account.get_credentials() if account.credentials_encrypted else {}
    except crypto.CredentialsUnreadable:
        return None


def credential_errors(
    *, kind: str, values: Mapping[str, Any], stored: Mapping[str, str] | None = None
) -> dict[str, list[str]]:
    """Return what is wrong with ``values`` as credentials of a ``kind`` account, by name.

    ``values`` are the credentials being given (an empty value keeps the stored one);
    ``stored`` those already saved. A name the kind does not use is refused, a required
    one must be given or stored, a key must load. Messages never contain a value.
    """
    errors: dict[str, list[str]] = {}
    try:
        provider: type[Provider] | None = provider_class(kind)
    except KeyError:
        provider = None
    own = provider.credential_fields if provider else ()
    optional = provider.optional_credentials if provider else frozenset()
    label = kind_label(kind)
    every = {name for cls in provider_classes() for name in cls.credential_fields}
    for name, value in values.items():
        if name in own or value in (None, ""):
            continue
        if name in every:
            rule = f"{name} belongs to another kind of account, not {label}"
        else:
            rule = f"{name} is not a credential name"
        errors.setdefault(name, []).append(f"{rule}; {label} accounts take {', '.join(own)}.")
    for name in own:
        value = values.get(name)
        if value not in (None, "") and not isinstance(value, str):
            errors.setdefault(name, []).append(f"{name} must be a string.")
        elif value and provider is not None and (problem := provider.credential_problem(name, value)):
            errors.setdefault(name, []).append(f"{name} is {problem}.")
        elif not value and not (stored or {}).get(name) and name not in optional:
            errors.setdefault(name, []).append(f"{name} is required for {label} accounts.")
    return errors


def _raise_credential_errors(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError({"credentials": [m for messages in errors.values() for m in messages]})


def _apply(account: ProviderAccount, data: Mapping[str, Any]) -> None:
    unknown = sorted(set(data) - set(ACCOUNT_FIELDS))
    if unknown:
        raise ValidationError({name: [f"{name} is not a provider account field."] for name in unknown})
    for field, value in data.items():
        setattr(account, field, value)


@transaction.atomic
def account_create(
    *, data: Mapping[str, Any], credentials: Mapping[str, Any] | None = None
) -> ProviderAccount:
    """Create a provider account from its fields and credentials (required ones included)."""
    account = ProviderAccount()
    _apply(account, data)
    account.full_clean(exclude=["credentials_encrypted"])
    _raise_credential_errors(credential_errors(kind=account.kind, values=credentials or {}))
    account.set_credentials(dict(credentials or {}))
    account.save()
    return account


@transaction.atomic
def account_update(
    *,
    account: ProviderAccount,
    changes: Mapping[str, Any],
    credentials: Mapping[str, Any] | None = None,
) -> ProviderAccount:
    """Change an account's fields and replace the credentials given (empty ones are kept).

    An account keeps its kind: another kind's credentials would not fit it. Stored
    credentials that can no longer be decrypted must all be given again.
    """
    account = ProviderAccount.objects.select_for_update().get(pk=account.pk)
    if "kind" in changes and changes["kind"] != account.kind:
        raise ValidationError(
            {
                "kind": [
                    f"kind {changes['kind']!r} differs from {account.kind!r}; an account keeps its "
                    "kind: create a new account for another provider."
                ]
            }
        )
    _apply(account, changes)
    account.full_clean(exclude=["credentials_encrypted"])
    stored = stored_credentials(account)
    _raise_credential_errors(
        credential_errors(kind=account.kind, values=credentials or {}, stored=stored or {})
    )
    if credentials:
        merged = dict(stored or {})
        merged.update({k: v for k, v in credentials.items() if v not in (None, "")})
        account.credentials_encrypted = crypto.encrypt_json(merged) if merged else ""
    account.save()
    return account


def account_check(*, account: ProviderAccount) -> tuple[bool, str]:
    """Check the account (:func:`_account_check`); a failing check is recorded in the audit
    trail (the sentence only, never a secret), from which operators are told."""
    ok, why = _account_check(account=account)
    if not ok:
        record_event(
            object_type="provider_account", object_id=account.pk, action="check_failed",
            to_state="failing", reason=why, data={"name": account.name, "kind": account.kind},
        )
    return ok, why


def _account_check(*, account: ProviderAccount) -> tuple[bool, str]:
    """Send the provider's harmless check request; return whether the account works and why.

    A business answer (even a refusal of the dummy values) proves authentication; an auth
    error, no answer, a wrong path or an answer that fails verification does not. The
    sentence never contains a secret.
    """
    try:
        credentials = account.get_credentials()
    except crypto.CredentialsUnreadable as exc:
        return False, str(exc)
    try:
        module = provider_class(account.kind)
    except (KeyError, ImportError) as exc:
        return False, f"no provider module for kind {account.kind!r}: {exc}"
    missing = [name for name in module.required_credentials() if not credentials.get(name)]
    if missing:
        return False, f"credentials not set: {', '.join(missing)}"
    try:
        provider = module(account.provider_config(with_credentials=True))
        request = provider.check_request()
    except ProviderError as exc:
        field = f" ({exc.field})" if exc.field else ""
        return False, f"configuration{field}: {exc}"
    except NotImplementedError:
        return False, f"the {account.kind} provider module has no check request"
    except (ValueError, TypeError, httpx.InvalidURL) as exc:
        # Settings of the wrong type or a base URL httpx cannot use: say so, do not crash.
        return False, f"configuration: {type(exc).__name__}: {exc}"
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
