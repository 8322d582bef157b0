"""The Binance BroadcastMessage client against its emulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import time
from urllib.parse import quote

import httpx
import jwt
import pytest

from providers.base import AccountConfig, Batch, Message, Outcome, ProviderError, Target
from providers.binance import BinanceProvider

ACCESS_KEY = "crier-binance-access-key"
SECRET_KEY = "binance-secret-key-for-tests-" + "0123456789abcdef" * 3
APP_ID = "ozSQnakAm7apa6ew7crPYd"
MESSAGE = Message(
    template_ref="13440001",
    language="en",
    parameters={"withdrawMoney": "100", "result": "success ✓"},
    path="pages/details/index?source=crier",
)


def account(
    base_url: str, *, secret: str = SECRET_KEY, access_key: str = ACCESS_KEY, **settings: str
) -> AccountConfig:
    return AccountConfig(
        kind="binance",
        base_url=base_url,
        app_id=APP_ID,
        settings=settings,
        credentials={"access_key": access_key, "secret_key": secret},
        timeout=5,
    )


@pytest.fixture
def emulator(start_emulator):
    return start_emulator("binance", {ACCESS_KEY: SECRET_KEY})


@pytest.fixture
def provider(emulator):
    return BinanceProvider(account(emulator.url))


@pytest.fixture
def client():
    with httpx.Client(timeout=5) as c:
        yield c


def independent_dig(request: httpx.Request) -> str:
    """Recompute ``dig`` from the documented CanonicalRequest, without the module's helpers."""
    path = request.url.path
    segments = [quote(s, safe="-_.~") for s in path.split("/")]
    uri = "/".join(segments) + ("" if path.endswith("/") else "/")
    canonical = f"{request.method}\n{uri}\n\n{hashlib.sha256(request.content).hexdigest()}"
    return hashlib.sha256(canonical.encode()).hexdigest()


def with_body(request: httpx.Request, body: bytes) -> httpx.Request:
    """Return a copy of ``request`` carrying ``body`` (and the same token)."""
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    return httpx.Request(request.method, request.url, headers=headers, content=body)


def resign(request: httpx.Request, *, body: bytes | None = None, **claims: object) -> httpx.Request:
    """Return ``request`` with ``body`` and a token the test signs itself (claims overridable)."""
    new = with_body(request, body if body is not None else request.content)
    values = {"iss": ACCESS_KEY, "dig": independent_dig(new), "ts": int(time.time()), **claims}
    new.headers["X-Mp-Open-Api-Token"] = jwt.encode(values, SECRET_KEY, algorithm="HS256")
    return new


# -- the request on the wire ---------------------------------------------------


def test_broadcast_request_follows_the_documented_body(provider):
    request = provider.build_request(MESSAGE, Batch(key="d-1"))
    assert request.method == "POST"
    assert request.url.path == f"/mp-api/v1/apps/{APP_ID}/message/broadcast"
    assert json.loads(request.content) == {
        "appId": APP_ID,
        "templateId": "13440001",
        "language": "en",
        "path": "pages/details/index?source=crier",
        "parameters": [
            {"name": "result", "value": "success ✓"},
            {"name": "withdrawMoney", "value": "100"},
        ],
        "preview": False,
        "experienceUids": [],
    }


def test_token_is_an_hs256_jwt_whose_dig_matches_the_request_recomputed_independently(provider):
    before = int(time.time())
    request = provider.build_request(MESSAGE, Batch(key="d-1"))
    token = request.headers["X-Mp-Open-Api-Token"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, SECRET_KEY, algorithms=["HS256"])
    assert set(claims) == {"iss", "dig", "ts"}
    assert claims["iss"] == ACCESS_KEY
    assert claims["dig"] == independent_dig(request)
    assert before <= claims["ts"] <= int(time.time())


