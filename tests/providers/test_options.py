"""Provider options: every documented parameter reaches the wire with its documented name and
type (asserted on the exact body each emulator accepted), and each broken rule is named by
its field path (``providers.options``)."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from providers.alipayplus import AlipayPlusProvider
from providers.base import AccountConfig, Batch, Message, Outcome, ProviderError, Target
from providers.binance import BinanceProvider
from providers.jiguang import JiguangProvider
from providers.mpaas import MpaasProvider
from providers.options import check

BINANCE = ("binance-ak", "binance-secret-key-0123456789abcdef0123456789")
MPAAS = ("mpaas-akid", "mpaas-secret-0123456789")
JIGUANG = ("7d431e42dfa6a6d693ac2d04", "5e987ac6d2e04d95a9d8f0d1")


@pytest.fixture
def client():
    with httpx.Client(timeout=5) as c:
        yield c


@pytest.fixture(scope="module")
def rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def config(kind: str, base_url: str, credentials: dict, app_id: str = "app-1", **settings) -> AccountConfig:
    return AccountConfig(
        kind=kind, base_url=base_url, app_id=app_id, settings=settings, credentials=credentials, timeout=5
    )


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(request.content.decode(), keep_blank_values=True).items()}


# --- Binance ------------------------------------------------------------------------------


def test_binance_sends_path_preview_and_experience_uids_as_documented(start_emulator, client):
    server = start_emulator("binance", {BINANCE[0]: BINANCE[1]})
    provider = BinanceProvider(
        config("binance", server.url, {"access_key": BINANCE[0], "secret_key": BINANCE[1]}, "mp-app")
    )
    message = Message(
        template_ref="1344001",
        language="en",
        parameters={"result": "success", "withdrawMoney": "100"},
        options={"path": "pages/details/index?source=crier", "preview": True, "experienceUids": ["u1", "u2"]},
    )

    result = provider.send(client, message, Batch(key="b-1"))

    assert result.outcome is Outcome.DELIVERED
    assert server.app.accepted[0].payload == {
        "appId": "mp-app",
        "templateId": "1344001",
        "language": "en",
        "path": "pages/details/index?source=crier",
        "parameters": [{"name": "result", "value": "success"}, {"name": "withdrawMoney", "value": "100"}],
        "preview": True,
        "experienceUids": ["u1", "u2"],
    }
    assert server.app.accepted[0].targets == ("u1", "u2")


@pytest.mark.parametrize(
    ("options", "path", "field", "words"),
    [
        ({"preview": True}, "", "provider_options.experienceUids", "list 1 to 5 uids"),
        ({"preview": "yes", "experienceUids": ["u"]}, "", "provider_options.preview", "true or false"),
        ({"experienceUids": ["u1"]}, "", "provider_options.experienceUids", "only apply with preview"),
        (
            {"preview": True, "experienceUids": list("123456")},
            "",
            "provider_options.experienceUids",
            "at most 5",
        ),
        ({"path": "/a"}, "/b", "provider_options.path", "differs from the campaign's path"),
        ({"colour": "red"}, "", "provider_options.colour", "not a Binance option"),
    ],
)
def test_binance_refuses_broken_preview_settings_by_field(options, path, field, words):
    message = Message(template_ref="1", language="en", parameters={}, path=path, options=options)
    errors = check("binance", message, {}).errors
    assert field in errors and words in " ".join(errors[field]), errors


# --- Alipay+ ------------------------------------------------------------------------------


def test_alipayplus_sends_every_option_as_documented(start_emulator, client, rsa_pem):
    server = start_emulator("alipayplus", {"client-1": rsa_pem}, template_channels={"TP_PUSH": "PUSH"})
    provider = AlipayPlusProvider(
        config("alipayplus", server.url, {"client_id": "client-1", "private_key": rsa_pem}, "P0001")
    )
    message = Message(
        template_ref="TP_PUSH",
        language="en-US",
        parameters={"customTitle": "Hi", "customContent": "Shipped"},
        options={
            "channel": "PUSH",
            "redirectUrl": "/pages/orders/index",
            "extendInfo": {"memo": "spring", "batch": 3},
            "customerBelongsTo": "GCASH",
            "languages": ["zh-CN"],
        },
    )

    result = provider.send(client, message, Batch(key="req-1", targets=(Target("u1", "token-1"),)))

    assert result.outcome is Outcome.DELIVERED
    assert server.app.accepted[0].payload == {
        "appId": "P0001",
        "accessToken": "token-1",
        "requestId": "req-1",
        "templateCode": "TP_PUSH",
        "templates": [
            {"templateParameters": {"customContent": "Shipped", "customTitle": "Hi"}, "language": "en-US"},
            {"templateParameters": {"customContent": "Shipped", "customTitle": "Hi"}, "language": "zh-CN"},
        ],
        "redirectUrl": "/pages/orders/index",
        "customerBelongsTo": "GCASH",
        "extendInfo": '{"batch": 3, "memo": "spring"}',
    }


def test_alipayplus_emulator_refuses_a_push_template_without_redirect_url(start_emulator, client, rsa_pem):
    server = start_emulator("alipayplus", {"client-1": rsa_pem}, template_channels={"TP_PUSH": "PUSH"})
    provider = AlipayPlusProvider(
        config("alipayplus", server.url, {"client_id": "client-1", "private_key": rsa_pem}, "P0001")
    )
    message = Message(template_ref="TP_PUSH", language="en-US", parameters={})

    result = provider.send(client, message, Batch(key="req-2", targets=(Target("u1", "token-1"),)))

    assert (result.outcome, result.code) == (Outcome.FAILED, "PARAM_ILLEGAL")


@pytest.mark.parametrize(
    ("options", "settings", "field", "words"),
    [
        ({"channel": "PUSH"}, {}, "provider_options.redirectUrl", "required for a PUSH template"),
        ({}, {"channel": "INBOX"}, "provider_options.redirectUrl", "required for a INBOX template"),
        ({"channel": "EMAIL"}, {}, "provider_options.channel", "PUSH, INBOX, SMS"),
        (
            {"extendInfo": "x" * 4097},
            {},
            "provider_options.extendInfo",
            "4097 characters; Alipay+ allows 4096",
        ),
        ({"customerBelongsTo": "PAYPAL"}, {}, "provider_options.customerBelongsTo", "'PAYPAL' is not one of"),
        ({"redirectUrl": "/" * 2049}, {}, "provider_options.redirectUrl", "allows 2048"),
        ({"languages": ["a", "b", "c", "d", "e"]}, {}, "provider_options.languages", "at most 5"),
    ],
)
def test_alipayplus_refuses_broken_options_by_field(options, settings, field, words):
    message = Message(template_ref="TP", language="en", parameters={}, options=options)
    errors = check("alipayplus", message, settings).errors
    assert field in errors and words in " ".join(errors[field]), errors


def test_an_sms_template_needs_no_redirect_url():
    message = Message(template_ref="TP", language="en", parameters={}, options={"channel": "SMS"})
    assert check("alipayplus", message, {}).errors == {}


# --- mPaaS --------------------------------------------------------------------------------

MPAAS_EVERYTHING = {
    "DeliveryType": 2,
    "TaskName": "Spring sale (iOS)",
    "PushStatus": 0,
    "TimeMode": 1,
    "BindStartTime": 1746720000000,
    "BindEndTime": 1746806219999,
    "AndroidChannel": 2,
    "Classification": "0",
    "ThirdChannelCategory": {"hms": "9", "vivo": "1"},
    "NotifyLevel": {"oppo": "2"},
    "MiChannelId": "123321",
    "TransparentMessagePayload": {"hms": {"data": "x"}},
    "TransparentMessageUrgency": "HIGH",
    "ExtendedParams": {"campaign": "spring", "source": "crier"},
}


def test_mpaas_sends_every_option_by_wire_name_with_documented_types(start_emulator, client):
    server = start_emulator("mpaas", {MPAAS[0]: MPAAS[1]})
    provider = MpaasProvider(
        config(
            "mpaas",
            server.url,
            {"access_key_id": MPAAS[0], "access_key_secret": MPAAS[1]},
            "ONEX570DA89211720",
            workspace_id="default",
            delivery_type=1,
        )
    )
    message = Message(
        template_ref="broadcastTemplate",
        language="en",
        parameters={"content": "hi"},
        expired_seconds=600,
        options=MPAAS_EVERYTHING,
    )

    request = provider.build_request(message, Batch(key="mk-1"))
    result = provider.send(client, message, Batch(key="mk-1"))

    assert result.outcome is Outcome.DELIVERED
    assert form(request) == {
        "AppId": "ONEX570DA89211720",
        "WorkspaceId": "default",
        "DeliveryType": "2",
        "TemplateName": "broadcastTemplate",
        "TemplateKeyValue": '{"content":"hi"}',
        "TaskName": "Spring sale (iOS)",
        "ExpiredSeconds": "600",
        "Msgkey": "mk-1",
        "PushStatus": "0",
        "TimeMode": "1",
        "BindStartTime": "1746720000000",
        "BindEndTime": "1746806219999",
        "AndroidChannel": "2",
        "Classification": "0",
        "ThirdChannelCategory": '{"hms":"9","vivo":"1"}',
        "NotifyLevel": '{"oppo":"2"}',
        "MiChannelId": "123321",
        "TransparentMessagePayload": '{"hms":{"data":"x"}}',
        "TransparentMessageUrgency": "HIGH",
        "ExtendedParams": '{"campaign":"spring","source":"crier"}',
    }
    accepted = server.app.accepted[0].payload
    assert {k: accepted[k] for k in form(request)} == form(request)


def test_mpaas_periods_and_native_strategy_reach_the_wire(start_emulator, client):
    server = start_emulator("mpaas", {MPAAS[0]: MPAAS[1]})
    provider = MpaasProvider(
        config(
            "mpaas",
            server.url,
            {"access_key_id": MPAAS[0], "access_key_secret": MPAAS[1]},
            "APP",
            workspace_id="ws",
            delivery_type=7,
        )
    )
    fixed = int((time.time() + 7200) * 1000)
    message = Message(
        template_ref="t",
        language="en",
        parameters={},
        options={
            "pushStatus": 2,
            "unBindPeriod": 3,
            "StrategyType": 1,
            "StrategyContent": {"fixedTime": fixed},
        },
    )

    request = provider.build_request(message, Batch(key="mk-2"))
    result = provider.send(client, message, Batch(key="mk-2"))

    sent = form(request)
    assert (sent["DeliveryType"], sent["PushStatus"], sent["UnBindPeriod"]) == ("7", "2", "3")
    assert (sent["StrategyType"], json.loads(sent["StrategyContent"])) == ("1", {"fixedTime": fixed})
    assert parse_qs(request.url.query.decode())["Version"] == ["2020-10-28"]  # the only one with StrategyType
    assert result.outcome is Outcome.DELIVERED and result.provider_message_id in server.app.tasks


def test_mpaas_several_delivery_types_are_one_request_each(start_emulator, client):
    server = start_emulator("mpaas", {MPAAS[0]: MPAAS[1]})
    provider = MpaasProvider(
        config(
            "mpaas",
            server.url,
            {"access_key_id": MPAAS[0], "access_key_secret": MPAAS[1]},
            "APP",
            workspace_id="ws",
        )
    )
    options = {"DeliveryType": [1, 2, 7]}
    message = Message(template_ref="t", language="en", parameters={}, options=options)

    variants = provider.request_variants(options)
    results = [
        provider.send(client, message, Batch(key=f"mk-{i}", params=params))
        for i, params in enumerate(variants)
    ]

    assert variants == [{"DeliveryType": 1}, {"DeliveryType": 2}, {"DeliveryType": 7}]
    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 3
    assert [a.payload["DeliveryType"] for a in server.app.accepted] == ["1", "2", "7"]
    with pytest.raises(ProviderError, match="one request each"):
        provider.build_request(message, Batch(key="mk-x"))
    assert provider.request_variants({"DeliveryType": 2}) == [{}]


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ({"PushStatus": 0}, "provider_options.BindPeriod", "BindPeriod is required when PushStatus is 0"),
        ({"PushStatus": 2}, "provider_options.UnBindPeriod", "UnBindPeriod is required when PushStatus is 2"),
        (
            {"PushStatus": 1, "BindPeriod": 1},
            "provider_options.UnBindPeriod",
            "required when PushStatus is 1",
        ),
        (
            {"PushStatus": 0, "BindPeriod": 5},
            "provider_options.BindPeriod",
            "BindPeriod 5 must be 1 (7 days)",
        ),
        ({"PushStatus": 3}, "provider_options.PushStatus", "PushStatus 3 must be 0 (bound users)"),
        ({"BindPeriod": 1}, "provider_options.BindPeriod", "it needs PushStatus"),
        (
            {"PushStatus": 0, "TimeMode": 1, "BindPeriod": 1},
            "provider_options.BindPeriod",
            "with TimeMode 1 give BindStartTime/EndTime",
        ),
        (
            {"PushStatus": 0, "TimeMode": 1, "BindStartTime": 5},
            "provider_options.BindEndTime",
            "BindEndTime (ms) is required when TimeMode is 1",
        ),
        (
            {"PushStatus": 0, "TimeMode": 1, "BindStartTime": 9, "BindEndTime": 5},
            "provider_options.BindEndTime",
            "is before BindStartTime",
        ),
        (
            {"PushStatus": 0, "BindPeriod": 1, "BindStartTime": 5},
            "provider_options.BindStartTime",
            "is a TimeMode 1 range",
        ),
        (
            {"PushStatus": 0, "BindPeriod": 1, "UnBindPeriod": 1},
            "provider_options.UnBindPeriod",
            "does not apply to PushStatus 0",
        ),
        ({"TransparentMessageUrgency": "HIGH"}, "provider_options.TransparentMessageUrgency", "only with"),
        (
            {"TransparentMessageUrgency": "LOW", "TransparentMessagePayload": {}},
            "provider_options.TransparentMessageUrgency",
            "HIGH",
        ),
        ({"AndroidChannel": 3}, "provider_options.AndroidChannel", "1 (MPS self-built channel)"),
        ({"Classification": "2"}, "provider_options.Classification", "0 (operational) or 1 (system)"),
        ({"DeliveryType": [1, 3]}, "provider_options.DeliveryType", "DeliveryType 3 is not valid"),
        ({"ExtendedParams": {f"k{i}": "v" for i in range(21)}}, "provider_options.ExtendedParams", "21 keys"),
        ({"NotifyLevel": {"oppo": ["2"]}}, "provider_options.NotifyLevel", "must map vendors to values"),
        ({"StrategyType": 2}, "provider_options.StrategyContent", "StrategyType 2 needs StrategyContent"),
        ({"Msgkey": "x"}, "provider_options.Msgkey", "is set by Crier"),
    ],
)
def test_mpaas_refuses_each_broken_rule_by_field(options, field, words):
    message = Message(template_ref="t", language="en", parameters={}, options=options)
    errors = check("mpaas", message, {}).errors
    assert field in errors and words in " ".join(errors[field]), errors


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"PushStatus": "0"}, "3028"),  # BindPeriod missing
        ({"PushStatus": "1", "TimeMode": "1", "UnBindStartTime": "1"}, "3028"),
        ({"AndroidChannel": "5"}, "3028"),
        ({"TransparentMessageUrgency": "HIGH"}, "3028"),
    ],
)
def test_the_mpaas_emulator_enforces_the_same_rules(start_emulator, client, options, code):
    server = start_emulator("mpaas", {MPAAS[0]: MPAAS[1]})
    provider = MpaasProvider(
        config(
            "mpaas",
            server.url,
            {"access_key_id": MPAAS[0], "access_key_secret": MPAAS[1]},
            "APP",
            workspace_id="ws",
            delivery_type=1,
        )
    )
    message = Message(template_ref="t", language="en", parameters={})
    body = {**provider.payload(message, Batch(key="mk")), **options}
    request = provider._signed_request(action="PushBroadcast", version="2020-10-28", body=body)

    result = provider.parse_response(client.send(request))

    assert (result.outcome, result.code) == (Outcome.FAILED, code)
    assert not server.app.accepted


# --- Jiguang ------------------------------------------------------------------------------


def jiguang(server_url: str, **settings) -> JiguangProvider:
    return JiguangProvider(
        config(
            "jiguang", server_url, {"channel_key": JIGUANG[0], "master_secret": JIGUANG[1]}, "", **settings
        )
    )


def test_jiguang_sends_every_option_as_documented(start_emulator, client):
    server = start_emulator("jiguang", {JIGUANG[0]: JIGUANG[1]})
    message = Message(
        template_ref="10001",
        language="zh-CN",
        parameters={"user": "xxx", "url": "xxx"},
        priority=1,
        options={
            "app_para": {"platform": ["android", "ios"], "time_to_live": 864000, "apns_production": False},
            "rule_id": 1001,
            "option": {"owner": "reviewer", "white_id": 42, "priority": 1},
            "callback": {"url": "https://crier.example/callbacks/jiguang/1/", "params": {"campaign": 7}},
        },
    )

    result = jiguang(server.url).send(
        client, message, Batch(key="sendno-1", targets=(Target("u1"), Target("u2")))
    )

    assert result.outcome is Outcome.DELIVERED
    assert server.app.accepted[0].path == "/v1/template/sent"
    assert server.app.accepted[0].payload == {
        "aud_userid": ["u1", "u2"],
        "template_id": 10001,
        "template_para": {"user": "xxx", "url": "xxx"},
        "app_para": {"platform": ["android", "ios"], "time_to_live": 864000, "apns_production": False},
        "rule_id": 1001,
        "callback": {"url": "https://crier.example/callbacks/jiguang/1/", "params": {"campaign": 7}},
        "option": {"sendno": "sendno-1", "priority": 1, "owner": "reviewer", "white_id": 42},
    }


def test_jiguang_channel_registration_ids_are_the_whole_audience(start_emulator, client):
    server = start_emulator("jiguang", {JIGUANG[0]: JIGUANG[1]})
    message = Message(
        template_ref="10001",
        language="en",
        parameters={"user": "x"},
        options={
            "aud_app": ["170976fa8a9277fac6e"],
            "aud_sms": [{"instance": "sms", "data": ["18866007799", "18866007700"]}],
            "option": {"black_id": 7},
        },
    )
    provider = jiguang(server.url)

    result = provider.send(client, message, Batch(key="sendno-2"))

    assert result.outcome is Outcome.DELIVERED
    assert server.app.accepted[0].path == "/v1/template/sent"
    assert server.app.accepted[0].payload == {
        "aud_app": [{"data": ["170976fa8a9277fac6e"]}],
        "aud_sms": [{"instance": "sms", "data": ["18866007799", "18866007700"]}],
        "template_id": 10001,
        "template_para": {"user": "x"},
        "option": {"sendno": "sendno-2", "priority": 2, "black_id": 7},
    }
    with pytest.raises(ProviderError, match="cannot be mixed") as mixed:
        provider.build_request(message, Batch(key="s", targets=(Target("u1"),)))
    assert mixed.value.field == "audience"
    preview = provider.payload(message, Batch(key="p", preview=True, test_uids=("tester",)))
    assert preview["aud_userid"] == ["tester"] and "aud_app" not in preview


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ({"option": {"black_id": 1, "white_id": 2}}, "provider_options.option", "cannot both be given"),
        ({"black_id": 1, "option": {"white_id": 2}}, "provider_options.option", "cannot both be given"),
        ({"option": {"priority": 4}}, "provider_options.option.priority", "must be 1 (high)"),
        (
            {"option": {"priority": 3}},
            "provider_options.option.priority",
            "differs from the campaign's priority 2",
        ),
        ({"option": {"sendno": "x"}}, "provider_options.option.sendno", "set by Crier"),
        ({"option": {"owner": 7}}, "provider_options.option.owner", "user name"),
        ({"owner": "a", "option": {"owner": "b"}}, "provider_options.owner", "give it once"),
        ({"app_para": {"time_to_live": 10}}, "provider_options.app_para.platform", "is required"),
        (
            {"app_para": {"platform": "ios", "time_to_live": 864001}},
            "provider_options.app_para.time_to_live",
            "864001 must be 0 to 864000",
        ),
        ({"app_para": {"platform": ["all", "ios"]}}, "provider_options.app_para.platform", "without all"),
        (
            {"app_para": {"platform": "ios", "apns_production": "yes"}},
            "provider_options.app_para.apns_production",
            "true or false",
        ),
        (
            {"app_para": {"platform": "ios", "sound": "x"}},
            "provider_options.app_para.sound",
            "not an App parameter",
        ),
        ({"rule_id": "1001"}, "provider_options.rule_id", "must be an integer"),
        ({"callback": {"url": "ftp://x.example/cb"}}, "provider_options.callback.url", "http(s) URL"),
        ({"callback": {"url": "https://x.example:8443/cb"}}, "provider_options.callback.url", "has a port"),
        ({"callback": {"params": [1]}}, "provider_options.callback.params", "must be an object"),
        ({"aud_app": ["id"] * 1001}, "provider_options.aud_app", "1001 ids; UMS takes at most 1000"),
        (
            {"aud_app": ["id"], "rule_id": 5},
            "provider_options.rule_id",
            "no effect with channel registration ids",
        ),
        ({"aud_email": "a@b.c"}, "provider_options.aud_email", "must be a list"),
        ({"aud_pager": ["x"]}, "provider_options.aud_pager", "not a UMS template option"),
    ],
)
def test_jiguang_refuses_each_broken_rule_by_field(options, field, words):
    message = Message(template_ref="1", language="en", parameters={}, priority=2, options=options)
    errors = check("jiguang", message, {}).errors
    assert field in errors and words in " ".join(errors[field]), errors


def test_the_jiguang_emulator_refuses_a_callback_url_with_a_port_and_rule_id_with_channel_ids(
    start_emulator, client
):
    server = start_emulator("jiguang", {JIGUANG[0]: JIGUANG[1]})
    headers = {"Authorization": jiguang(server.url)._authorization()}
    base = {"template_id": 1, "template_para": {}}
    port = client.post(
        f"{server.url}/v1/template/broadcast",
        json={**base, "callback": {"url": "https://x.example:8443/cb"}},
        headers=headers,
    )
    rule = client.post(
        f"{server.url}/v1/template/sent",
        json={**base, "aud_app": [{"data": ["r1"]}], "rule_id": 3},
        headers=headers,
    )
    assert (port.status_code, port.json()["code"]) == (400, 4004)
    assert (rule.status_code, rule.json()["code"]) == (400, 4004)
    assert not server.app.accepted


def test_a_message_is_checked_once_per_provider_and_a_new_message_anew(start_emulator, client, monkeypatch):
    """Every request of a dispatch sends one message: its options are checked (DRF fields built
    anew) once, not per request and per part of a request (BENCHMARKS.md, "This round")."""
    from providers import options as provider_options

    calls = []
    real = provider_options.check
    monkeypatch.setattr(provider_options, "check", lambda *a, **k: calls.append(1) or real(*a, **k))
    server = start_emulator("jiguang", {JIGUANG[0]: JIGUANG[1]})
    provider = jiguang(server.url)
    first = Message(template_ref="10001", language="en", parameters={"user": "x"}, options={"rule_id": 1})
    for n in range(3):
        assert provider.send(client, first, Batch(key=f"s{n}", targets=(Target(f"u{n}"),))).outcome is (
            Outcome.DELIVERED
        )
    assert len(calls) == 1
    second = Message(template_ref="10001", language="en", parameters={"user": "x"}, options={"rule_id": 2})
    provider.send(client, second, Batch(key="s9", targets=(Target("u9"),)))
    assert len(calls) == 2
    assert [a.payload["rule_id"] for a in server.app.accepted] == [1, 1, 1, 2]
    assert [a.payload["option"]["sendno"] for a in server.app.accepted] == ["s0", "s1", "s2", "s9"]
