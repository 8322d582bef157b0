"""The fifth provider's options come from the schema in its module alone
(``KestrelProvider.option_schema``): the checks, the OpenAPI component and the campaign
form's section, with no edit elsewhere."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from providers.base import Message
from providers.options import check

pytestmark = pytest.mark.django_db


def test_the_schema_checks_its_options(kestrel):
    message = Message(
        template_ref="KT-1234", language="en", parameters={}, options={"ttl": 5, "sound": "loud", "x": 1}
    )

    errors = check(kestrel, message, {}).errors

    assert errors == {
        "provider_options.ttl": ["ttl 5 must be 60 to 86400 seconds"],
        "provider_options.sound": ["sound 'loud' is not one of default, silent"],
        "provider_options.x": ["'x' is not a Kestrel option; known: ttl, sound"],
    }
    good = Message(template_ref="KT-1234", language="en", parameters={}, options={"ttl": 600})
    assert check(kestrel, good, {}).values == {"ttl": 600}


def test_the_api_schema_documents_its_options(kestrel, client):
    document = client.get("/api/schema/", {"format": "json"}).json()
    components = document["components"]["schemas"]

    field = components["CampaignInput"]["properties"]["provider_options"]
    assert {"$ref": "#/components/schemas/KestrelOptions"} in field["anyOf"]
    assert "`kestrel`: KestrelOptions" in field["description"]
    ttl = components["KestrelOptions"]["properties"]["ttl"]
    assert (ttl["minimum"], ttl["maximum"]) == (60, 86400)


def test_the_campaign_form_draws_its_section(kestrel, marketer):
    browser = Client()
    browser.force_login(marketer)
    html = browser.get(reverse("admin:campaigns_campaign_add")).content.decode()

    config = json.loads(
        html.split('id="provider-options-config" type="application/json">')[1].split("</script>")[0]
    )
    rows = {row["name"]: row for row in config["schemas"][kestrel]}
    assert rows["ttl"]["kind"] == "integer" and (rows["ttl"]["min"], rows["ttl"]["max"]) == (60, 86400)
    assert rows["sound"]["choices"] == [["default", "default"], ["silent", "silent"]]
