"""Plain factories for review and campaign-service tests (shared by tests/campaigns too)."""

from __future__ import annotations

from typing import Any

from campaigns.models import Audience, AudienceMember, Campaign
from campaigns.services import campaign_create
from providers.models import ProviderAccount
from templates_registry.models import MessageTemplate
from templates_registry.services import template_create


def make_template(key: str = "spring-sale") -> MessageTemplate:
    """Create an active template in two languages, registered with every provider."""
    return template_create(
        key=key,
        default_language="en",
        status="active",
        variants=[
            {"language": "en", "title": "Hello ${name}", "body": "Save ${pct}% today"},
            {"language": "zh-CN", "title": "你好 ${name}", "body": "今天省 ${pct}%"},
        ],
        provider_refs={"binance": "1344001", "alipayplus": "TP_5800000001", "mpaas": "saleTemplate",
                       "jiguang": "1001"},
    )


def make_account(kind: str = "alipayplus", **fields: Any) -> ProviderAccount:
    """Create a provider account of ``kind`` (no emulator: these tests never send)."""
    return ProviderAccount.objects.create(
        name=fields.pop("name", f"{kind}-{ProviderAccount.objects.count() + 1}"),
        kind=kind,
        base_url=fields.pop("base_url", f"https://{kind}.example"),
        sandbox=fields.pop("sandbox", True),  # not a provider's host (docs/providers.md §7)
        app_id=fields.pop("app_id", "app-1"),
        **fields,
    )


def make_audience(
    kind: str = "users", *, user_ids=("u1", "u2", "u3"), suppressed=(), **fields: Any
) -> Audience:
    """Create an audience; a ``users`` audience gets ``user_ids`` and ``suppressed`` members."""
    audience = Audience.objects.create(
        name=fields.pop("name", f"audience-{Audience.objects.count() + 1}"), kind=kind, **fields
    )
    if kind == "users":
        AudienceMember.objects.bulk_create(
            [AudienceMember(audience=audience, external_id=x) for x in user_ids]
            + [AudienceMember(audience=audience, external_id=x, suppressed=True) for x in suppressed]
        )
    return audience


def make_campaign(actor, **fields: Any) -> Campaign:
    """Create a draft campaign through the service; defaults: Alipay+ to three users, now."""
    data: dict[str, Any] = {
        "name": "Spring sale",
        "language": "en",
        "parameters": {"name": "Ada", "pct": "20"},
        "test_uids": ["tester-1"],
    }
    data.update(fields)
    if "template" not in data:
        data["template"] = MessageTemplate.objects.first() or make_template()
    if "provider_account" not in data:
        data["provider_account"] = make_account("alipayplus")
    if "audience" not in data:
        data["audience"] = make_audience("users")
    return campaign_create(actor=actor, data=data)