def test_signed_uri_is_the_full_path_requested_including_a_base_url_prefix(emulator, client):
    provider = BinanceProvider(account(emulator.url + "/gateway/binance"))
    request = provider.build_request(MESSAGE, Batch(key="d-1"))
    assert request.url.path.startswith("/gateway/binance/mp-api/")
    claims = jwt.decode(request.headers["X-Mp-Open-Api-Token"], SECRET_KEY, algorithms=["HS256"])
    assert claims["dig"] == independent_dig(request)
    assert provider.parse_response(client.send(request)).outcome is Outcome.DELIVERED


def test_every_request_gets_a_fresh_token_bound_to_its_own_time(provider, time_machine):
    time_machine.move_to("2026-03-01 10:00:00Z", tick=False)
    first = provider.build_request(MESSAGE, Batch(key="d-1")).headers["X-Mp-Open-Api-Token"]
    time_machine.move_to("2026-03-01 10:00:07Z", tick=False)
    second = provider.build_request(MESSAGE, Batch(key="d-1")).headers["X-Mp-Open-Api-Token"]
    ts = [jwt.decode(t, SECRET_KEY, algorithms=["HS256"])["ts"] for t in (first, second)]
    assert ts[1] - ts[0] == 7
    assert first != second


# -- outcomes against the emulator ---------------------------------------------


def test_broadcast_is_accepted_for_binance_review_and_logged_as_everyone(provider, emulator, client):
    result = provider.send(client, MESSAGE, Batch(key="d-1"))
    assert result.outcome is Outcome.DELIVERED
    assert (result.code, result.message, result.http_status) == ("000000", "accepted for Binance review", 200)
    [accepted] = emulator.app.accepted
    assert accepted.targets == ("*",)
    assert accepted.payload["templateId"] == "13440001"


def test_preview_goes_only_to_the_experience_uids(provider, emulator, client):
    batch = Batch(key="p-1", preview=True, test_uids=("1001", "1002"))
    assert provider.send(client, MESSAGE, batch).outcome is Outcome.DELIVERED
    [accepted] = emulator.app.accepted
    assert accepted.targets == ("1001", "1002")
    assert accepted.payload["preview"] is True
    assert accepted.payload["experienceUids"] == ["1001", "1002"]


@pytest.mark.parametrize(
    ("setting", "status_code"),
    [("refused_uids", "900240"), ("declined_uids", "900241")],
)
def test_a_user_who_refused_messages_is_an_opt_out(provider, emulator, client, setting, status_code):
    getattr(emulator.app, setting).add("1001")
    result = provider.send(client, MESSAGE, Batch(key="p-1", preview=True, test_uids=("1001",)))
    assert (result.outcome, result.code) == (Outcome.OPTED_OUT, status_code)
    assert emulator.app.accepted == []


def test_rate_limit_answers_900231_and_is_retried(provider, emulator, client):
    emulator.app.knobs.rate_limit = 1
    first = provider.send(client, MESSAGE, Batch(key="d-1"))
    second = provider.send(client, MESSAGE, Batch(key="d-1"))
    assert first.outcome is Outcome.DELIVERED
    assert (second.outcome, second.code) == (Outcome.RETRY, "900231")
    assert len(emulator.app.accepted) == 1


@pytest.mark.parametrize(
    ("fault", "outcome", "code"),
    [
        ("900231", Outcome.RETRY, "900231"),
        ("900003", Outcome.RETRY, "900003"),
        ("900001", Outcome.FAILED, "900001"),
        ("503", Outcome.RETRY, "503"),
    ],
)
def test_provider_errors_map_to_documented_outcomes(provider, emulator, client, fault, outcome, code):
    emulator.app.knobs.faults = {fault: 1.0}
    result = provider.send(client, MESSAGE, Batch(key="d-1"))
    assert (result.outcome, result.code) == (outcome, code)
    assert emulator.app.accepted == []


def test_wrong_secret_key_is_a_jwt_authentication_failure(emulator, client):
    provider = BinanceProvider(account(emulator.url, secret="not-the-secret-key-0123456789abcdef"))
    result = provider.send(client, MESSAGE, Batch(key="d-1"))
    assert (result.outcome, result.code) == (Outcome.FAILED, "900002")
    ok, why = provider.check_outcome(result)
    assert not ok and "authentication refused" in why


