"""The audit events of provider account changes (``audit.services.record_event``).

Every change an operator makes to where and as whom Crier sends is on the trail: an account
created, its fields changed, enabled or disabled, its credentials replaced or re-encrypted
under a new key, deleted. Events name the fields and credentials that changed, never a
credential's value (docs/architecture.md: audit is the layer below providers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from audit.services import record_event
from providers.models import ACCOUNT_FIELDS, ProviderAccount

OBJECT_TYPE = "provider_account"


def account_state(account: ProviderAccount) -> dict[str, Any]:
    """Return the account's non-secret fields, to compare before and after a change."""
    return {name: getattr(account, name) for name in ACCOUNT_FIELDS}


def _switch(enabled: bool) -> str:
    return "enabled" if enabled else "disabled"


def record_account_change(
    *,
    account: ProviderAccount,
    actor=None,
    before: Mapping[str, Any] | None,
    credentials: Iterable[str] = (),
    reason: str = "",
) -> None:
    """Record ``account`` created (``before`` None) or changed since ``before``: one event for
    the fields, one for enabling or disabling, one for the credentials replaced (names only)."""
    after = account_state(account)
    replaced = sorted({name for name in credentials})
    common = {"object_type": OBJECT_TYPE, "object_id": account.pk, "actor": actor, "reason": reason}
    if before is None:
        data = {
            "name": account.name,
            "kind": account.kind,
            "sandbox": account.sandbox,
            "credentials": replaced,
        }
        record_event(**common, action="created", to_state=_switch(account.enabled), data=data)
        return
    changed = [name for name in ACCOUNT_FIELDS if before[name] != after[name]]
    if "enabled" in changed:
        record_event(
            **common,
            action=_switch(account.enabled),
            from_state=_switch(before["enabled"]),
            to_state=_switch(account.enabled),
        )
    fields = [name for name in changed if name != "enabled"]
    if fields:
        record_event(**common, action="updated", data={"fields": fields})
    if replaced:
        record_event(**common, action="credentials_rotated", data={"credentials": replaced})


def record_account_deleted(*, account: ProviderAccount, actor=None) -> None:
    """Record that ``account`` is deleted (call it before the row goes, in the same transaction)."""
    record_event(
        object_type=OBJECT_TYPE,
        object_id=account.pk,
        action="deleted",
        from_state=_switch(account.enabled),
        actor=actor,
        data={"name": account.name, "kind": account.kind},
    )


def record_credentials_reencrypted(*, account: ProviderAccount) -> None:
    """Record that ``account``'s credentials were re-encrypted under the newest key (same values)."""
    record_event(
        object_type=OBJECT_TYPE,
        object_id=account.pk,
        action="credentials_reencrypted",
        data={"credentials": sorted(account.credential_fields())},
    )
