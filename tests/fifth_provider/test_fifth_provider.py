"""A fifth provider, added with no edit outside its module and emulator: an account is
created and checked, templates name it, and a campaign is validated, previewed, approved,
planned and sent over real HTTP to its emulator, each user exactly once."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from approvals.services import campaign_approve, campaign_submit
from campaigns.models import CampaignStatus, DispatchStatus
from campaigns.previews import campaign_preview
from campaigns.sending.run import dispatch_run
from campaigns.sending.ticker import dispatcher_tick
from campaigns.services import campaign_edit
from providers.emulators import emulator_class
from providers.registry import PROVIDERS, kind_choices, provider_class
from providers.services import account_check, account_create
from templates_registry.references import clean_provider_refs
from templates_registry.services import template_create
from tests.approvals.factories import make_campaign
from tests.campaigns.conftest import make_audience, make_recipients
from tests.fifth_provider.emulator import KestrelEmulator
from tests.fifth_provider.provider import KestrelProvider
from tests.providers.conftest import start_emulator  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

API_KEY, API_SECRET = "kestrel-key", "kestrel-secret-0123456789"


@pytest.fixture
def account(kestrel, start_emulator):  # noqa: F811
    server = start_emulator(kestrel, {API_KEY: API_SECRET})
    created = account_create(
        data={"name": "Kestrel", "kind": kestrel, "base_url": server.url,
              "sandbox": True, "rate_limit": 1000},
        credentials={"api_key": API_KEY, "api_secret": API_SECRET},
    )
    return created, server


@pytest.fixture
def kestrel_template(kestrel):
    return template_create(
        key="kestrel-promo",
        default_language="en",
        status="active",
        variants=[{"language": "en", "title": "Hello ${name}", "body": "Your bonus: ${bonus}"}],
        provider_refs={kestrel: "KT-20240"},
    )


def test_it_is_registered_only_by_the_fixture(kestrel):
    assert kestrel in PROVIDERS and (kestrel, "Kestrel push") in kind_choices()
    assert provider_class(kestrel) is KestrelProvider
    assert emulator_class(kestrel) is KestrelEmulator


def test_the_fifth_kind_is_gone_after_its_test():
    assert "kestrel" not in PROVIDERS


def test_an_account_takes_the_credentials_its_class_declares(kestrel, account):
    with pytest.raises(ValidationError) as missing:
        account_create(
            data={"name": "Kestrel 2", "kind": kestrel, "base_url": "https://api.kestrel.example"},
            credentials={"api_key": "only-the-key"},
        )
    assert "api_secret is required for Kestrel push accounts." in missing.value.messages
    with pytest.raises(ValidationError) as foreign:
        account_create(
            data={"name": "Kestrel 3", "kind": kestrel, "base_url": "https://api.kestrel.example"},
            credentials={"api_key": "k", "api_secret": "s", "channel_key": "x"},
        )
    assert "channel_key belongs to another kind of account" in foreign.value.messages[0]

    created, _server = account
    assert created.credential_status() == {"api_key": True, "api_secret": True}
    assert account_check(account=created)[0] is False  # the dummy check template is refused…
    assert KestrelProvider.base_url_help().endswith("e.g. https://api.kestrel.example.")


def test_a_template_reference_of_its_format_is_accepted_and_a_bad_one_refused(kestrel):
    assert clean_provider_refs({kestrel: " KT-1234 "}) == {kestrel: "KT-1234"}
    with pytest.raises(ValidationError) as refused:
        clean_provider_refs({kestrel: "1234"})
    assert refused.value.message_dict["provider_refs"] == [
        f"{kestrel}: the Kestrel template '1234' must be KT- followed by 4 to 8 digits"
    ]


def test_a_campaign_is_validated_previewed_approved_and_sent_to_each_user_once(
    account, kestrel_template, marketer, reviewer
):
    created, server = account
    users = make_recipients(5, prefix="k", kind=created.kind)
    campaign = make_campaign(
        marketer,
        template=kestrel_template,
        provider_account=created,
        audience=make_audience("users", user_ids=users),
        parameters={"name": "Ada", "bonus": "10 USDT"},
        test_uids=["tester-1", "tester-2"],
    )

    # Its options are checked on every write, by its own schema, naming each path.
    with pytest.raises(ValidationError) as refused:
        bad = {"provider_options": {"ttl": 5, "sound": "loud"}}
        campaign_edit(campaign=campaign, actor=marketer, changes=bad)
    assert set(refused.value.message_dict) >= {"provider_options.ttl", "provider_options.sound"}
    assert "ttl 5 must be 60 to 86400 seconds" in refused.value.message_dict["provider_options.ttl"]

    campaign_edit(campaign=campaign, actor=marketer, changes={"provider_options": {"ttl": 600}})
    preview = campaign_preview(campaign=campaign, actor=marketer)
    assert dispatch_run(preview.pk) == DispatchStatus.SENT
    assert server.app.accepted[-1].targets == ("tester-1", "tester-2")
    assert server.app.accepted[-1].payload["preview"] is True

    campaign_submit(campaign=campaign, actor=marketer)
    campaign_approve(campaign=campaign, actor=reviewer)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.APPROVED

    [dispatch_id] = dispatcher_tick()
    while (status := dispatch_run(dispatch_id)) == "continue":
        pass
    assert status == DispatchStatus.SENT

    sends = [a for a in server.app.accepted if not a.payload["preview"]]
    assert len(sends) == 3  # five users, two per request
    assert server.app.counts_by_target() == {**{f"tok_{u}": 1 for u in users}, "tester-1": 1, "tester-2": 1}
    assert {a.payload["ttl"] for a in sends} == {600}
    assert {a.payload["template"] for a in sends} == {"KT-20240"}
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT
