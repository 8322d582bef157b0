"""The rendered-length cap (CRIER_MAX_RENDERED_CHARS) on a campaign's parameters is checked
when they are written, API and admin, not only on submit, with the submit's message
(templates_registry/rendering.py ``check_parameter_lengths``; campaigns/services.py)."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from campaigns.models import Campaign
from tests.approvals.factories import make_account, make_audience, make_campaign, make_template
from tests.approvals.test_admin import _form_data
from tests.hostile.common import BOUND_SECONDS, timed

pytestmark = pytest.mark.django_db

# The factory's template is "Hello ${name}" / "Save ${pct}% today" (en, zh-CN): 4000
# characters of name make the en title and body 4,000 + 6 + 2 + 12 = 4,020 > 4,000.
MESSAGE = (
    "parameter 'name': 4000 characters, used 1 time(s) in the en variant: the rendered title and "
    "body would be 4020 characters; at most 4000 are allowed"
)
LONG = "n" * 4000


@pytest.fixture
def api(marketer) -> APIClient:
    client = APIClient()
    client.force_authenticate(marketer)
    return client


@pytest.fixture
def draft(marketer) -> Campaign:
    return make_campaign(marketer)


def create_body() -> dict:
    return {
        "name": "capped",
        "template": make_template("capped").pk,
        "provider_account": make_account("alipayplus").pk,
        "audience": make_audience("users").pk,
        "language": "en",
        "parameters": {"name": LONG, "pct": "20"},
    }


def test_creating_through_the_api_over_the_cap_is_a_400_with_the_submit_message(api):
    answer, seconds = timed(lambda: api.post("/api/v1/campaigns/", create_body(), format="json"))

    assert answer.status_code == 400, answer.content[:300]
    assert answer.json() == {"parameters": [MESSAGE]}
    assert seconds < BOUND_SECONDS
    assert not Campaign.objects.filter(name="capped").exists()


def test_a_draft_holds_values_up_to_the_cap(api):
    body = create_body()
    body["parameters"] = {"name": "n" * 3980, "pct": "20"}  # 3,980 + 6 + 2 + 12: exactly 4,000 in en

    answer = api.post("/api/v1/campaigns/", body, format="json")

    assert answer.status_code == 201, answer.content[:300]


def test_editing_through_the_api_over_the_cap_is_a_400_and_keeps_the_draft(api, draft):
    answer = api.patch(
        f"/api/v1/campaigns/{draft.pk}/", {"parameters": {"name": LONG, "pct": "20"}}, format="json"
    )

    assert answer.status_code == 400
    assert answer.json() == {"parameters": [MESSAGE]}
    draft.refresh_from_db()
    assert draft.parameters == {"name": "Ada", "pct": "20"}


def test_a_huge_value_is_refused_without_building_the_message(api, draft):
    """10 MB used in two variants: refused from the lengths alone, in bounded time."""
    huge = "x" * 10_000_000
    body = json.dumps({"parameters": {"name": huge, "pct": "1"}})

    answer, seconds = timed(
        lambda: api.generic("PATCH", f"/api/v1/campaigns/{draft.pk}/", body, content_type="application/json")
    )

    assert answer.status_code in (400, 413), answer.content[:200]  # 413: over the body limit first
    assert seconds < BOUND_SECONDS


def test_the_admin_form_refuses_values_over_the_cap_on_the_parameters_field(marketer, draft):
    client = Client()
    client.force_login(marketer)
    before = Campaign.objects.count()

    answer = client.post(
        reverse("admin:campaigns_campaign_add"),
        _form_data(draft, name="capped in the admin", parameters=json.dumps({"name": LONG, "pct": "20"})),
    )

    assert answer.status_code == 200
    errors = answer.context["adminform"].form.errors
    assert MESSAGE in " ".join(errors.get("parameters", [])), errors
    assert Campaign.objects.count() == before

    answer = client.post(
        reverse("admin:campaigns_campaign_change", args=[draft.pk]),
        _form_data(draft, parameters=json.dumps({"name": LONG, "pct": "20"})),
    )
    assert answer.status_code == 200
    assert MESSAGE in " ".join(answer.context["adminform"].form.errors.get("parameters", []))
    draft.refresh_from_db()
    assert draft.parameters == {"name": "Ada", "pct": "20"}
