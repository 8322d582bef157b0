"""Provider options on campaigns: sent by the real engine with every option set (exact bodies
at the emulators), refused at submit with errors naming the field path, over the API too."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from approvals.services import campaign_approve, campaign_submit
from campaigns.models import Campaign, Delivery, DeliveryStatus, Dispatch
from campaigns.sending.run import dispatch_run
from campaigns.sending.ticker import dispatcher_tick
from campaigns.snapshot import campaign_snapshot
from tests.approvals.factories import make_account as plain_account
from tests.approvals.factories import make_campaign
from tests.campaigns import conftest as campaign_fixtures
from tests.campaigns.conftest import make_audience, make_recipients

# The send-engine fixtures of tests/campaigns (emulator-backed accounts, approved campaigns).
start_emulator = campaign_fixtures.start_emulator
make_account = campaign_fixtures.make_account
approved_campaign = campaign_fixtures.approved_campaign
template = campaign_fixtures.template

pytestmark = pytest.mark.django_db


def run_due() -> list[Dispatch]:
    created = dispatcher_tick()
    for dispatch_id in created:
        while dispatch_run(dispatch_id) == "continue":
            pass
    return list(Dispatch.objects.filter(pk__in=created))


def test_a_binance_campaign_sends_its_preview_settings(make_account, approved_campaign):
    account, server = make_account("binance", app_id="mp-app")
    approved_campaign(
        account,
        make_audience("all"),
        path="pages/promo/index",
        provider_options={"preview": True, "experienceUids": ["staff-1", "staff-2"]},
    )

    run_due()

    assert server.app.accepted[0].payload == {
        "appId": "mp-app",
        "templateId": "1344001",
        "language": "en",
        "path": "pages/promo/index",
        "parameters": [{"name": "bonus", "value": "10 USDT"}, {"name": "name", "value": "Ada"}],
        "preview": True,
        "experienceUids": ["staff-1", "staff-2"],
    }


def test_an_alipayplus_campaign_sends_every_option(make_account, approved_campaign):
    account, server = make_account("alipayplus", app_id="P0001")
    [uid] = make_recipients(1, prefix="ali")
    approved_campaign(
        account,
        make_audience("users", user_ids=[uid]),
        provider_options={
            "channel": "INBOX",
            "redirectUrl": "/pages/inbox/index",
            "extendInfo": "memo",
            "customerBelongsTo": "TNG",
            "languages": ["zh-CN", "es"],
        },
    )

    run_due()

    payload = server.app.accepted[0].payload
    assert payload == {
        "appId": "P0001",
        "accessToken": f"tok_{uid}",
        "requestId": payload["requestId"],
        "templateCode": "TP_5800000001",
        "templates": [
            {"templateParameters": {"bonus": "10 USDT", "name": "Ada"}, "language": language}
            for language in ("en", "zh-CN", "es")
        ],
        "redirectUrl": "/pages/inbox/index",
        "customerBelongsTo": "TNG",
        "extendInfo": "memo",
    }
    assert payload["requestId"] == Delivery.objects.get().idempotency_key


def test_an_mpaas_broadcast_to_three_platforms_is_one_delivery_each(make_account, approved_campaign):
    account, server = make_account("mpaas", app_id="ONEX1")
    options = {
        "DeliveryType": [1, 2, 7],
        "TaskName": "Spring",
        "PushStatus": 1,
        "UnBindPeriod": 4,
        "AndroidChannel": 1,
        "Classification": 1,
        "ThirdChannelCategory": {"hms": 9},
        "NotifyLevel": {"oppo": "2"},
        "MiChannelId": "123",
        "TransparentMessagePayload": {"hms": {"k": "v"}},
        "TransparentMessageUrgency": "NORMAL",
        "ExtendedParams": {"a": "1"},
    }
    campaign = approved_campaign(
        account, make_audience("all"), provider_options=options, expired_seconds=3600
    )

    [dispatch] = run_due()

    deliveries = list(dispatch.deliveries.order_by("batch_no"))
    assert [d.selector for d in deliveries] == [{"params": {"DeliveryType": t}} for t in (1, 2, 7)]
    assert {d.status for d in deliveries} == {DeliveryStatus.DELIVERED}
    by_key = {a.key: a.payload for a in server.app.accepted}  # sent concurrently: any order
    sent = [by_key[d.idempotency_key] for d in deliveries]
    business = {k: v for k, v in sent[0].items() if k not in COMMON}
    assert business == {
        "AppId": "ONEX1",
        "WorkspaceId": "default",
        "DeliveryType": "1",
        "TemplateName": "promoTemplate",
        "TemplateKeyValue": '{"bonus":"10 USDT","name":"Ada"}',
        "TaskName": "Spring",
        "ExpiredSeconds": "3600",
        "Msgkey": deliveries[0].idempotency_key,
        "PushStatus": "1",
        "UnBindPeriod": "4",
        "AndroidChannel": "1",
        "Classification": "1",
        "ThirdChannelCategory": '{"hms":"9"}',
        "NotifyLevel": '{"oppo":"2"}',
        "MiChannelId": "123",
        "TransparentMessagePayload": '{"hms":{"k":"v"}}',
        "TransparentMessageUrgency": "NORMAL",
        "ExtendedParams": '{"a":"1"}',
    }
    assert [p["DeliveryType"] for p in sent] == ["1", "2", "7"]
    assert len(server.app.accepted) == 3
    # The approval snapshot hashed exactly these three request bodies.
    assert [r["DeliveryType"] for r in campaign_snapshot(campaign)["requests"]] == ["1", "2", "7"]


COMMON = {
    "Action", "Version", "Format", "AccessKeyId", "SignatureMethod", "SignatureVersion", "SignatureNonce",
    "Timestamp", "RegionId", "SignatureType", "Signature",
}  # fmt: skip


def test_a_jiguang_campaign_with_api_review_names_the_approving_reviewer_as_owner(
    make_account, template, marketer, reviewer
):
    account, server = make_account("jiguang", settings={"api_review": True})
    make_recipients(2, prefix="jg", kind="jiguang")
    campaign = make_campaign(
        marketer,
        template=template,
        provider_account=account,
        audience=make_audience("users", user_ids=["jg000000", "jg000001"]),
        parameters={"name": "Ada", "bonus": "10 USDT"},
        priority=3,
        provider_options={
            "app_para": {"platform": "all", "time_to_live": 3600, "apns_production": True},
            "rule_id": 1001,
            "option": {"white_id": 12},
            "callback": {"url": "https://crier.example/callbacks/jiguang/1/", "params": {"c": 1}},
        },
    )
    campaign_submit(campaign=campaign, actor=marketer)
    campaign_approve(campaign=campaign, actor=reviewer, comment="ok")

    [dispatch] = run_due()

    assert server.app.accepted[0].payload == {
        "aud_userid": ["tok_jg000000", "tok_jg000001"],
        "template_id": 1001,
        "template_para": {"name": "Ada", "bonus": "10 USDT"},
        "app_para": {"platform": "all", "time_to_live": 3600, "apns_production": True},
        "rule_id": 1001,
        "callback": {"url": "https://crier.example/callbacks/jiguang/1/", "params": {"c": 1}},
        "option": {
            "sendno": dispatch.deliveries.get().idempotency_key,
            "priority": 3,
            "white_id": 12,
            "owner": "reviewer",
        },
    }
    # The reviewed body names the approver by placeholder (unknown at submit), all else as sent.
    [reviewed] = campaign.reviews.get().snapshot["requests"]
    assert reviewed["option"]["owner"] == "<approving reviewer>"


def test_jiguang_channel_ids_go_to_template_sent_for_the_everyone_audience(make_account, approved_campaign):
    account, server = make_account("jiguang")
    approved_campaign(account, make_audience("all"), provider_options={"aud_wechatoa": ["oMtZu6kApZYE"]})

    run_due()

    assert server.app.accepted[0].path == "/v1/template/sent"
    assert server.app.accepted[0].payload["aud_wechatoa"] == [{"data": ["oMtZu6kApZYE"]}]
    assert "aud_userid" not in server.app.accepted[0].payload


# --- refused at submit ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "audience", "options", "expected"),
    [
        (
            "mpaas",
            "all",
            {"PushStatus": 0, "TransparentMessageUrgency": "HIGH"},
            {
                "provider_options.BindPeriod": "BindPeriod is required when PushStatus is 0",
                "provider_options.TransparentMessageUrgency": "only with TransparentMessagePayload",
            },
        ),
        (
            "mpaas",
            "all",
            {"StrategyType": 1, "StrategyContent": {"fixedTime": 1}},
            {"provider_options.StrategyType": "set by Crier from the campaign's schedule"},
        ),
        (
            "jiguang",
            "users",
            {"aud_app": ["r1"], "option": {"black_id": 1, "white_id": 2}},
            {
                "provider_options.aud_app": "cannot be mixed with the users audience",
                "provider_options.option": "black_id and white_id cannot both be given",
            },
        ),
        (
            "alipayplus",
            "users",
            {"channel": "PUSH", "customerBelongsTo": "PAYPAL"},
            {
                "provider_options.redirectUrl": "redirectUrl is required for a PUSH template",
                "provider_options.customerBelongsTo": "'PAYPAL' is not one of",
            },
        ),
        (
            "binance",
            "all",
            {"preview": True},
            {"provider_options.experienceUids": "preview: true sends only to experienceUids"},
        ),
    ],
)
def test_invalid_combinations_are_refused_at_write_and_at_submit_naming_the_fields(
    marketer, kind, audience, options, expected
):
    """Refused when the campaign is written (as the admin refuses it on save: one validation
    path), and at submit for a draft stored before that check existed."""
    from tests.approvals.factories import make_audience as audience_of
    from tests.approvals.factories import make_template

    values = {
        "template": make_template(),
        "provider_account": plain_account(kind, settings={"workspace_id": "ws", "delivery_type": 1}),
        "audience": audience_of(audience),
    }
    with pytest.raises(ValidationError) as written:
        make_campaign(marketer, **values, provider_options=options)
    assert not Campaign.objects.exists()
    campaign = make_campaign(marketer, **values)
    Campaign.objects.filter(pk=campaign.pk).update(provider_options=options)  # stored before
    campaign.refresh_from_db()

    with pytest.raises(ValidationError) as refused:
        campaign_submit(campaign=campaign, actor=marketer)

    for errors in (written.value.message_dict, refused.value.message_dict):
        for field, words in expected.items():
            assert any(words in text for text in errors.get(field, [])), (field, errors)
    assert Campaign.objects.get(pk=campaign.pk).status == "draft"


def test_a_jiguang_owner_is_refused_on_a_channel_with_api_review(marketer):
    from tests.approvals.factories import make_template

    with pytest.raises(ValidationError) as refused:  # on every write, as on submit
        make_campaign(
            marketer,
            template=make_template(),
            provider_account=plain_account("jiguang", settings={"api_review": True}),
            provider_options={"option": {"owner": "someone"}},
        )
    assert (
        "filled by Crier with the approving reviewer"
        in refused.value.message_dict["provider_options.option.owner"][0]
    )


def test_the_api_answers_option_errors_as_400_field_errors(marketer):
    from tests.approvals.factories import make_audience as audience_of
    from tests.approvals.factories import make_template

    client = APIClient()
    client.force_authenticate(marketer)
    created = client.post(
        "/api/v1/campaigns/",
        {
            "name": "Push",
            "template": make_template().pk,
            "provider_account": plain_account(
                "mpaas", settings={"workspace_id": "ws", "delivery_type": 1}
            ).pk,
            "audience": audience_of("all").pk,
            "parameters": {"name": "Ada", "pct": "5"},
            "provider_options": {"PushStatus": 2, "UnBindPeriod": 9},
        },
        format="json",
    )
    answer = created  # refused on create, as the admin refuses it on save (one validation path)

    assert answer.status_code == 400
    assert not Campaign.objects.exists()
    # One message per wrong option: the schema's words for the bad value, not a second
    # "is required" about the same option (providers/options.py, "the schema").
    assert answer.json()["provider_options.UnBindPeriod"] == [
        "UnBindPeriod 9 must be 1 (7 days), 2 (15 days), 3 (60 days) or 4 (permanent)",
    ]
