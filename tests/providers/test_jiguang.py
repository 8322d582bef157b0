"""The Jiguang UMS template client against its emulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import socket
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from providers.base import AccountConfig, Batch, Message, Outcome, ProviderError, Target
from providers.jiguang import JiguangProvider, basic_authorization
from providers.registry import provider_class

CHANNEL_KEY = "7d431e42dfa6a6d693ac2d04"
MASTER_SECRET = "5e987ac6d2e04d95a9d8f0d1"
MESSAGE = Message(
    template_ref="10001",
    language="zh-CN",
    parameters={"user": "小明", "url": "https://example.com/a?b=c"},
    priority=2,
)
BEIJING = timezone(timedelta(hours=8))


def account(base_url: str, *, secret: str = MASTER_SECRET, timeout: float = 5, **settings) -> AccountConfig:
    return AccountConfig(
        kind="jiguang",
        base_url=base_url,
        app_id="",
        settings=settings,
        credentials={"channel_key": CHANNEL_KEY, "master_secret": secret},
        timeout=timeout,
    )


@pytest.fixture
def emulator(start_emulator):
    return start_emulator("jiguang", {CHANNEL_KEY: MASTER_SECRET})


@pytest.fixture
def provider(emulator):
    return JiguangProvider(account(emulator.url))


@pytest.fixture
def client():
    with httpx.Client() as c:
        yield c


def users(count: int, prefix: str = "user") -> tuple[Target, ...]:
    return tuple(Target(external_id=f"{prefix}_{i}") for i in range(count))


# -- success ------------------------------------------------------------------------


def test_registry_resolves_the_jiguang_kind_to_this_module():
    assert provider_class("jiguang") is JiguangProvider


def test_basic_auth_is_base64_of_channel_key_colon_master_secret():
    # The documentation's curl -u example and the header it shows.
    assert basic_authorization(channel_key=CHANNEL_KEY, master_secret=MASTER_SECRET) == (
        "Basic N2Q0MzFlNDJkZmE2YTZkNjkzYWMyZDA0OjVlOTg3YWM2ZDJlMDRkOTVhOWQ4ZjBkMQ=="
    )


def test_a_batch_without_an_audience_is_a_template_broadcast(provider, emulator, client):
    request = provider.build_request(MESSAGE, Batch(key="sendno-1"))
    result = provider.send(client, MESSAGE, Batch(key="sendno-1"))

    assert request.url.path == "/v1/template/broadcast"
    assert json.loads(request.content) == {
        "template_id": 10001,
        "template_para": {"user": "小明", "url": "https://example.com/a?b=c"},
        "option": {"sendno": "sendno-1", "priority": 2},
    }
    assert result.outcome is Outcome.DELIVERED
    assert result.code == "0"
    assert result.provider_message_id == result.raw["msgid"] != ""
    assert result.raw["sendno"] == "sendno-1"
    assert [(a.path, a.key, a.targets) for a in emulator.app.accepted] == [
        ("/v1/template/broadcast", "sendno-1", ("*",))
    ]


def test_user_ids_go_to_template_sent_preferring_the_jiguang_address(provider, emulator, client):
    batch = Batch(
        key="s", targets=(Target(external_id="crm_1", address="ums_1"), Target(external_id="crm_2"))
    )

    result = provider.send(client, MESSAGE, batch)

    assert result.outcome is Outcome.DELIVERED
    (accepted,) = emulator.app.accepted
    assert accepted.path == "/v1/template/sent"
    assert accepted.payload["aud_userid"] == ["ums_1", "crm_2"]
    assert accepted.targets == ("ums_1", "crm_2")


def test_tags_and_a_segment_go_to_template_sent(provider, emulator, client):
    result = provider.send(client, MESSAGE, Batch(key="s", tags=("vip", "上海"), segment="1000"))

    assert result.outcome is Outcome.DELIVERED
    payload = emulator.app.accepted[0].payload
    assert payload["aud_tag"] == ["vip", "上海"]
    assert payload["aud_segment"] == ["1000"]


def test_a_preview_goes_to_the_test_uids_only(provider, emulator, client):
    result = provider.send(client, MESSAGE, Batch(key="p", preview=True, test_uids=("tester_1", "tester_2")))

    assert result.outcome is Outcome.DELIVERED
    assert emulator.app.accepted[0].path == "/v1/template/sent"
    assert emulator.app.accepted[0].targets == ("tester_1", "tester_2")


def test_a_preview_without_test_uids_never_becomes_a_broadcast(provider):
    with pytest.raises(ProviderError, match="preview needs test user ids"):
        provider.build_request(MESSAGE, Batch(key="p", preview=True))


def test_2500_user_ids_are_sent_as_three_requests_of_at_most_1000(provider, emulator, client):
    targets = users(2500)

    groups = list(provider.batch_targets(targets))
    results = [provider.send(client, MESSAGE, Batch(key=f"s{i}", targets=g)) for i, g in enumerate(groups)]

    assert [r.outcome for r in results] == [Outcome.DELIVERED] * 3
    accepted = emulator.app.accepted
    assert len(accepted) == 3
    assert [len(a.targets) for a in accepted] == [1000, 1000, 500]
    counts = emulator.app.counts_by_target()
    assert set(counts) == {t.external_id for t in targets}
    assert set(counts.values()) == {1}


def test_options_fill_app_para_rule_id_callback_and_option_fields(provider, emulator, client):
    message = Message(
        template_ref="10001",
        language="en",
        parameters={"user": "x"},
        priority=1,
        options={
            "app_para": {"platform": "ios", "time_to_live": 9999, "apns_production": True},
            "rule_id": 1001,
            "callback": {"url": "https://www.jiguang.cn/ums-portal", "params": {"name": "joe"}},
            "owner": "admin",
            "black_id": 1234,
        },
    )

    result = provider.send(client, message, Batch(key="opt"))

    payload = emulator.app.accepted[0].payload
    assert result.outcome is Outcome.DELIVERED
    assert payload["app_para"] == {"platform": "ios", "time_to_live": 9999, "apns_production": True}
    assert payload["rule_id"] == 1001
    assert payload["callback"]["params"] == {"name": "joe"}
    assert payload["option"] == {"sendno": "opt", "priority": 1, "owner": "admin", "black_id": 1234}


def test_msgno_is_accepted_when_the_answer_has_no_msgid(provider):
    body = {"code": 0, "sendno": "aeg-efd-0e", "msgno": "v:1t:1603707455p:27133n:2"}

    result = provider.parse_response(httpx.Response(200, json=body))

    assert (result.outcome, result.provider_message_id) == (Outcome.DELIVERED, "v:1t:1603707455p:27133n:2")


# -- errors -------------------------------------------------------------------------


def test_a_wrong_master_secret_fails_with_4005(emulator, client):
    provider = JiguangProvider(account(emulator.url, secret="wrong"))

    result = provider.send(client, MESSAGE, Batch(key="s"))

    assert (result.outcome, result.code, result.http_status) == (Outcome.FAILED, "4005", 401)
    assert emulator.app.accepted == []


@pytest.mark.parametrize(("fault", "status"), [("1015030", 400), ("5000", 500)])
def test_frequency_and_server_errors_are_retried(provider, emulator, client, fault, status):
    emulator.app.knobs.faults = {fault: 1.0}

    result = provider.send(client, MESSAGE, Batch(key="s"))

    assert (result.outcome, result.code, result.http_status) == (Outcome.RETRY, fault, status)
    assert emulator.app.accepted == []


def test_the_daily_quota_is_retried_at_the_next_beijing_midnight(emulator, client):
    now = datetime(2025, 3, 1, 22, 30, tzinfo=BEIJING).timestamp()
    provider = JiguangProvider(account(emulator.url), clock=lambda: now)
    emulator.app.knobs.faults = {"1015029": 1.0}

    result = provider.send(client, MESSAGE, Batch(key="s"))

    assert (result.outcome, result.code) == (Outcome.RETRY, "1015029")
    assert result.retry_after == 90 * 60


def test_the_quota_time_zone_is_an_account_setting(emulator, client):
    now = datetime(2025, 3, 1, 22, 30, tzinfo=UTC).timestamp()
    provider = JiguangProvider(account(emulator.url, quota_timezone="UTC"), clock=lambda: now)
    emulator.app.knobs.faults = {"1015029": 1.0}

    assert provider.send(client, MESSAGE, Batch(key="s")).retry_after == 90 * 60


def test_the_emulators_daily_broadcast_quota_reaches_the_client_as_retry(start_emulator, client):
    server = start_emulator("jiguang", {CHANNEL_KEY: MASTER_SECRET}, daily_broadcast_quota=1)
    provider = JiguangProvider(account(server.url))

    first = provider.send(client, MESSAGE, Batch(key="b1"))
    second = provider.send(client, MESSAGE, Batch(key="b2"))

    assert first.outcome is Outcome.DELIVERED
    assert (second.outcome, second.code) == (Outcome.RETRY, "1015029")
    assert 0 < second.retry_after <= 86400


def test_the_rate_limit_answers_1015030_and_is_retried(provider, emulator, client):
    emulator.app.knobs.rate_limit = 1

    results = [provider.send(client, MESSAGE, Batch(key=f"s{i}")) for i in range(2)]

    assert [(r.outcome, r.code) for r in results] == [(Outcome.DELIVERED, "0"), (Outcome.RETRY, "1015030")]


@pytest.mark.parametrize("code", ["1015031", "1015026", "1015005", "1015034"])
def test_other_business_codes_are_permanent_failures(provider, emulator, client, code):
    emulator.app.knobs.faults = {code: 1.0}

    result = provider.send(client, MESSAGE, Batch(key="s"))

    assert (result.outcome, result.code, result.http_status) == (Outcome.FAILED, code, 400)


def test_an_unknown_template_fails_with_1015031(start_emulator, client):
    server = start_emulator("jiguang", {CHANNEL_KEY: MASTER_SECRET}, templates=[20002])

    result = JiguangProvider(account(server.url)).send(client, MESSAGE, Batch(key="s"))

    assert (result.outcome, result.code) == (Outcome.FAILED, "1015031")


def test_api_review_without_an_owner_fails_with_1015023(start_emulator, client):
    server = start_emulator("jiguang", {CHANNEL_KEY: MASTER_SECRET}, require_owner=True)
    provider = JiguangProvider(account(server.url))
    with_owner = Message(template_ref="10001", language="en", parameters={}, options={"owner": "admin"})

    refused = provider.send(client, MESSAGE, Batch(key="s1"))
    accepted = provider.send(client, with_owner, Batch(key="s2"))

    assert (refused.outcome, refused.code) == (Outcome.FAILED, "1015023")
    assert accepted.outcome is Outcome.DELIVERED


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_without_a_json_body_is_retried(provider, status):
    assert provider.parse_response(httpx.Response(status, text="oops")).outcome is Outcome.RETRY


def test_an_unreadable_200_is_unknown(provider):
    assert provider.parse_response(httpx.Response(200, text="<html>")).outcome is Outcome.UNKNOWN


# -- transport ----------------------------------------------------------------------


def test_a_timeout_is_unknown_because_sendno_is_not_deduplicated(emulator, client):
    emulator.app.knobs.latency_ms = 600
    provider = JiguangProvider(account(emulator.url, timeout=0.2))

    result = provider.send(client, MESSAGE, Batch(key="s"))

    assert (result.outcome, result.code) == (Outcome.UNKNOWN, "TRANSPORT_ERROR")


def test_a_refused_connection_is_retried(client):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    result = JiguangProvider(account(f"http://127.0.0.1:{port}")).send(client, MESSAGE, Batch(key="s"))

    assert (result.outcome, result.code) == (Outcome.RETRY, "CONNECT_ERROR")


# -- input rules --------------------------------------------------------------------


def test_a_non_integer_template_id_is_refused(provider):
    message = Message(template_ref="welcome", language="en", parameters={})

    assert "integer id of a general template" in provider.validate(message)["template"][0]
    with pytest.raises(ProviderError):
        provider.build_request(message, Batch(key="s"))


def test_user_ids_outside_the_ums_alphabet_are_named_before_sending(provider):
    batch = Batch(key="s", targets=(Target("ok_1"), Target("has-dash"), Target("x" * 65)))

    with pytest.raises(ProviderError, match="2 user id\\(s\\).*'has-dash'"):
        provider.build_request(MESSAGE, batch)


def test_more_than_1000_ids_or_20_tags_in_one_batch_are_refused(provider):
    with pytest.raises(ProviderError, match="1001 user ids"):
        provider.build_request(MESSAGE, Batch(key="s", targets=users(1001)))
    with pytest.raises(ProviderError, match="21 tags"):
        provider.build_request(MESSAGE, Batch(key="s", tags=tuple(f"t{i}" for i in range(21))))


def test_validate_refuses_black_and_white_list_together_and_bad_priority_and_unknown_options(provider):
    message = Message(
        template_ref="1",
        language="en",
        parameters={},
        priority=4,
        options={
            "black_id": 1,
            "white_id": 2,
            "colour": "red",
            "app_para": {"platform": "ios", "time_to_live": 864001},
        },
    )

    errors = provider.validate(message)

    assert errors["priority"] == ["priority 4 must be 1 (high), 2 (medium) or 3 (low)"]
    assert any("colour" in e for e in errors["options"])
    assert "black_id and white_id cannot both be given" in errors["options"]
    assert any("time_to_live 864001" in e for e in errors["options"])


def test_the_master_secret_is_only_in_the_authorization_header(provider):
    request = provider.build_request(MESSAGE, Batch(key="s"))

    assert MASTER_SECRET not in repr(provider.account)
    assert MASTER_SECRET.encode() not in request.content
    assert MASTER_SECRET not in str(request.url)
    token = request.headers["authorization"].removeprefix("Basic ")
    assert base64.b64decode(token).decode() == f"{CHANNEL_KEY}:{MASTER_SECRET}"


def test_a_connection_dropped_after_the_emulator_accepted_is_unknown(provider, emulator, client):
    emulator.app.knobs.fail_after_accept = 1.0

    result = provider.send(client, MESSAGE, Batch(key="s"))

    assert result.outcome is Outcome.UNKNOWN
    assert emulator.app.counts_by_key() == {"s": 1}


# -- account check (manage.py check_provider) ----------------------------------------


def check(provider: JiguangProvider, client: httpx.Client) -> tuple[bool, str]:
    return provider.check_outcome(provider.parse_response(client.send(provider.check_request())))


def test_the_account_check_retracts_a_message_that_cannot_exist_and_passes(provider, emulator, client):
    request = provider.check_request()
    ok, why = check(provider, client)

    assert request.url.path.startswith("/v1/retract/crier-check-")
    assert ok, why
    assert emulator.app.accepted == []


def test_the_account_check_fails_on_a_wrong_master_secret(emulator, client):
    ok, why = check(JiguangProvider(account(emulator.url, secret="wrong")), client)

    assert not ok
    assert "authentication refused" in why and "4005" in why