def test_unknown_access_key_is_a_jwt_authentication_failure(emulator, client):
    provider = BinanceProvider(account(emulator.url, access_key="someone-else"))
    assert provider.send(client, MESSAGE, Batch(key="d-1")).code == "900002"


def test_body_changed_after_signing_fails_authentication(provider, client):
    request = provider.build_request(MESSAGE, Batch(key="d-1"))
    tampered = json.loads(request.content) | {"templateId": "99999999"}
    forged = with_body(request, json.dumps(tampered).encode())
    assert provider.parse_response(client.send(forged)).code == "900002"


def test_token_older_than_the_window_fails_authentication(start_emulator, client):
    emulator = start_emulator("binance", {ACCESS_KEY: SECRET_KEY}, ts_window=60)
    provider = BinanceProvider(account(emulator.url))
    request = provider.build_request(MESSAGE, Batch(key="d-1"))
    assert provider.parse_response(client.send(resign(request, ts=int(time.time()) - 30))).code == "000000"
    assert provider.parse_response(client.send(resign(request, ts=int(time.time()) - 120))).code == "900002"


def test_a_token_not_signed_with_hs256_fails_authentication(provider, client):
    request = provider.build_request(MESSAGE, Batch(key="d-1"))
    claims = {"iss": ACCESS_KEY, "dig": independent_dig(request), "ts": int(time.time())}
    request.headers["X-Mp-Open-Api-Token"] = jwt.encode(claims, SECRET_KEY, algorithm="HS512")
    assert provider.parse_response(client.send(request)).code == "900002"
    request.headers["X-Mp-Open-Api-Token"] = jwt.encode(claims, None, algorithm="none")
    assert provider.parse_response(client.send(request)).code == "900002"


def test_more_than_five_experience_uids_is_an_invalid_parameter(provider, client):
    request = provider.build_request(MESSAGE, Batch(key="p-1", preview=True, test_uids=("1",)))
    body = json.loads(request.content) | {"experienceUids": ["1", "2", "3", "4", "5", "6"]}
    result = provider.parse_response(client.send(resign(request, body=json.dumps(body).encode())))
    assert (result.outcome, result.code) == (Outcome.FAILED, "900001")


@pytest.mark.parametrize(
    "change",
    [
        {"templateId": ""},
        {"language": None},
        {"parameters": [{"name": "a"}]},
        {"appId": "another-app"},
        {"preview": True, "experienceUids": []},
        {"preview": "yes"},
    ],
)
def test_emulator_refuses_bodies_that_break_the_schema(provider, emulator, client, change):
    request = provider.build_request(MESSAGE, Batch(key="d-1"))
    body = json.dumps(json.loads(request.content) | change).encode()
    result = provider.parse_response(client.send(resign(request, body=body)))
    assert (result.outcome, result.code) == (Outcome.FAILED, "900001")
    assert emulator.app.accepted == []


def test_unknown_template_is_an_invalid_parameter(start_emulator, client):
    emulator = start_emulator("binance", {ACCESS_KEY: SECRET_KEY}, known_templates={"1"})
    result = BinanceProvider(account(emulator.url)).send(client, MESSAGE, Batch(key="d-1"))
    assert (result.outcome, result.code) == (Outcome.FAILED, "900001")


def test_a_timeout_is_unknown_because_binance_may_have_acted(provider, emulator):
    emulator.app.knobs.latency_ms = 400
    with httpx.Client(timeout=0.1) as slow:
        result = provider.send(slow, MESSAGE, Batch(key="d-1"))
    assert (result.outcome, result.code) == (Outcome.UNKNOWN, "TRANSPORT_ERROR")
    deadline = time.monotonic() + 2
    while not emulator.app.accepted and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(emulator.app.accepted) == 1  # it did act: resending would broadcast twice


def test_a_connection_dropped_after_accepting_is_unknown(provider, emulator, client):
    emulator.app.knobs.fail_after_accept = 1.0
    result = provider.send(client, MESSAGE, Batch(key="d-1"))
    assert result.outcome is Outcome.UNKNOWN
    assert len(emulator.app.accepted) == 1


