"""Data for the benchmarks: accounts, a template, campaigns, and fast bulk rows.

Large tables (a million recipients, audience members or deliveries) are written with raw
bulk inserts — ``COPY`` on PostgreSQL, ``executemany`` in one transaction on SQLite —
because the benchmark measures sending and reading, not seeding; seeding time is reported
on its own line. Column values not given take the model field's default (``auto_now``
fields: now), so a column added later with a default does not break the benchmark.

Campaigns are approved the way the engine's integration tests do it: status, approved hash
and ``next_due_at`` set directly (the approval flow itself is tested in tests/approvals).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import connection, models, transaction
from django.utils import timezone

TEMPLATE_REFS = {
    "binance": "1344001",
    "alipayplus": "TP_5800000001",
    "mpaas": "promoTemplate",
    "jiguang": "1001",
}
PARAMETERS = {"name": "Ada", "bonus": "10 USDT"}


def rsa_private_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def rsa_public_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


# --- raw bulk inserts -------------------------------------------------------------------


def _db_value(field: models.Field, value: Any) -> Any:
    """Return ``value`` as this database's driver takes it (JSON as text, datetimes per vendor)."""
    if value is None:
        return None
    if isinstance(field, models.JSONField):
        return json.dumps(value, separators=(",", ":"))
    return field.get_db_prep_save(value, connection)


def bulk_insert(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    constants: dict[str, Any] | None = None,
    batch_size: int = 20000,
) -> int:
    """Insert ``rows`` (tuples of DB-ready values for ``columns``, JSON already as text) into
    ``model``'s table; every other column gets ``constants`` or the field default. Return
    how many rows were written."""
    meta = model._meta
    now = timezone.now()
    fixed: dict[str, Any] = {}
    given = set(columns)
    for field in meta.concrete_fields:
        if field.attname in given or (field.primary_key and isinstance(field, models.AutoField)):
            continue
        if constants and field.attname in constants:
            value = constants[field.attname]
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        elif field.has_default() or not field.null:
            value = field.get_default()  # "" for text columns without a default
        else:
            value = None
        if value is None and not field.null:
            raise ValueError(f"{meta.label}.{field.attname} needs a value (no default)")
        fixed[field.column] = _db_value(field, value)
    names = [meta.get_field(c).column for c in columns] + list(fixed)
    tail = tuple(fixed.values())
    quoted = ", ".join(connection.ops.quote_name(n) for n in names)
    table = connection.ops.quote_name(meta.db_table)
    written = 0
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((*row, *tail))
                    written += 1
        else:
            sql = f"INSERT INTO {table} ({quoted}) VALUES ({', '.join(['%s'] * len(names))})"
            batch: list[tuple] = []
            for row in rows:
                batch.append((*row, *tail))
                if len(batch) >= batch_size:
                    cursor.executemany(sql, batch)
                    written += len(batch)
                    batch = []
            if batch:
                cursor.executemany(sql, batch)
                written += len(batch)
    return written


def analyze() -> None:
    """Refresh planner statistics after bulk loads on PostgreSQL (autovacuum would, later)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def seed_recipients(prefix: str, count: int, *, kind: str, start: int = 0) -> int:
    """Insert ``count`` recipients ``<prefix><n>`` with an address for ``kind``."""
    from campaigns.models import Recipient

    def rows() -> Iterator[tuple]:
        for n in range(start, start + count):
            external_id = f"{prefix}{n:07d}"
            yield external_id, json.dumps({kind: f"tok_{external_id}"})

    return bulk_insert(Recipient, ["external_id", "addresses"], rows())


def seed_members(audience_id: int, prefix: str, count: int, *, start: int = 0) -> int:
    """List ``count`` ids ``<prefix><n>`` in the audience."""
    from campaigns.models import AudienceMember

    rows = ((f"{prefix}{n:07d}",) for n in range(start, start + count))
    return bulk_insert(AudienceMember, ["external_id"], rows, constants={"audience_id": audience_id})


# --- fixtures ---------------------------------------------------------------------------


def make_user(username: str, *, superuser: bool = False):
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    if superuser:
        return user_model.objects.create_superuser(username, f"{username}@example.com", "bench-password")
    return user_model.objects.create_user(username, f"{username}@example.com", "bench-password")


def make_template():
    from templates_registry.services import template_create

    return template_create(
        key="bench-promo",
        default_language="en",
        status="active",
        variants=[
            {"language": "en", "title": "Hello ${name}", "body": "Your bonus: ${bonus}"},
            {"language": "zh-CN", "title": "你好 ${name}", "body": "奖励：${bonus}"},
        ],
        provider_refs=TEMPLATE_REFS,
    )


def make_account(kind: str, base_url: str, credentials: dict[str, str], *, concurrency: int, **fields: Any):
    """Create an enabled account whose rate limit is far above what is sent (not the limit measured)."""
    from providers.models import ProviderAccount

    account = ProviderAccount(
        name=f"bench {kind}",
        kind=kind,
        base_url=base_url,
        sandbox=True,  # the emulators (docs/providers.md §7)
        app_id="benchapp1",
        rate_limit=fields.pop("rate_limit", 100000),
        max_concurrency=concurrency,
        timeout_seconds=fields.pop("timeout_seconds", 30),
        max_attempts=fields.pop("max_attempts", 5),
        **fields,
    )
    account.set_credentials(credentials)
    account.save()
    return account


def make_audience(name: str, kind: str = "users"):
    from campaigns.models import Audience

    return Audience.objects.create(name=name, kind=kind)


def make_campaign(*, name: str, template, account, audience, author, **fields: Any):
    """Create a draft campaign pinned to the template's current version."""
    from campaigns.models import Campaign
    from templates_registry.selectors import current_version

    return Campaign.objects.create(
        name=name,
        template=template,
        template_version=current_version(template),
        provider_account=account,
        audience=audience,
        language="en",
        parameters=dict(PARAMETERS),
        created_by=author,
        **fields,
    )


def approve(campaign, *, due: datetime | None = None) -> datetime:
    """Approve ``campaign`` at its current content hash, due at ``due`` (default now); return
    the moment the approval was committed."""
    from campaigns.models import Campaign, CampaignStatus
    from campaigns.sending.ticker import dispatch_due_now
    from campaigns.snapshot import campaign_hash

    approved_hash = campaign_hash(campaign)
    with transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(
            status=CampaignStatus.APPROVED,
            approved_hash=approved_hash,
            next_due_at=due or timezone.now(),
        )
    committed = timezone.now()
    if due is None:  # due now: dispatched as the approval commits, as approvals.services does
        dispatch_due_now(campaign.pk)
    return committed
