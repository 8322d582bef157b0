"""Each provider's options declared once as a schema (``Provider.option_schema``): the API
names every refused option by its path with the schema's words, /api/schema/ documents each
kind's options as a component, and the admin form section is drawn from the same fields."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from campaigns.models import Campaign
from providers.option_fields import describe
from providers.registry import provider_class, provider_classes
from tests.approvals.factories import make_account, make_audience, make_template

pytestmark = pytest.mark.django_db

SETTINGS = {"mpaas": {"workspace_id": "ws", "delivery_type": 1}}


@pytest.mark.parametrize(
    ("kind", "options", "path", "words"),
    [
        ("binance", {"preview": "yes"}, "provider_options.preview", "preview 'yes' must be true or false"),
        (
            "binance",
            {"preview": True, "experienceUids": ["a", "b", "c", "d", "e", "f"]},
            "provider_options.experienceUids",
            "experienceUids has 6 items; Binance takes at most 5",
        ),
        (
            "alipayplus",
            {"channel": "FAX"},
            "provider_options.channel",
            "channel 'FAX' is not one of PUSH, INBOX, SMS",
        ),
        (
            "alipayplus",
            {"extendInfo": 7},
            "provider_options.extendInfo",
            "extendInfo 7 must be a string or an object",
        ),
        (
            "mpaas",
            {"PushStatus": 0, "BindPeriod": 5},
            "provider_options.BindPeriod",
            "BindPeriod 5 must be 1 (7 days), 2 (15 days), 3 (60 days) or 4 (permanent)",
        ),
        (
            "mpaas",
            {"DeliveryType": [1, 9]},
            "provider_options.DeliveryType",
            "DeliveryType 9 is not valid; mPaaS takes 1 (Android), 2 (iOS) or 7 (HarmonyOS), "
            "or a list of them",
        ),
        (
            "jiguang",
            {"app_para": {"platform": "ios", "time_to_live": -1}},
            "provider_options.app_para.time_to_live",
            "time_to_live -1 must be 0 to 864000 seconds",
        ),
        (
            "jiguang",
            {"app_para": {"platform": "ios"}, "callback": {"colour": "red"}},
            "provider_options.callback.colour",
            "'colour' is not a callback field; known: url, params",
        ),
    ],
)
def test_the_api_names_each_refused_option_by_its_path(marketer, kind, options, path, words):
    """Refused when the campaign is written, as the admin refuses it on save (one validation
    path, issue 16), with nothing stored."""
    client = APIClient()
    client.force_authenticate(marketer)
    answer = client.post(
        "/api/v1/campaigns/",
        {
            "name": "Options",
            "template": make_template().pk,
            "provider_account": make_account(kind, settings=SETTINGS.get(kind, {})).pk,
            "audience": make_audience("all").pk,
            "parameters": {"name": "Ada", "pct": "5"},
            "provider_options": options,
        },
        format="json",
    )

    assert answer.status_code == 400, answer.json()
    assert answer.json()[path] == [words], answer.json()
    assert not Campaign.objects.exists()


def test_the_openapi_schema_documents_each_kinds_options(client):
    schema = client.get("/api/schema/", {"format": "json"}, HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    document = schema.json()
    components = document["components"]["schemas"]

    field = components["CampaignInput"]["properties"]["provider_options"]
    refs = {ref["$ref"].rsplit("/", 1)[1] for ref in field["anyOf"]}
    assert refs >= {"BinanceOptions", "AlipayPlusOptions", "MpaasOptions", "JiguangOptions"}
    for cls in provider_classes():
        if cls.option_schema is not None:
            assert f"`{cls.kind}`" in field["description"]
    mpaas = components["MpaasOptions"]["properties"]
    assert mpaas["PushStatus"]["title"] == "Devices"
    assert "bound users" in mpaas["PushStatus"]["description"]
    jiguang = components["JiguangOptions"]["properties"]
    assert jiguang["app_para"]["allOf"][0]["$ref"].endswith("/JiguangAppPara")
    ttl = components["JiguangAppPara"]["properties"]["time_to_live"]
    assert (ttl["minimum"], ttl["maximum"]) == (0, 864000)
    wallet = components["AlipayPlusOptions"]["properties"]["customerBelongsTo"]["oneOf"][0]["$ref"]
    assert "GCASH" in components[wallet.rsplit("/", 1)[1]]["enum"]


def test_the_form_section_comes_from_the_schema():
    rows = {row["name"]: row for row in describe(provider_class("mpaas").option_schema)}
    assert rows["PushStatus"]["kind"] == "choice"
    assert [value for value, _words in rows["PushStatus"]["choices"]] == [0, 1, 2]
    assert rows["DeliveryType"]["kind"] == "choices"
    assert rows["ExtendedParams"]["kind"] == "json"
    assert "StrategyType" not in rows  # set by Crier for native scheduling: left to the JSON editor
    jiguang = {row["name"]: row for row in describe(provider_class("jiguang").option_schema)}
    assert jiguang["app_para"]["kind"] == "group"
    nested = {row["name"]: row for row in jiguang["app_para"]["fields"]}
    assert nested["apns_production"]["kind"] == "boolean"
    assert (nested["time_to_live"]["min"], nested["time_to_live"]["max"]) == (0, 864000)
    binance = {row["name"]: row for row in describe(provider_class("binance").option_schema)}
    assert binance["experienceUids"] == {
        "name": "experienceUids",
        "label": "Experience uids",
        "kind": "list",
        "help": "1 to 5 Binance uids that receive a preview-only send; one a line.",
        "max": 5,
    }