def test_a_closed_port_is_retried_because_nothing_was_sent(client):
    provider = BinanceProvider(account("http://127.0.0.1:9"))
    result = provider.send(client, MESSAGE, Batch(key="d-1"))
    assert (result.outcome, result.code) == (Outcome.RETRY, "CONNECT_ERROR")


def test_a_path_that_is_not_the_api_is_a_configuration_failure(provider, emulator, client):
    wrong = httpx.Request("POST", emulator.url + "/mp-api/v1/apps/x/message/unknown", content=b"{}")
    result = provider.parse_response(client.send(wrong))
    assert (result.outcome, result.http_status) == (Outcome.FAILED, 404)
    ok, why = provider.check_outcome(result)
    assert not ok and "base URL" in why


# -- answers the emulator never gives ------------------------------------------


def answer(status: int, content: bytes, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=content, headers=headers)


def test_an_http_200_that_is_not_the_envelope_is_unknown():
    result = BinanceProvider(account("http://x")).parse_response(answer(200, b"<html>gateway</html>"))
    assert (result.outcome, result.code) == (Outcome.UNKNOWN, "UNPARSEABLE_RESPONSE")
    assert "envelope" in result.message


def test_success_with_an_undocumented_status_code_is_unknown():
    body = json.dumps({"code": "000000", "data": {"statusCode": "123"}, "success": True}).encode()
    result = BinanceProvider(account("http://x")).parse_response(answer(200, body))
    assert (result.outcome, result.code) == (Outcome.UNKNOWN, "123")


def test_server_errors_are_retried_with_retry_after():
    response = answer(502, b"bad gateway", **{"Retry-After": "7"})
    result = BinanceProvider(account("http://x")).parse_response(response)
    assert (result.outcome, result.code, result.retry_after) == (Outcome.RETRY, "HTTP_502", 7.0)


def test_other_http_errors_fail():
    result = BinanceProvider(account("http://x")).parse_response(answer(403, b"forbidden"))
    assert (result.outcome, result.code) == (Outcome.FAILED, "HTTP_403")


# -- limits and validation -----------------------------------------------------


def test_limits_say_broadcast_only_five_test_uids_and_no_idempotency_key():
    limits = BinanceProvider.limits
    assert (limits.ids_per_request, limits.broadcast) == (0, True)
    assert (limits.test_uids, limits.idempotent) == (5, False)


def test_validate_names_missing_template_and_too_many_experience_uids():
    uids = list("123456")
    message = Message(template_ref="", language="en", parameters={}, options={"experienceUids": uids})
    errors = BinanceProvider(account("http://x")).validate(message)
    assert errors["templateId"] == ["templateId is required"]
    assert "at most 5" in errors["experienceUids"][0]
    assert BinanceProvider(account("http://x")).validate(MESSAGE) == {}


def test_build_refuses_six_test_uids_a_user_list_and_missing_credentials():
    provider = BinanceProvider(account("http://x"))
    with pytest.raises(ProviderError) as six:
        provider.build_request(MESSAGE, Batch(key="p", preview=True, test_uids=tuple("123456")))
    assert six.value.field == "test_uids"
    with pytest.raises(ProviderError) as users:
        provider.build_request(MESSAGE, Batch(key="d", targets=(Target("u1"),)))
    assert users.value.field == "audience"
    bare = BinanceProvider(AccountConfig(kind="binance", base_url="http://x", app_id=APP_ID))
    with pytest.raises(ProviderError, match="access_key, secret_key"):
        bare.build_request(MESSAGE, Batch(key="d"))


def test_check_request_is_a_preview_to_the_configured_test_uid(emulator, client):
    provider = BinanceProvider(account(emulator.url, test_uid="777", check_template_id="13440001"))
    result = provider.parse_response(client.send(provider.check_request()))
    assert provider.check_outcome(result)[0]
    [accepted] = emulator.app.accepted
    assert accepted.targets == ("777",) and accepted.payload["preview"] is True
