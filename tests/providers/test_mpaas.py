"""The mPaaS PushBroadcast client against its emulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from providers import aliyun_signature as sig
from providers.base import AccountConfig, Batch, Message, Outcome, ProviderError, Target
from providers.mpaas import MpaasProvider
from providers.registry import provider_class

ACCESS_KEY_ID = "LTAI-crier-test"
ACCESS_KEY_SECRET = "mpaas-secret-for-tests-0123456789"
APP_ID = "ONEX570DA89211720"
MESSAGE = Message(
    template_ref="broadcastTemplate",
    language="zh-CN",
    parameters={"content": "公告: 50% off * today ~ only"},
    expired_seconds=600,
    task_name="Spring sale",
)


def account(
    base_url: str,
    *,
    secret: str = ACCESS_KEY_SECRET,
    access_key_id: str = ACCESS_KEY_ID,
    timeout: float = 5,
    **settings,
) -> AccountConfig:
    return AccountConfig(
        kind="mpaas",
        base_url=base_url,
        app_id=APP_ID,
        settings={"workspace_id": "default", "delivery_type": 1, **settings},
        credentials={"access_key_id": access_key_id, "access_key_secret": secret},
        timeout=timeout,
    )


@pytest.fixture
def emulator(start_emulator):
    return start_emulator("mpaas", {ACCESS_KEY_ID: ACCESS_KEY_SECRET})


@pytest.fixture
def provider(emulator):
    return MpaasProvider(account(emulator.url))


@pytest.fixture
def client():
    with httpx.Client() as c:
        yield c


def sent_params(request: httpx.Request) -> tuple[dict[str, str], dict[str, str]]:
    query = {k: v[-1] for k, v in parse_qs(urlsplit(str(request.url)).query, keep_blank_values=True).items()}
    body = {k: v[-1] for k, v in parse_qs(request.content.decode(), keep_blank_values=True).items()}
    return query, body


# -- success ------------------------------------------------------------------------


def test_registry_resolves_the_mpaas_kind_to_this_module():
    assert provider_class("mpaas") is MpaasProvider


def test_broadcast_is_delivered_with_the_task_id_as_provider_message_id(provider, emulator, client):
    result = provider.send(client, MESSAGE, Batch(key="dispatch-1"))

    assert result.outcome is Outcome.DELIVERED
    assert result.code == "OK"
    assert result.http_status == 200
    assert result.provider_message_id == result.raw["PushResult"]["Data"] != ""
    accepted = emulator.app.accepted
    assert [(a.key, a.targets) for a in accepted] == [("dispatch-1", ("*",))]
    assert json.loads(accepted[0].payload["TemplateKeyValue"]) == dict(MESSAGE.parameters)


def test_common_params_travel_in_the_query_and_business_params_in_the_form_body(provider):
    request = provider.build_request(MESSAGE, Batch(key="dispatch-1"))
    query, body = sent_params(request)

    assert request.method == "POST"
    assert urlsplit(str(request.url)).path == "/"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert {"Action", "Version", "AccessKeyId", "Signature", "SignatureNonce", "Timestamp"} <= query.keys()
    assert query["Action"] == "PushBroadcast" and query["Version"] == "2019-08-21"
    assert body == {
        "AppId": APP_ID,
        "WorkspaceId": "default",
        "DeliveryType": "1",
        "TemplateName": "broadcastTemplate",
        "TemplateKeyValue": json.dumps(dict(MESSAGE.parameters), ensure_ascii=False, separators=(",", ":")),
        "TaskName": "Spring sale",
        "ExpiredSeconds": "600",
        "Msgkey": "dispatch-1",
    }


def test_every_sent_parameter_is_covered_by_the_signature(provider):
    request = provider.build_request(MESSAGE, Batch(key="dispatch-1"))
    query, body = sent_params(request)

    string_to_sign = sig.rpc_string_to_sign(method="POST", params={**query, **body})

    assert sig.rpc_signature(string_to_sign=string_to_sign, secret=ACCESS_KEY_SECRET) == query["Signature"]


def test_payload_is_the_same_for_the_same_message_and_batch(provider):
    assert provider.payload(MESSAGE, Batch(key="k")) == provider.payload(MESSAGE, Batch(key="k"))


def test_api_version_2020_10_28_can_be_chosen_per_account(emulator, client):
    provider = MpaasProvider(account(emulator.url, api_version="2020-10-28"))

    result = provider.send(client, MESSAGE, Batch(key="v2020"))

    assert result.outcome is Outcome.DELIVERED
    assert sent_params(provider.build_request(MESSAGE, Batch(key="x")))[0]["Version"] == "2020-10-28"


def test_delivery_type_and_scheduling_options_pass_through_by_wire_name(emulator, client):
    fixed = int((time.time() + 3600) * 1000)
    message = Message(
        template_ref="broadcastTemplate",
        language="en",
        parameters={"content": "hi"},
        options={
            "deliveryType": 2,
            "strategyType": 1,
            "StrategyContent": {"fixedTime": fixed},
            "PushStatus": 1,
            # PushStatus 1 and 2 need UnBindPeriod (docs/providers.md §3.3; checked since options.py).
            "UnBindPeriod": 2,
        },
    )
    provider = MpaasProvider(account(emulator.url))

    _query, body = sent_params(provider.build_request(message, Batch(key="scheduled-1")))
    result = provider.send(client, message, Batch(key="scheduled-1"))

    assert body["DeliveryType"] == "2"
    assert body["StrategyType"] == "1"
    assert json.loads(body["StrategyContent"]) == {"fixedTime": fixed}
    assert body["PushStatus"] == "1"
    assert body["UnBindPeriod"] == "2"
    assert result.outcome is Outcome.DELIVERED
    (task,) = emulator.app.tasks.values()
    assert result.provider_message_id == task.unique_id
    assert task.delivery_type == 2 and task.strategy_type == 1


# -- errors from the gateway --------------------------------------------------------


def test_a_reused_msgkey_fails_with_a_message_saying_it_was_probably_sent(provider, emulator, client):
    first = provider.send(client, MESSAGE, Batch(key="dispatch-1"))
    second = provider.send(client, MESSAGE, Batch(key="dispatch-1"))

    assert first.outcome is Outcome.DELIVERED
    assert second.outcome is Outcome.FAILED
    assert second.code == "3028"
    assert "Msgkey" in second.message and "probably accepted" in second.message
    assert emulator.app.counts_by_key()["dispatch-1"] == 1


def test_a_wrong_secret_fails_with_signature_does_not_match(emulator, client):
    provider = MpaasProvider(account(emulator.url, secret="not-the-secret"))

    result = provider.send(client, MESSAGE, Batch(key="k"))

    assert result.outcome is Outcome.FAILED
    assert result.code == "SignatureDoesNotMatch"
    assert result.http_status == 400
    assert "not-the-secret" not in result.message
    assert emulator.app.accepted == []


def test_an_unknown_access_key_fails_with_not_found(emulator, client):
    provider = MpaasProvider(account(emulator.url, access_key_id="LTAI-nobody"))

    result = provider.send(client, MESSAGE, Batch(key="k"))

    assert (result.outcome, result.code, result.http_status) == (
        Outcome.FAILED,
        "InvalidAccessKeyId.NotFound",
        404,
    )


def test_a_skewed_clock_fails_with_an_expired_timestamp(emulator, client):
    provider = MpaasProvider(account(emulator.url), clock=lambda: time.time() - 3600)

    result = provider.send(client, MESSAGE, Batch(key="k"))

    assert (result.outcome, result.code) == (Outcome.FAILED, "InvalidTimeStamp.Expired")


def test_a_reused_signature_nonce_fails(emulator, client):
    provider = MpaasProvider(account(emulator.url), nonce=lambda: "always-the-same")

    first = provider.send(client, MESSAGE, Batch(key="k1"))
    second = provider.send(client, MESSAGE, Batch(key="k2"))

    assert first.outcome is Outcome.DELIVERED
    assert (second.outcome, second.code) == (Outcome.FAILED, "SignatureNonceUsed")


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        ("Throttling.User", 400),
        ("Throttling", 400),
        ("Throttling.Api", 400),
        ("ServiceUnavailable", 503),
        ("InternalError", 500),
        ("UnknownError", 500),
    ],
)
def test_throttling_and_server_errors_are_retried(provider, emulator, client, fault, status):
    emulator.app.knobs.faults = {fault: 1.0}

    result = provider.send(client, MESSAGE, Batch(key="k"))

    assert (result.outcome, result.code, result.http_status) == (Outcome.RETRY, fault, status)
    assert emulator.app.accepted == []


def test_retry_after_is_taken_from_x_acs_retry_after_in_milliseconds(provider, emulator, client):
    emulator.app.retry_after_ms = 2500
    emulator.app.knobs.faults = {"Throttling.User": 1.0}

    result = provider.send(client, MESSAGE, Batch(key="k"))

    assert result.retry_after == 2.5


def test_the_rate_limit_answers_throttling_user_and_is_retried(provider, emulator, client):
    emulator.app.knobs.rate_limit = 1

    results = [provider.send(client, MESSAGE, Batch(key=f"k{i}")) for i in range(3)]

    assert results[0].outcome is Outcome.DELIVERED
    assert [(r.outcome, r.code) for r in results[1:]] == [(Outcome.RETRY, "Throttling.User")] * 2
    assert results[1].retry_after == 1.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_gateway_status_without_a_json_body_is_retried(provider, status):
    result = provider.parse_response(httpx.Response(status, text="<html>bad gateway</html>"))

    assert (result.outcome, result.code) == (Outcome.RETRY, f"HTTP_{status}")


def test_a_403_is_a_permanent_failure(provider):
    body = {"Code": "Forbidden.RAM", "Message": "User not authorized to operate on the specified resource."}

    result = provider.parse_response(httpx.Response(403, json=body))

    assert (result.outcome, result.code) == (Outcome.FAILED, "Forbidden.RAM")


def test_an_unreadable_200_is_unknown_because_the_broadcast_may_have_gone_out(provider):
    result = provider.parse_response(httpx.Response(200, text="not json"))

    assert result.outcome is Outcome.UNKNOWN


# -- mPaaS result codes -------------------------------------------------------------


@pytest.mark.parametrize("code", ["3007", "3009", "3019", "3020", "3022", "3023", "3026", "3030", "3035"])
def test_mpaas_result_codes_are_permanent_failures(provider, emulator, client, code):
    emulator.app.knobs.faults = {code: 1.0}

    result = provider.send(client, MESSAGE, Batch(key="k"))

    assert (result.outcome, result.code, result.http_status) == (Outcome.FAILED, code, 200)
    assert result.message


def test_an_unknown_template_is_reported_with_the_emulators_result_code(emulator, client):
    emulator.app.templates = {"otherTemplate": set()}
    provider = MpaasProvider(account(emulator.url))

    result = provider.send(client, MESSAGE, Batch(key="k"))

    assert (result.outcome, result.code) == (Outcome.FAILED, "3022")
    assert "broadcastTemplate" in result.message


def test_a_template_missing_a_value_is_reported(emulator, client):
    emulator.app.templates = {"broadcastTemplate": {"content", "link"}}
    provider = MpaasProvider(account(emulator.url))

    result = provider.send(client, MESSAGE, Batch(key="k"))

    assert (result.outcome, result.code) == (Outcome.FAILED, "3023")
    assert "link" in result.message


def test_a_success_false_answer_under_result_code_ok_is_a_failure(provider):
    body = {"ResultCode": "OK", "PushResult": {"Success": False, "ResultMsg": "3022: template not found"}}

    result = provider.parse_response(httpx.Response(200, json=body))

    assert (result.outcome, result.code) == (Outcome.FAILED, "3022")


# -- transport ----------------------------------------------------------------------


def test_a_timeout_is_unknown_because_mpaas_does_not_deduplicate(emulator, client):
    emulator.app.knobs.latency_ms = 600
    provider = MpaasProvider(account(emulator.url, timeout=0.2))

    result = provider.send(client, MESSAGE, Batch(key="k"))

    assert result.outcome is Outcome.UNKNOWN
    assert result.code == "TRANSPORT_ERROR"


def test_a_refused_connection_is_retried(client):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    provider = MpaasProvider(account(f"http://127.0.0.1:{port}"))

    result = provider.send(client, MESSAGE, Batch(key="k"))

    assert (result.outcome, result.code) == (Outcome.RETRY, "CONNECT_ERROR")


# -- input rules --------------------------------------------------------------------


def test_a_broadcast_cannot_address_users_tags_or_previews(provider):
    for batch in (
        Batch(key="k", targets=(Target("u1"),)),
        Batch(key="k", tags=("vip",)),
        Batch(key="k", segment="s1"),
        Batch(key="k", preview=True, test_uids=("u1",)),
    ):
        with pytest.raises(ProviderError, match="every device"):
            provider.build_request(MESSAGE, batch)


def test_validate_names_missing_workspace_delivery_type_and_template():
    provider = MpaasProvider(
        AccountConfig(kind="mpaas", base_url="http://x", app_id="", credentials={"access_key_id": "a"})
    )

    errors = provider.validate(Message(template_ref="", language="en", parameters={}))

    assert set(errors) == {"template", "account", "delivery_type"}
    assert any("workspace_id" in e for e in errors["account"])
    assert "1 (Android), 2 (iOS), 7 (HarmonyOS)" in errors["delivery_type"][0]


def test_validate_refuses_unknown_or_overriding_options_and_too_many_extended_params():
    provider = MpaasProvider(account("http://x"))
    message = Message(
        template_ref="t",
        language="en",
        parameters={},
        options={"Msgkey": "x", "colour": "red", "ExtendedParams": {f"k{i}": i for i in range(21)}},
    )

    errors = provider.validate(message)["options"]

    assert any("'Msgkey' is set by Crier" in e for e in errors)
    assert any("'colour' is not a PushBroadcast parameter" in e for e in errors)
    assert any("ExtendedParams has 21 keys" in e for e in errors)


def test_a_strategy_without_content_is_refused_before_sending(provider):
    message = Message(template_ref="t", language="en", parameters={}, options={"StrategyType": 2})

    with pytest.raises(ProviderError, match="StrategyType 2 needs StrategyContent"):
        provider.build_request(message, Batch(key="k"))


def test_secrets_never_appear_in_the_request_repr_or_the_account_repr(provider):
    request = provider.build_request(MESSAGE, Batch(key="k"))

    assert ACCESS_KEY_SECRET not in repr(provider.account)
    assert ACCESS_KEY_SECRET not in str(request.url)
    assert ACCESS_KEY_SECRET.encode() not in request.content


def test_a_connection_dropped_after_the_emulator_accepted_is_unknown(provider, emulator, client):
    emulator.app.knobs.fail_after_accept = 1.0

    result = provider.send(client, MESSAGE, Batch(key="k"))

    assert result.outcome is Outcome.UNKNOWN
    assert emulator.app.counts_by_key() == {"k": 1}


def test_ok_without_a_push_result_is_unknown(provider):
    result = provider.parse_response(httpx.Response(200, json={"RequestId": "r", "ResultCode": "OK"}))

    assert result.outcome is Outcome.UNKNOWN


def test_a_failure_message_without_a_code_gets_a_generic_code(provider):
    body = {"ResultCode": "OK", "PushResult": {"Success": False, "ResultMsg": "param is invalid"}}

    result = provider.parse_response(httpx.Response(200, json=body))

    assert (result.outcome, result.code, result.message) == (
        Outcome.FAILED,
        "PUSH_FAILED",
        "param is invalid",
    )


# -- account check (manage.py check_provider) ----------------------------------------


def check(provider: MpaasProvider, client: httpx.Client) -> tuple[bool, str]:
    request = provider.check_request()
    return provider.check_outcome(provider.parse_response(client.send(request)))


def test_the_account_check_is_a_read_only_scheduler_query_that_passes(provider, emulator, client):
    request = provider.check_request()
    ok, why = check(provider, client)

    assert sent_params(request)[0]["Action"] == "QueryPushSchedulerList"
    assert ok, why
    assert emulator.app.accepted == []


def test_the_account_check_fails_on_a_wrong_secret(emulator, client):
    ok, why = check(MpaasProvider(account(emulator.url, secret="wrong")), client)

    assert not ok
    assert "authentication refused" in why and "SignatureDoesNotMatch" in why
    assert "wrong" not in why.replace("SignatureDoesNotMatch", "")


def test_the_account_check_fails_on_an_unknown_workspace(start_emulator, client):
    server = start_emulator("mpaas", {ACCESS_KEY_ID: ACCESS_KEY_SECRET}, apps={APP_ID: "prod"})

    ok, why = check(MpaasProvider(account(server.url)), client)

    assert not ok
    assert "refused the app or workspace" in why


def test_the_account_check_fails_when_the_gateway_refuses_the_clock(emulator, client):
    ok, why = check(MpaasProvider(account(emulator.url), clock=lambda: time.time() - 7200), client)

    assert not ok
    assert "InvalidTimeStamp.Expired" in why
