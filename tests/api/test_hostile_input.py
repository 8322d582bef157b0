"""Hostile input through every write endpoint of the API and the provider callback: a lone
surrogate, a NUL and nesting 100,000 deep are a 4xx naming the rule, nothing is stored, and
every list still answers 200 afterwards (issue #15, item 1; config/parsers.py)."""

from __future__ import annotations

import time

import pytest

from campaigns.models import Audience, AudienceMember, Campaign, Recipient
from providers.models import ProviderAccount
from templates_registry.models import MessageTemplate
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db

SURROGATE = '"\\ud800"'
NUL = '"x\\u0000y"'
DEEP = "[" * 100_000 + "]" * 100_000
LISTS = [
    "/api/v1/campaigns/",
    "/api/v1/templates/",
    "/api/v1/recipients/",
    "/api/v1/audiences/",
    "/api/v1/provider-accounts/",
]


def bodies(world) -> list[tuple[str, str, str]]:
    """(method, url, body with {X} where the hostile value goes) for every write endpoint."""
    ids = world.ids
    campaign, template, account = ids["campaigns"][0], ids["templates"][0], ids["provider-accounts"][1]
    audience, recipient = ids["audiences"][0], ids["recipients"][0]
    return [
        (
            "post",
            "/api/v1/campaigns/",
            f'{{"name": "c", "template": {template}, "provider_account": {account}, "audience": {audience},'
            ' "language": "en", "parameters": {{X}: "v"}, "schedule": {"kind": "now"}}',
        ),
        (
            "post",
            "/api/v1/campaigns/",
            f'{{"name": "c", "template": {template}, "provider_account": {account}, "audience": {audience},'
            ' "language": "en", "provider_options": {"k": {X}}, "schedule": {"kind": "now"}}',
        ),
        ("patch", f"/api/v1/campaigns/{campaign}/", '{"parameters": {"name": {X}}}'),
        (
            "post",
            "/api/v1/templates/",
            '{"key": "hostile", "variants": [{"language": "en", "title": {X}, "body": "b"}]}',
        ),
        ("patch", f"/api/v1/templates/{template}/", '{"description": {X}}'),
        ("post", "/api/v1/recipients/", '{"external_id": "h1", "language": "en", "tags": [{X}]}'),
        ("patch", f"/api/v1/recipients/{recipient}/", '{"tags": [{X}]}'),
        ("post", "/api/v1/recipients/bulk/", '[{"external_id": "h2", "language": "en", "tags": [{X}]}]'),
        ("post", "/api/v1/audiences/", '{"name": "h", "kind": "segment", "segment": {X}}'),
        ("patch", f"/api/v1/audiences/{audience}/", '{"name": {X}}'),
        ("post", f"/api/v1/audiences/{audience}/members/", "[{X}]"),
        (
            "post",
            "/api/v1/provider-accounts/",
            '{"name": "h", "kind": "jiguang", "base_url": "https://ums.jpush.cn", "settings": {"k": {X}}}',
        ),
        ("patch", f"/api/v1/provider-accounts/{account}/", '{"settings": {{X}: 1}}'),
    ]


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Campaign, MessageTemplate, Recipient, Audience, AudienceMember, ProviderAccount)
    }


def fingerprint() -> list:
    """What a hostile PATCH could have changed."""
    return [
        list(Campaign.objects.order_by("pk").values_list("parameters", "provider_options")),
        list(MessageTemplate.objects.order_by("pk").values_list("description", flat=True)),
        list(Recipient.objects.order_by("pk").values_list("tags", flat=True)),
        list(Audience.objects.order_by("pk").values_list("name", "segment")),
        list(ProviderAccount.objects.order_by("pk").values_list("settings", flat=True)),
    ]


@pytest.mark.parametrize("hostile", [SURROGATE, NUL, DEEP], ids=["surrogate", "nul", "deep"])
def test_every_write_endpoint_refuses_hostile_json_and_stores_nothing(world, superuser, hostile):
    client = token_client(superuser)
    before, shape = counts(), fingerprint()

    for method, url, template in bodies(world):
        started = time.monotonic()
        answer = getattr(client, method)(
            url, data=template.replace("{X}", hostile), content_type="application/json"
        )
        assert 400 <= answer.status_code < 500, (method, url, answer.status_code, answer.content[:300])
        assert time.monotonic() - started < 5, (method, url)
        assert counts() == before and fingerprint() == shape, (method, url)

    for url in LISTS:
        assert client.get(url).status_code == 200, url
    for campaign in world.ids["campaigns"]:
        assert client.get(f"/api/v1/campaigns/{campaign}/").status_code == 200


def test_the_refusal_names_the_rule_and_the_json_path(superuser):
    client = token_client(superuser)

    surrogate = client.post(
        "/api/v1/campaigns/", data='{"parameters": {"\\ud800": "v"}}', content_type="application/json"
    )
    nul = client.post(
        "/api/v1/recipients/", data='{"tags": ["a", "x\\u0000"]}', content_type="application/json"
    )
    deep = client.post("/api/v1/audiences/", data=DEEP, content_type="application/json")

    assert surrogate.status_code == nul.status_code == deep.status_code == 400
    assert (
        'parameters."\\ud800": a lone surrogate ("\\ud800") is not valid Unicode text'
        in surrogate.json()["detail"]
    )
    assert "tags[1]: the NUL character (\\u0000) is not allowed in text" in nul.json()["detail"]
    assert "nested deeper than 64 levels" in deep.json()["detail"]


def test_valid_unicode_beyond_the_basic_plane_is_kept(superuser):
    client = token_client(superuser)

    answer = client.post(
        "/api/v1/templates/",
        data='{"key": "emoji", "variants": [{"language": "en", "title": "\\ud83d\\ude00", "body": "b"}]}',
        content_type="application/json",
    )

    assert answer.status_code == 201, answer.content
    assert MessageTemplate.objects.get(key="emoji").variants.get().title == "\U0001f600"
