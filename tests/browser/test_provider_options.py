"""The campaign form's provider options section in a real browser (Chromium), per provider.

The section is drawn from the chosen account's options schema (``Provider.option_schema``):
switching the account switches the section; values set in its inputs round-trip into the
JSON the campaign stores; a refused value is shown by its input after saving. Screenshots of
each provider's section, light and dark, land in tests/screenshots/.
"""

from __future__ import annotations

import json

import pytest

from campaigns.models import Campaign
from campaigns.services import campaign_create
from providers.models import ProviderAccount
from tests.approvals.factories import make_account
from tests.browser.conftest import SCREENSHOTS
from tests.campaigns.conftest import make_audience

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

SETTINGS = {"mpaas": {"workspace_id": "ws", "delivery_type": 1}}
KINDS = ("binance", "alipayplus", "mpaas", "jiguang")


def accounts() -> dict[str, ProviderAccount]:
    return {kind: make_account(kind, name=f"{kind} demo", settings=SETTINGS.get(kind, {})) for kind in KINDS}


def draft(marketer, template, account: ProviderAccount) -> Campaign:
    return campaign_create(
        actor=marketer,
        data={
            "name": "Options in the browser",
            "template": template,
            "provider_account": account,
            "audience": make_audience("all", name="Everyone"),
            "language": "en",
            "parameters": {"name": "Ada", "bonus": "10 USDT"},
            "schedule_kind": "now",
        },
    )


def choose(tab, account: ProviderAccount) -> None:
    tab.select_option("#id_provider_account", str(account.pk))
    tab.locator(f'#provider-options-form[data-kind="{account.kind}"]').wait_for()


