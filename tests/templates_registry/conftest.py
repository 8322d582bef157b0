"""Fixtures of the templates registry tests."""

from __future__ import annotations

import pytest

from templates_registry.services import template_create

REFS = {
    "binance": "1344001",
    "alipayplus": "TP_58000000010001",
    "mpaas": "welcome_bonus",
    "jiguang": "100231",
}

THREE_LANGUAGES = [
    {
        "language": "en",
        "title": "Welcome, ${first_name}!",
        "body": "Claim your ${amount} bonus by ${deadline}.",
    },
    {
        "language": "zh-CN",
        "title": "欢迎，${first_name}！",
        "body": "请在${deadline}前领取您的${amount}奖励。",
    },
    {
        "language": "es",
        "title": "¡Bienvenido, ${first_name}!",
        "body": "Reclama tu bono de ${amount} antes del ${deadline}.",
    },
]

PARAMETERS = {"first_name": "Ana", "amount": "50 USDT", "deadline": "2026-12-31"}


@pytest.fixture
def make_template():
    """Return a factory of templates (three languages, all four providers unless told)."""

    def make(key: str = "welcome-bonus", **overrides):
        arguments = {
            "key": key,
            "description": "Greets new users with their bonus.",
            "default_language": "en",
            "variants": THREE_LANGUAGES,
            "provider_refs": REFS,
            "status": "active",
        }
        arguments.update(overrides)
        return template_create(**arguments)

    return make


@pytest.fixture
def welcome(db, make_template):
    return make_template()


@pytest.fixture
def make_campaign(db, marketer):
    """Return a factory of campaigns pinned to a version (built directly: campaigns is not ours)."""
    from campaigns.models import Audience, Campaign
    from providers.models import ProviderAccount

    def make(version, name: str = "launch"):
        account, _ = ProviderAccount.objects.get_or_create(
            name="binance-test",
            defaults={"kind": "binance", "base_url": "http://127.0.0.1:9", "sandbox": True},
        )
        audience, _ = Audience.objects.get_or_create(name="everyone", defaults={"kind": "all"})
        return Campaign.objects.create(
            name=name,
            template=version.template,
            template_version=version,
            provider_account=account,
            audience=audience,
            parameters=PARAMETERS,
            created_by=marketer,
        )

    return make
