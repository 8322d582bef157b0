"""The Alipay+ message/send client against its emulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import datetime
from urllib.parse import quote_plus, unquote_plus

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from providers.alipayplus import AlipayPlusProvider
from providers.base import AccountConfig, Batch, Message, Outcome, ProviderError, Target

CLIENT_ID = "2022091912345678"
APP_ID = "3502020000000001"
MESSAGE = Message(
    template_ref="TP_5800000001",
    language="en-US",
    parameters={"who": "Xiao Míng", "customContent": "Your order shipped"},
    path="/pages/orders/index",
)
USER = Target(external_id="u-1", address="2019112719074101000700000077771abcd")


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@pytest.fixture(scope="module")
def merchant_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def platform_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def emulator(start_emulator, merchant_key, platform_key):
    credentials = {CLIENT_ID: pem(merchant_key)}
    return start_emulator("alipayplus", credentials, platform_private_key=pem(platform_key))


def make_account(
    base_url: str, merchant: rsa.RSAPrivateKey, platform: rsa.RSAPrivateKey | None
) -> AccountConfig:
    credentials = {"client_id": CLIENT_ID, "private_key": pem(merchant)}
    if platform is not None:
        credentials["platform_public_key"] = public_pem(platform)
    return AccountConfig(
        kind="alipayplus", base_url=base_url, app_id=APP_ID, credentials=credentials, timeout=5
    )


@pytest.fixture
def provider(emulator, merchant_key, platform_key):
    return AlipayPlusProvider(make_account(emulator.url, merchant_key, platform_key))


@pytest.fixture
def client():
    with httpx.Client(timeout=5) as c:
        yield c


def batch(key: str = "req-0001", target: Target = USER) -> Batch:
    return Batch(key=key, targets=(target,))


def signature_of(header: str) -> bytes:
    value = re.fullmatch(r"algorithm=RSA256, keyVersion=1, signature=(\S+)", header)
    assert value, header
    assert not set("+/=") & set(value[1]), "the signature must be quote_plus-encoded"
    return base64.b64decode(unquote_plus(value[1]))


def resign(
    request: httpx.Request, key: rsa.RSAPrivateKey, *, body: bytes | None = None, uri: str = ""
) -> httpx.Request:
    """Return ``request`` with ``body``, signed by the test itself over the documented content."""
    content = body if body is not None else request.content
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    signed = f"POST {uri or request.url.path}\n{CLIENT_ID}.{headers['request-time']}.".encode() + content
    raw = key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    encoded = quote_plus(base64.b64encode(raw).decode())
    headers["signature"] = f"algorithm=RSA256, keyVersion=1, signature={encoded}"
    return httpx.Request("POST", request.url, headers=headers, content=content)


# -- the request on the wire ---------------------------------------------------


def test_request_follows_the_documented_body(provider):
    message = Message(
        **{**MESSAGE.__dict__, "options": {"customerBelongsTo": "GCASH", "extendInfo": {"memo": "m"}}}
    )
    request = provider.build_request(message, batch())
    assert request.url.path == "/v2/miniprogram/message/send"
    assert json.loads(request.content) == {
        "appId": APP_ID,
        "accessToken": USER.address,
        "requestId": "req-0001",
        "templateCode": "TP_5800000001",
        "templates": [
            {
                "templateParameters": {"customContent": "Your order shipped", "who": "Xiao Míng"},
                "language": "en-US",
            }
        ],
        "redirectUrl": "/pages/orders/index",
        "customerBelongsTo": "GCASH",
        "extendInfo": '{"memo": "m"}',
    }


def test_signature_verifies_independently_over_the_documented_content(provider, merchant_key):
    request = provider.build_request(MESSAGE, batch())
    request_time = request.headers["Request-Time"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", request_time)
    assert abs(datetime.fromisoformat(request_time).timestamp() - time.time()) < 5
    assert request.headers["Client-Id"] == CLIENT_ID
    content = f"POST /v2/miniprogram/message/send\n{CLIENT_ID}.{request_time}.".encode() + request.content
    merchant_key.public_key().verify(
        signature_of(request.headers["Signature"]), content, padding.PKCS1v15(), hashes.SHA256()
    )


def test_signed_uri_includes_the_base_url_prefix(emulator, merchant_key, platform_key, client):
    provider = AlipayPlusProvider(make_account(emulator.url + "/api/open", merchant_key, platform_key))
    request = provider.build_request(MESSAGE, batch())
    assert request.url.path == "/api/open/v2/miniprogram/message/send"
    content = f"POST /api/open/v2/miniprogram/message/send\n{CLIENT_ID}.".encode()
    content += request.headers["Request-Time"].encode() + b"." + request.content
    merchant_key.public_key().verify(
        signature_of(request.headers["Signature"]), content, padding.PKCS1v15(), hashes.SHA256()
    )
    assert provider.parse_response(client.send(request)).outcome is Outcome.DELIVERED
    # Signed without the prefix, the same request is refused.
    unprefixed = resign(request, merchant_key, uri="/v2/miniprogram/message/send")
    assert provider.parse_response(client.send(unprefixed)).code == "INVALID_SIGNATURE"


# -- outcomes against the emulator ---------------------------------------------


def test_a_sent_message_is_delivered_with_its_message_id(provider, emulator, client):
    result = provider.send(client, MESSAGE, batch())
    assert (result.outcome, result.code, result.http_status) == (Outcome.DELIVERED, "SUCCESS", 200)
    assert result.provider_message_id
    [accepted] = emulator.app.accepted
    assert (accepted.key, accepted.targets) == ("req-0001", (USER.address,))


def test_the_answer_signature_verifies_with_the_emulator_platform_key(provider, emulator, platform_key):
    request = provider.build_request(MESSAGE, batch())
    with httpx.Client() as plain:
        response = plain.send(request)
    assert emulator.app.platform_public_key_pem == public_pem(platform_key)
    content = f"POST /v2/miniprogram/message/send\n{CLIENT_ID}.".encode()
    content += response.headers["Response-Time"].encode() + b"." + response.content
    platform_key.public_key().verify(
        signature_of(response.headers["Signature"]), content, padding.PKCS1v15(), hashes.SHA256()
    )


def test_a_repeated_request_id_replays_the_answer_without_sending_twice(provider, emulator, client):
    first = provider.send(client, MESSAGE, batch())
    again = provider.send(client, MESSAGE, batch())
    assert again.outcome is Outcome.DELIVERED
    assert again.provider_message_id == first.provider_message_id
    assert emulator.app.counts_by_key() == {"req-0001": 1}


def test_a_reused_request_id_with_a_different_body_is_refused(provider, emulator, client):
    provider.send(client, MESSAGE, batch())
    other = Message(**{**MESSAGE.__dict__, "parameters": {"who": "someone else"}})
    result = provider.send(client, other, batch())
    assert (result.outcome, result.code) == (Outcome.FAILED, "REPEAT_REQ_INCONSISTENT")
    assert len(emulator.app.accepted) == 1


def test_a_timeout_is_retried_and_the_resend_does_not_send_twice(provider, emulator, client):
    emulator.app.knobs.latency_ms = 400
    with httpx.Client(timeout=0.1) as slow:
        result = provider.send(slow, MESSAGE, batch())
    assert (result.outcome, result.code) == (Outcome.RETRY, "TRANSPORT_ERROR")
    deadline = time.monotonic() + 2
    while not emulator.app.accepted and time.monotonic() < deadline:
        time.sleep(0.02)
    emulator.app.knobs.latency_ms = 0
    assert provider.send(client, MESSAGE, batch()).outcome is Outcome.DELIVERED
    assert emulator.app.counts_by_key() == {"req-0001": 1}


def test_a_dropped_connection_after_accepting_is_retried_safely(provider, emulator, client):
    emulator.app.knobs.fail_after_accept = 1.0
    dropped = provider.send(client, MESSAGE, batch())
    assert dropped.outcome is Outcome.RETRY
    emulator.app.knobs.fail_after_accept = 0.0
    assert provider.send(client, MESSAGE, batch()).outcome is Outcome.DELIVERED
    assert emulator.app.counts_by_key() == {"req-0001": 1}


@pytest.mark.parametrize(
    ("fault", "outcome", "retry_after"),
    [
        ("UNKNOWN_EXCEPTION", Outcome.RETRY, None),
        ("REQUEST_TRAFFIC_EXCEED_LIMIT", Outcome.RETRY, 5.0),
        ("MESSAGE_SEND_EXCEED_LIMIT", Outcome.RETRY, 3600.0),
        ("PROCESS_FAIL", Outcome.FAILED, None),
        ("INVALID_API", Outcome.FAILED, None),
    ],
)
def test_result_codes_map_to_documented_outcomes(provider, emulator, client, fault, outcome, retry_after):
    emulator.app.knobs.faults = {fault: 1.0}
    result = provider.send(client, MESSAGE, batch())
    assert (result.outcome, result.code, result.retry_after) == (outcome, fault, retry_after)
    assert emulator.app.accepted == []


def test_unknown_exception_is_status_u(provider, emulator, client):
    emulator.app.knobs.faults = {"UNKNOWN_EXCEPTION": 1.0}
    result = provider.send(client, MESSAGE, batch())
    assert result.raw["result"]["resultStatus"] == "U"


def test_a_server_error_is_retried(provider, emulator, client):
    emulator.app.knobs.faults = {"503": 1.0}
    result = provider.send(client, MESSAGE, batch())
    assert (result.outcome, result.code) == (Outcome.RETRY, "HTTP_503")


def test_the_rate_limit_is_retried(provider, emulator, client):
    emulator.app.knobs.rate_limit = 1
    assert provider.send(client, MESSAGE, batch("a")).outcome is Outcome.DELIVERED
    limited = provider.send(client, MESSAGE, batch("b"))
    assert (limited.outcome, limited.code) == (Outcome.RETRY, "REQUEST_TRAFFIC_EXCEED_LIMIT")


def test_an_unsubscribed_user_is_an_opt_out(provider, emulator, client):
    emulator.app.unsubscribed_tokens.add(USER.address)
    result = provider.send(client, MESSAGE, batch())
    assert (result.outcome, result.code) == (Outcome.OPTED_OUT, "USER_NOT_SUBSCRIBED")
    assert emulator.app.accepted == []


def test_an_expired_access_token_fails(provider, emulator, client):
    emulator.app.expired_tokens.add(USER.address)
    result = provider.send(client, MESSAGE, batch())
    assert (result.outcome, result.code) == (Outcome.FAILED, "EXPIRED_ACCESS_TOKEN")


def test_an_unknown_template_fails(start_emulator, merchant_key, client):
    emulator = start_emulator("alipayplus", {CLIENT_ID: pem(merchant_key)}, known_templates={"TP_OTHER"})
    result = AlipayPlusProvider(make_account(emulator.url, merchant_key, None)).send(client, MESSAGE, batch())
    assert (result.outcome, result.code) == (Outcome.FAILED, "TEMPLATE_NOT_EXIST")


@pytest.mark.parametrize(
    "change",
    [
        {"templateCode": "T" * 65},
        {"accessToken": "a" * 129},
        {"requestId": ""},
        {"appId": "app#1"},
        {"redirectUrl": "/" * 2049},
        {"extendInfo": {"not": "a string"}},
        {"templates": []},
        {"templates": [{"templateParameters": {}, "language": "en"}] * 6},
        {"templates": [{"templateParameters": {"n": 1}, "language": "en"}]},
        {"customerBelongsTo": "NOT_A_WALLET"},
    ],
)
def test_fields_breaking_the_documented_rules_are_illegal_parameters(
    provider, emulator, merchant_key, client, change
):
    request = provider.build_request(MESSAGE, batch())
    body = json.dumps(json.loads(request.content) | change).encode()
    result = provider.parse_response(client.send(resign(request, merchant_key, body=body)))
    assert (result.outcome, result.code) == (Outcome.FAILED, "PARAM_ILLEGAL")
    assert emulator.app.accepted == []


def test_a_request_signed_with_another_key_is_an_invalid_signature(emulator, other_key, platform_key, client):
    provider = AlipayPlusProvider(make_account(emulator.url, other_key, platform_key))
    result = provider.send(client, MESSAGE, batch())
    assert (result.outcome, result.code) == (Outcome.FAILED, "INVALID_SIGNATURE")
    ok, why = provider.check_outcome(result)
    assert not ok and "authentication refused" in why


def test_a_body_changed_after_signing_is_an_invalid_signature(provider, client):
    request = provider.build_request(MESSAGE, batch())
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    changed = request.content.replace(b"TP_5800000001", b"TP_5800000002")
    forged = httpx.Request("POST", request.url, headers=headers, content=changed)
    assert provider.parse_response(client.send(forged)).code == "INVALID_SIGNATURE"


def test_an_unknown_client_id_is_access_denied(emulator, merchant_key, client):
    # Without a platform key configured: the answer is signed for the other Client-Id.
    provider = AlipayPlusProvider(make_account(emulator.url, merchant_key, None))
    request = provider.build_request(MESSAGE, batch())
    request.headers["Client-Id"] = "somebody-else"
    assert provider.parse_response(client.send(request)).code == "ACCESS_DENIED"


def test_a_stale_request_time_is_refused(start_emulator, merchant_key, client):
    emulator = start_emulator("alipayplus", {CLIENT_ID: pem(merchant_key)}, time_window=60)
    provider = AlipayPlusProvider(make_account(emulator.url, merchant_key, None))
    request = provider.build_request(MESSAGE, batch())
    request.headers["Request-Time"] = "2020-01-01T00:00:00.000+08:00"
    stale = resign(request, merchant_key)
    assert provider.parse_response(client.send(stale)).code == "PARAM_ILLEGAL"


def test_the_emulator_accepts_a_public_key_alone(start_emulator, merchant_key, client):
    emulator = start_emulator("alipayplus", {CLIENT_ID: public_pem(merchant_key)})
    provider = AlipayPlusProvider(make_account(emulator.url, merchant_key, None))
    assert provider.send(client, MESSAGE, batch()).outcome is Outcome.DELIVERED


def test_an_answer_signed_with_another_platform_key_is_unknown(emulator, merchant_key, other_key, client):
    provider = AlipayPlusProvider(make_account(emulator.url, merchant_key, other_key))
    result = provider.send(client, MESSAGE, batch())
    assert (result.outcome, result.code) == (Outcome.UNKNOWN, "RESPONSE_SIGNATURE_INVALID")
    assert "it claims SUCCESS" in result.message
    ok, why = provider.check_outcome(result)
    assert not ok and "could not be trusted" in why


def test_without_a_platform_key_answers_are_not_verified(emulator, merchant_key, client):
    provider = AlipayPlusProvider(make_account(emulator.url, merchant_key, None))
    assert provider.send(client, MESSAGE, batch()).outcome is Outcome.DELIVERED


def test_an_unsigned_answer_is_unknown_when_a_platform_key_is_configured(provider, merchant_key):
    request = provider.build_request(MESSAGE, batch())
    body = json.dumps({"result": {"resultStatus": "S", "resultCode": "SUCCESS"}}).encode()
    result = provider.parse_response(httpx.Response(200, content=body, request=request))
    assert (result.outcome, result.code) == (Outcome.UNKNOWN, "RESPONSE_SIGNATURE_MISSING")


def test_an_http_200_without_a_result_is_unknown(emulator, merchant_key):
    provider = AlipayPlusProvider(make_account(emulator.url, merchant_key, None))
    request = provider.build_request(MESSAGE, batch())
    result = provider.parse_response(httpx.Response(200, content=b"<html>proxy</html>", request=request))
    assert (result.outcome, result.code) == (Outcome.UNKNOWN, "UNPARSEABLE_RESPONSE")


# -- limits and validation -----------------------------------------------------


def test_limits_say_one_user_per_request_and_an_idempotent_request_id():
    limits = AlipayPlusProvider.limits
    assert (limits.ids_per_request, limits.per_user, limits.broadcast) == (1, True, False)
    assert (limits.idempotent, limits.max_key_length, limits.languages_per_request) == (True, 64, 5)


def test_validate_names_each_broken_rule():
    provider = AlipayPlusProvider(make_account("http://x", rsa.generate_private_key(65537, 1024), None))
    message = Message(
        template_ref="T" * 65,
        language="en-US",
        parameters={},
        path="/" * 2049,
        options={"languages": ["zh-CN", "zh-HK", "id", "th", "ms"], "customerBelongsTo": "PAYPAL"},
    )
    errors = provider.validate(message)
    assert set(errors) == {"templateCode", "redirectUrl", "templates", "customerBelongsTo"}
    assert "at most 5" in errors["templates"][0]
    assert provider.validate(MESSAGE) == {}


def test_each_language_becomes_one_template():
    provider = AlipayPlusProvider(make_account("http://x", rsa.generate_private_key(65537, 1024), None))
    message = Message(**{**MESSAGE.__dict__, "options": {"languages": ["zh-CN", "en-US"]}})
    templates = provider.payload(message, batch())["templates"]
    assert [t["language"] for t in templates] == ["en-US", "zh-CN"]


@pytest.mark.parametrize(
    ("bad_batch", "field"),
    [
        (Batch(key="k", targets=(USER, Target("u-2", address="t2"))), "audience"),
        (Batch(key="k", targets=(Target("u-3"),)), "accessToken"),
        (Batch(key="k" * 65, targets=(USER,)), "requestId"),
    ],
)
def test_build_refuses_batches_alipay_would_reject(merchant_key, bad_batch, field):
    provider = AlipayPlusProvider(make_account("http://x", merchant_key, None))
    with pytest.raises(ProviderError) as error:
        provider.build_request(MESSAGE, bad_batch)
    assert error.value.field == field


def test_an_unusable_private_key_is_a_configuration_error_naming_no_secret():
    config = AccountConfig(
        kind="alipayplus",
        base_url="http://x",
        app_id=APP_ID,
        credentials={"client_id": CLIENT_ID, "private_key": "-----BEGIN PRIVATE KEY-----\nnope\n"},
    )
    with pytest.raises(ProviderError) as error:
        AlipayPlusProvider(config).build_request(MESSAGE, batch())
    assert error.value.field == "credentials" and "nope" not in str(error.value)


def test_check_request_is_a_dummy_token_with_a_unique_request_id(provider, emulator, client):
    first, second = provider.check_request(), provider.check_request()
    ids = [json.loads(r.content)["requestId"] for r in (first, second)]
    assert ids[0] != ids[1]
    result = provider.parse_response(client.send(first))
    assert provider.check_outcome(result)[0]


def test_an_unusable_platform_key_makes_the_answer_unknown_not_an_exception(emulator, merchant_key, client):
    good = AlipayPlusProvider(make_account(emulator.url, merchant_key, None))
    response = client.send(good.build_request(MESSAGE, batch()))
    config = make_account(emulator.url, merchant_key, None)
    broken = AccountConfig(
        **{**config.__dict__, "credentials": {**config.credentials, "platform_public_key": "not a key"}}
    )
    result = AlipayPlusProvider(broken).parse_response(response)
    assert (result.outcome, result.code) == (Outcome.UNKNOWN, "PLATFORM_KEY_UNUSABLE")
