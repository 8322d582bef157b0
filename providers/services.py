"""Provider account services: create, update and check accounts; the one credential rule.

The admin form, the REST API and ``manage.py check_provider`` all go through here, so a
credential is judged the same way everywhere: names come from ``credential_fields`` of
the account's provider class, required ones must be stored or given, and the provider
judges each value (``Provider.credential_problem``: Alipay+ keys must load). Messages
name the field and the rule, never the value: these are secrets.

Where an account may send is decided by ``providers/endpoints.py`` (``ProviderAccount.clean``);
here, moving an account (its ``base_url`` or kind) takes its credentials again in the same
request, and every change is an audit event (``providers/history.py``). See
docs/providers.md §7.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from audit.services import record_event
from providers import crypto
from providers import http as provider_http
from providers.answers import check_code
from providers.base import Provider, ProviderError, Result
from providers.history import account_state, record_account_change, record_account_deleted
from providers.models import ACCOUNT_FIELDS, ProviderAccount
from providers.registry import label as kind_label
from providers.registry import provider_class, provider_classes

logger = logging.getLogger("providers.check")

# Changing one of these sends the credentials somewhere else: they must be given again.
ENDPOINT_FIELDS = ("kind", "base_url")


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
            rule = _("%(name)s belongs to another kind of account, not %(label)s") % {
                "name": name, "label": label,
            }
        else:
            rule = _("%(name)s is not a credential name") % {"name": name}
        errors.setdefault(name, []).append(
            _("%(rule)s; %(label)s accounts take %(names)s.")
            % {"rule": rule, "label": label, "names": ", ".join(own)}
        )
    for name in own:
        value = values.get(name)
        if value not in (None, "") and not isinstance(value, str):
            errors.setdefault(name, []).append(_("%(name)s must be a string.") % {"name": name})
        elif value and provider is not None and (problem := provider.credential_problem(name, value)):
            errors.setdefault(name, []).append(
                _("%(name)s is %(problem)s.") % {"name": name, "problem": problem}
            )
        elif not value and not (stored or {}).get(name) and name not in optional:
            errors.setdefault(name, []).append(
                _("%(name)s is required for %(label)s accounts.") % {"name": name, "label": label}
            )
    return errors


def _raise_credential_errors(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError({"credentials": [m for messages in errors.values() for m in messages]})


def _same(field: str, old: Any, new: Any) -> bool:
    if field == "base_url":
        return str(old or "").strip().rstrip("/") == str(new or "").strip().rstrip("/")
    return old == new


def moved_without_credentials(
    *, account: ProviderAccount, changes: Mapping[str, Any], credentials: Mapping[str, Any] | None
) -> tuple[list[str], str]:
    """Return the required credentials missing from a change of ``account``'s endpoint, and the
    rule in words (([], "") when it keeps its endpoint or gives them all anew): the stored ones
    were meant for the old endpoint, and an endpoint change must not send them elsewhere."""
    moved = [f for f in ENDPOINT_FIELDS if f in changes and not _same(f, getattr(account, f), changes[f])]
    if not moved or account.pk is None:
        return [], ""
    try:
        required = provider_class(changes.get("kind", account.kind)).required_credentials()
    except KeyError:
        return [], ""
    missing = [name for name in required if not (credentials or {}).get(name)]
    if not missing:
        return [], ""
    rule = _(
        "changing %(fields)s takes the credentials again in the same request (they would be "
        "sent to the new endpoint): give %(missing)s."
    ) % {"fields": " and ".join(moved), "missing": ", ".join(missing)}
    return missing, rule


def _apply(account: ProviderAccount, data: Mapping[str, Any]) -> None:
    unknown = sorted(set(data) - set(ACCOUNT_FIELDS))
    if unknown:
        raise ValidationError(
            {name: [_("%(name)s is not a provider account field.") % {"name": name}] for name in unknown}
        )
    for field, value in data.items():
        setattr(account, field, value)


@transaction.atomic
def account_create(
    *, data: Mapping[str, Any], credentials: Mapping[str, Any] | None = None, actor=None
) -> ProviderAccount:
    """Create a provider account from its fields and credentials (required ones included)."""
    account = ProviderAccount()
    _apply(account, data)
    account.full_clean(exclude=["credentials_encrypted"])
    _raise_credential_errors(credential_errors(kind=account.kind, values=credentials or {}))
    account.set_credentials(dict(credentials or {}))
    account.save()
    given = [name for name, value in (credentials or {}).items() if value not in (None, "")]
    record_account_change(account=account, actor=actor, before=None, credentials=given)
    return account


@transaction.atomic
def account_update(
    *,
    account: ProviderAccount,
    changes: Mapping[str, Any],
    credentials: Mapping[str, Any] | None = None,
    actor=None,
) -> ProviderAccount:
    """Change an account's fields and replace the credentials given (empty ones are kept).

    An account keeps its kind: another kind's credentials would not fit it. Stored
    credentials that can no longer be decrypted must all be given again, and so must the
    required ones when the base URL changes (``moved_without_credentials``).
    """
    account = ProviderAccount.objects.select_for_update().get(pk=account.pk)
    before = account_state(account)
    if "kind" in changes and changes["kind"] != account.kind:
        raise ValidationError(
            {
                "kind": [
                    _("kind %(new)r differs from %(old)r; an account keeps its kind: create a new "
                      "account for another provider.") % {"new": changes["kind"], "old": account.kind}
                ]
            }
        )
    missing, rule = moved_without_credentials(account=account, changes=changes, credentials=credentials)
    _apply(account, changes)
    errors = {"credentials": [rule]} if missing else {}
    try:
        account.full_clean(exclude=["credentials_encrypted"])
    except ValidationError as exc:
        errors = {**exc.message_dict, **errors}
    if errors:
        raise ValidationError(errors)
    stored = stored_credentials(account)
    _raise_credential_errors(
        credential_errors(kind=account.kind, values=credentials or {}, stored=stored or {})
    )
    if credentials:
        merged = dict(stored or {})
        merged.update({k: v for k, v in credentials.items() if v not in (None, "")})
        account.credentials_encrypted = crypto.encrypt_json(merged) if merged else ""
    account.save()
    given = [name for name, value in (credentials or {}).items() if value not in (None, "")]
    record_account_change(account=account, actor=actor, before=before, credentials=given)
    return account


@transaction.atomic
def account_delete(*, account: ProviderAccount, actor=None) -> None:
    """Delete ``account`` and record it (ProtectedError while campaigns use it: nothing changes)."""
    record_account_deleted(account=account, actor=actor)
    account.delete()


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
    sentence never contains a secret, nor any text of the answer (providers/answers.py), and
    an account whose endpoint is refused (providers/endpoints.py) sends nothing.
    """
    refused = account.endpoint_refusal()
    if refused is not None:
        return False, _("nothing sent: %(rule)s") % {"rule": refused.message}
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
    with provider_http.client(timeout=account.timeout_seconds) as client:
        try:
            response = client.send(request)
        except httpx.HTTPError as exc:
            result: Result = provider.transport_error(exc)
        else:
            result = provider.parse_response(response)
    logger.debug(
        "account %r answered %s %s (%s)",
        account.name,
        result.http_status,
        check_code(result.code),
        result.outcome,
    )
    return provider.check_outcome(result)