def shoot(tab, name: str, *, whole_form: bool = False) -> None:
    """Save the options section alone, light and dark (tests/screenshots/<name>-light|dark.png),
    and with ``whole_form`` the whole page too (<name>-form-light|dark.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    section = tab.locator(".field-provider_options")
    for scheme in ("light", "dark"):
        tab.emulate_media(color_scheme=scheme)
        section.screenshot(path=str(SCREENSHOTS / f"{name}-{scheme}.png"))
        if whole_form:
            tab.screenshot(path=str(SCREENSHOTS / f"{name}-form-{scheme}.png"), full_page=True)
    tab.emulate_media(color_scheme="light")


def save(tab) -> None:
    tab.locator("input[name=_continue]:visible").first.click()
    tab.wait_for_load_state()


def test_switching_the_account_switches_the_section(page, login, live_server, make_user, template):
    marketer = make_user("marketer", "Marketing")
    made = accounts()
    campaign = draft(marketer, template, made["binance"])
    login(page, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
    page.locator('#provider-options-form[data-kind="binance"]').wait_for()

    # A blank campaign: empty inputs, an empty and closed JSON box, never "null".
    assert page.input_value("#id_provider_options") == ""
    assert not page.locator("#provider-options-advanced").evaluate("node => node.open")
    assert page.locator("#provider-option-preview").get_attribute("type") == "checkbox"
    shoot(page, "options-binance", whole_form=True)

    page.check("#provider-option-preview")
    assert json.loads(page.input_value("#id_provider_options")) == {"preview": True}

    choose(page, made["alipayplus"])
    # Binance's preview is not an Alipay+ option: removed, and the section says so.
    assert page.input_value("#id_provider_options") == ""
    assert "were removed: preview" in page.inner_text(".provider-options-dropped")
    wallets = page.locator("#provider-option-customerBelongsTo option")
    assert wallets.count() == 11  # ten wallets and "not set"
    assert page.locator("#provider-option-experienceUids").count() == 0
    shoot(page, "options-alipayplus", whole_form=True)

    choose(page, made["mpaas"])
    devices = page.locator("#provider-option-PushStatus option").all_inner_texts()
    assert devices == ["— not set —", "0 — bound users", "1 — all users", "2 — unbound users"]
    assert page.locator("#provider-option-DeliveryType input[type=checkbox]").count() == 3
    help_text = page.inner_text('.provider-option[data-path="ExtendedParams"] .help')
    assert "at most 20 keys" in help_text
    shoot(page, "options-mpaas", whole_form=True)

    choose(page, made["jiguang"])
    assert page.inner_text('fieldset[data-path="app_para"] legend') == "App channel (app_para)"
    assert page.locator("#provider-option-app_para-time_to_live").get_attribute("max") == "864000"
    shoot(page, "options-jiguang", whole_form=True)


@pytest.mark.parametrize(
    ("kind", "fill", "expected"),
    [
        (
            "binance",
            lambda tab: (
                tab.check("#provider-option-preview"),
                tab.fill("#provider-option-experienceUids", "staff-1\nstaff-2\n"),
            ),
            {"preview": True, "experienceUids": ["staff-1", "staff-2"]},
        ),
        (
            "alipayplus",
            lambda tab: (
                tab.select_option("#provider-option-channel", label="SMS"),
                tab.select_option("#provider-option-customerBelongsTo", label="GCASH"),
                tab.fill("#provider-option-languages", "zh-CN"),
                tab.fill("#provider-option-extendInfo", '{"memo": "spring"}'),
            ),
            {
                "channel": "SMS",
                "customerBelongsTo": "GCASH",
                "languages": ["zh-CN"],
                "extendInfo": {"memo": "spring"},
            },
        ),
        (
            "mpaas",
            lambda tab: (
                tab.check("#provider-option-DeliveryType-0"),
                tab.check("#provider-option-DeliveryType-1"),
                tab.select_option("#provider-option-PushStatus", label="0 — bound users"),
                tab.select_option("#provider-option-BindPeriod", label="3 — 60 days"),
                tab.fill("#provider-option-TaskName", "Autumn push"),
            ),
            {"DeliveryType": [1, 2], "PushStatus": 0, "BindPeriod": 3, "TaskName": "Autumn push"},
        ),
        (
            "jiguang",
            lambda tab: (
                tab.check("#provider-option-app_para-platform-1"),
                tab.fill("#provider-option-app_para-time_to_live", "3600"),
                tab.check("#provider-option-app_para-apns_production"),
                tab.fill("#provider-option-option-black_id", "7"),
            ),
            {
                "app_para": {"platform": ["ios"], "time_to_live": 3600, "apns_production": True},
                "option": {"black_id": 7},
            },
        ),
    ],
)
def test_values_set_in_the_form_round_trip_into_the_saved_json(
    page, login, live_server, make_user, template, kind, fill, expected
):
    marketer = make_user("marketer", "Marketing")
    made = accounts()
    campaign = draft(marketer, template, made["binance"])
    login(page, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
    choose(page, made[kind])

    fill(page)
    assert json.loads(page.input_value("#id_provider_options")) == expected
    save(page)

    campaign.refresh_from_db()
    assert campaign.provider_account_id == made[kind].pk
    assert campaign.provider_options == expected
    # Shown again from what was stored: the section reads the saved JSON.
    page.locator(f'#provider-options-form[data-kind="{kind}"]').wait_for()
    assert json.loads(page.input_value("#id_provider_options")) == expected
    shoot(page, f"options-{kind}-saved")


@pytest.mark.parametrize(
    ("kind", "fill", "path", "message"),
    [
        (
            "jiguang",
            lambda tab: (
                tab.check("#provider-option-app_para-platform-0"),
                tab.fill("#provider-option-app_para-time_to_live", "999999"),
            ),
            "app_para.time_to_live",
            "time_to_live 999999 must be 0 to 864000 seconds",
        ),
        (
            "mpaas",
            lambda tab: tab.select_option("#provider-option-PushStatus", label="0 — bound users"),
            "BindPeriod",
            "BindPeriod is required when PushStatus is 0 (bound users)",
        ),
        (
            "binance",
            lambda tab: tab.check("#provider-option-preview"),
            "experienceUids",
            "preview: true sends only to experienceUids",
        ),
        (
            "alipayplus",
            lambda tab: tab.select_option("#provider-option-channel", label="PUSH"),
            "redirectUrl",
            "redirectUrl is required for a PUSH template",
        ),
    ],
)
def test_a_refused_value_is_shown_by_its_input(
    page, login, live_server, make_user, template, kind, fill, path, message
):
    marketer = make_user("marketer", "Marketing")
    made = accounts()
    campaign = draft(marketer, template, made["binance"])
    login(page, "marketer")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/")
    choose(page, made[kind])
    fill(page)
    save(page)

    option = page.locator(f'.provider-option[data-path="{path}"]')
    option.locator(".provider-option-errors").wait_for()
    assert message in option.locator(".provider-option-errors").inner_text()
    campaign.refresh_from_db()
    assert campaign.provider_options == {}  # nothing half-written
    shoot(page, f"options-{kind}-error")


def test_the_review_page_shows_the_options_as_a_table(page, login, live_server, make_user, template):
    from approvals.services import campaign_submit

    marketer, _reviewer = make_user("marketer", "Marketing"), make_user("reviewer", "Reviewers")
    campaign = draft(marketer, template, make_account("mpaas", name="mPaaS demo", settings=SETTINGS["mpaas"]))
    Campaign.objects.filter(pk=campaign.pk).update(
        provider_options={
            "DeliveryType": [1, 2],
            "PushStatus": 0,
            "BindPeriod": 3,
            "ExtendedParams": {"a": "1"},
        }
    )
    campaign_submit(campaign=Campaign.objects.get(pk=campaign.pk), actor=marketer)
    login(page, "reviewer")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/review/")

    table = page.locator("#review-provider-options")
    rows = {
        row.get_attribute("data-path"): row.locator("td").inner_text() for row in table.locator("tr").all()
    }
    assert rows == {
        "DeliveryType": "1 (Android), 2 (iOS)",
        "PushStatus": "0 (bound users)",
        "BindPeriod": "3 (60 days)",
        "ExtendedParams": '{"a": "1"}',
    }
    assert table.locator('tr[data-path="PushStatus"] th').inner_text() == "Devices PushStatus"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.locator("#review-provider-options").screenshot(
            path=str(SCREENSHOTS / f"options-review-{scheme}.png")
        )
    page.emulate_media(color_scheme="light")
