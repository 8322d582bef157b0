"""The campaign admin form's provider options: the per-provider schema the section is drawn
from, a blank form without ``null``, and the submit-time rules shown when the form is saved."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from campaigns.models import Campaign
from tests.approvals.factories import make_account, make_audience, make_template

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form(template, account, audience, **overrides) -> dict:
    data = {
        "name": "Autumn sale",
        "template": template.pk,
        "provider_account": account.pk,
        "audience": audience.pk,
        "language": "en",
        "parameters__name": "Ada",
        "parameters__pct": "30",
        "parameters-present": "1",
        "path": "",
        "provider_options": "{}",
        "priority": "2",
        "expired_seconds": "86400",
        "test_uids": "",
        "schedule_kind": "now",
        "cron": "",
        "timezone": "UTC",
        "_save": "Save",
    }
    data.update(overrides)
    return data


def test_the_form_lists_each_providers_options_for_the_script(marketer):
    template = make_template()
    page = browser(marketer).get(f"{reverse('admin:campaigns_campaign_add')}?template={template.pk}")
    html = page.content.decode()

    assert "campaigns/provider_options.js" in html
    config = json.loads(
        html.split('id="provider-options-config" type="application/json">')[1].split("</script>")[0]
    )
    assert set(config["schemas"]) == {"binance", "alipayplus", "mpaas", "jiguang"}
    assert any(row["name"] == "PushStatus" and row["kind"] == "choice" for row in config["schemas"]["mpaas"])


def test_a_blank_form_shows_empty_options_never_null(marketer):
    page = browser(marketer).get(reverse("admin:campaigns_campaign_add"))
    html = page.content.decode()

    area = html.split('name="provider_options"')[1].split("</textarea>")[0]
    assert area.split(">", 1)[1].strip() == ""
    assert "null" not in area


def test_saving_shows_option_errors_on_the_field_and_saves_nothing(marketer):
    template = make_template()
    account = make_account("mpaas", settings={"workspace_id": "ws", "delivery_type": 1})
    data = form(template, account, make_audience("all"), provider_options='{"PushStatus": 0, "Silent": "x"}')

    page = browser(marketer).post(reverse("admin:campaigns_campaign_add"), data)

    html = page.content.decode()
    assert page.status_code == 200
    assert "BindPeriod: BindPeriod is required when PushStatus is 0" in html
    assert "Silent: Silent &#x27;x&#x27; must be an integer" in html
    assert not Campaign.objects.exists()


def test_valid_options_are_saved(marketer):
    template = make_template()
    account = make_account("jiguang")
    options = {"app_para": {"platform": "ios"}, "option": {"white_id": 3}}
    data = form(template, account, make_audience("users"), provider_options=json.dumps(options))

    page = browser(marketer).post(reverse("admin:campaigns_campaign_add"), data)

    assert page.status_code == 302, page.content.decode()[:2000]
    assert Campaign.objects.get().provider_options == options


def test_a_list_is_not_an_options_object(marketer):
    template = make_template()
    data = form(template, make_account("binance"), make_audience("all"), provider_options="[1]")

    page = browser(marketer).post(reverse("admin:campaigns_campaign_add"), data)

    assert "provider options must be a JSON object" in page.content.decode()
