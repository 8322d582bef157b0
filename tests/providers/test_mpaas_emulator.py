"""The mPaaS emulator's gateway and PushBroadcast rules, with hand-signed requests over HTTP."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from providers import aliyun_signature as sig

ACCESS_KEY_ID = "LTAI-emulator-test"
SECRET = "emulator-secret-0123456789"
APP_ID = "ONEX570DA89211720"
BEIJING = timezone(timedelta(hours=8))
DAY_MS = 86400 * 1000


@pytest.fixture
def emulator(start_emulator):
    return start_emulator("mpaas", {ACCESS_KEY_ID: SECRET})


def broadcast(**overrides) -> dict[str, str]:
    params = {
        "AppId": APP_ID,
        "WorkspaceId": "test",
        "TemplateName": "broadcastTemplate",
        "TemplateKeyValue": '{"content":"hi"}',
        "DeliveryType": "1",
        "TaskName": "task",
        "ExpiredSeconds": "600",
        "Msgkey": uuid.uuid4().hex,
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def rpc_post(
    url: str,
    body: dict[str, str],
    *,
    action: str = "PushBroadcast",
    secret: str = SECRET,
    timestamp: float | None = None,
    nonce: str | None = None,
    version: str = "2019-08-21",
) -> httpx.Response:
    """POST an RPC 1.0 request signed with our signer (checked against the SDK elsewhere)."""
    common = sig.rpc_common_params(
        action=action,
        version=version,
        access_key_id=ACCESS_KEY_ID,
        timestamp=time.strftime(sig.TIMESTAMP_FORMAT, time.gmtime(timestamp or time.time())),
        nonce=nonce or uuid.uuid4().hex,
        region_id="cn-hangzhou",
    )
    common["Signature"] = sig.rpc_signature(
        string_to_sign=sig.rpc_string_to_sign(method="POST", params={**common, **body}), secret=secret
    )
    return httpx.post(
        f"{url}/?{sig.form_encode(common)}",
        content=sig.form_encode(body),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def acs3_headers(url: str, body: bytes, *, signed: list[str] | None = None) -> dict[str, str]:
    host = url.removeprefix("http://")
    headers = {
        "host": host,
        "x-acs-action": "PushBroadcast",
        "x-acs-version": "2020-10-28",
        "x-acs-date": time.strftime(sig.TIMESTAMP_FORMAT, time.gmtime()),
        "x-acs-signature-nonce": uuid.uuid4().hex,
        "x-acs-content-sha256": sig.sha256_hex(body),
        "content-type": "application/x-www-form-urlencoded",
    }
    names = signed or sorted(headers)
    canonical = sig.acs3_canonical_request(
        method="POST",
        path="/",
        query={},
        headers=headers,
        signed_headers=names,
        payload_hash=sig.sha256_hex(body),
    )
    signature = sig.acs3_signature(string_to_sign=sig.acs3_string_to_sign(canonical), secret=SECRET)
    signed_list = ";".join(sorted(names))
    headers["authorization"] = (
        f"ACS3-HMAC-SHA256 Credential={ACCESS_KEY_ID},SignedHeaders={signed_list},Signature={signature}"
    )
    return headers


def business_code(response: httpx.Response) -> str:
    body = response.json()
    assert response.status_code == 200 and body["PushResult"]["Success"] is False
    return body["ResultCode"]


# -- gateway ------------------------------------------------------------------------


def test_a_signature_mismatch_carries_the_server_string_to_sign_after_the_colon(emulator):
    body = broadcast()
    response = rpc_post(emulator.url, body, secret="wrong")

    answer = response.json()
    assert response.status_code == 400
    assert answer["Code"] == "SignatureDoesNotMatch"
    prefix, string_to_sign = answer["Message"].split(":", 1)
    assert (
        prefix + ":" == "Specified signature is not matched with our calculation. server string to sign is:"
    )
    assert string_to_sign.startswith("POST&%2F&AccessKeyId%3DLTAI-emulator-test%26Action%3DPushBroadcast")
    assert {"RequestId", "HostId", "Recommend"} <= answer.keys()


def test_a_request_outside_the_timestamp_window_is_refused(emulator):
    response = rpc_post(emulator.url, broadcast(), timestamp=time.time() - 901)

    assert (response.status_code, response.json()["Code"]) == (400, "InvalidTimeStamp.Expired")


def test_the_timestamp_window_is_configurable(start_emulator):
    server = start_emulator("mpaas", {ACCESS_KEY_ID: SECRET}, timestamp_window=3600)

    response = rpc_post(server.url, broadcast(), timestamp=time.time() - 1800)

    assert response.status_code == 200


def test_a_reused_signature_nonce_is_refused(emulator):
    first = rpc_post(emulator.url, broadcast(), nonce="nonce-1")
    second = rpc_post(emulator.url, broadcast(), nonce="nonce-1")

    assert first.status_code == 200
    assert (second.status_code, second.json()["Code"]) == (400, "SignatureNonceUsed")


def test_a_missing_common_parameter_is_named(emulator):
    response = httpx.post(f"{emulator.url}/?Action=PushBroadcast&Version=2019-08-21", content=b"")

    assert (response.status_code, response.json()["Code"]) == (400, "MissingParameter")
    assert '"AccessKeyId"' in response.json()["Message"]


def test_an_unknown_action_is_not_found(emulator):
    response = rpc_post(emulator.url, {"AppId": APP_ID}, action="PushEverything")

    assert (response.status_code, response.json()["Code"]) == (404, "InvalidAction.NotFound")


def test_an_unknown_version_is_refused(emulator):
    response = rpc_post(emulator.url, broadcast(), version="2015-01-01")

    assert (response.status_code, response.json()["Code"]) == (400, "InvalidVersion")


def test_an_acs3_request_is_verified_over_the_headers_it_signed(emulator):
    body = sig.form_encode(broadcast()).encode()

    response = httpx.post(emulator.url + "/", content=body, headers=acs3_headers(emulator.url, body))

    assert response.status_code == 200, response.text


def test_an_acs3_request_with_a_tampered_body_is_refused(emulator):
    body = sig.form_encode(broadcast()).encode()
    headers = acs3_headers(emulator.url, body)

    response = httpx.post(emulator.url + "/", content=body.replace(b"600", b"601"), headers=headers)

    assert (response.status_code, response.json()["Code"]) == (400, "SignatureDoesNotMatch")
    assert emulator.app.accepted == []


def test_an_acs3_request_that_leaves_its_date_unsigned_is_incomplete(emulator):
    body = sig.form_encode(broadcast()).encode()
    signed = ["host", "x-acs-action", "x-acs-version", "x-acs-signature-nonce", "x-acs-content-sha256"]

    response = httpx.post(
        emulator.url + "/", content=body, headers=acs3_headers(emulator.url, body, signed=signed)
    )

    assert (response.status_code, response.json()["Code"]) == (400, "IncompleteSignature")


# -- PushBroadcast rules --------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["AppId", "WorkspaceId", "DeliveryType", "Msgkey", "ExpiredSeconds", "TemplateName"]
)
def test_a_missing_required_parameter_is_a_gateway_error(emulator, name):
    response = rpc_post(emulator.url, broadcast(**{name: None}))

    assert (response.status_code, response.json()["Code"]) == (400, "MissingParameter")
    assert f'"{name}"' in response.json()["Message"]


def test_a_non_numeric_delivery_type_is_an_invalid_parameter(emulator):
    response = rpc_post(emulator.url, broadcast(DeliveryType="android"))

    assert (response.status_code, response.json()["Code"]) == (400, "InvalidParameter")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"TaskName": None}, "3019"),
        ({"DeliveryType": "3"}, "3030"),
        ({"DeliveryType": "5"}, "3009"),
        ({"ExpiredSeconds": "0"}, "3020"),
        ({"ExpiredSeconds": str(72 * 3600 + 1)}, "3026"),
        ({"ExtendedParams": json.dumps({f"k{i}": "v" for i in range(21)})}, "3035"),
        ({"ExtendedParams": "not json"}, "3044"),
        ({"TemplateKeyValue": "[1, 2]"}, "3028"),
        ({"PushStatus": "3"}, "3028"),
        ({"StrategyType": "1"}, "3028"),
    ],
)
def test_invalid_values_get_the_documented_mpaas_result_code(emulator, overrides, code):
    response = rpc_post(emulator.url, broadcast(**overrides))

    assert business_code(response) == code
    assert emulator.app.accepted == []


@pytest.mark.parametrize("delivery_type", ["1", "2", "7"])
def test_android_ios_and_harmonyos_broadcasts_are_accepted(emulator, delivery_type):
    response = rpc_post(emulator.url, broadcast(DeliveryType=delivery_type))

    assert response.json()["PushResult"]["Success"] is True


def test_twenty_extended_params_are_accepted(emulator):
    response = rpc_post(emulator.url, broadcast(ExtendedParams=json.dumps({f"k{i}": "v" for i in range(20)})))

    assert response.json()["PushResult"]["Success"] is True


def test_the_duplicate_msgkey_code_is_configurable(start_emulator):
    server = start_emulator("mpaas", {ACCESS_KEY_ID: SECRET}, duplicate_msgkey_code="3099")
    rpc_post(server.url, broadcast(Msgkey="same"))

    response = rpc_post(server.url, broadcast(Msgkey="same"))

    assert business_code(response) == "3099"
    assert "Msgkey same is duplicated" in response.json()["ResultMessage"]


def test_a_rejected_request_does_not_use_up_its_msgkey(emulator):
    rejected = rpc_post(emulator.url, broadcast(Msgkey="k", DeliveryType="5"))
    accepted = rpc_post(emulator.url, broadcast(Msgkey="k"))

    assert business_code(rejected) == "3009"
    assert accepted.json()["PushResult"]["Success"] is True


def test_an_unknown_app_or_workspace_is_refused_when_apps_are_configured(start_emulator):
    server = start_emulator("mpaas", {ACCESS_KEY_ID: SECRET}, apps={APP_ID: "prod"})

    assert business_code(rpc_post(server.url, broadcast(WorkspaceId="test"))) == "3007"
    assert rpc_post(server.url, broadcast(WorkspaceId="prod")).status_code == 200


def test_immediate_broadcasts_can_answer_without_a_task_id(start_emulator):
    server = start_emulator("mpaas", {ACCESS_KEY_ID: SECRET}, immediate_task_id=False)

    answer = rpc_post(server.url, broadcast()).json()

    assert answer["PushResult"] == {"Success": True, "ResultMsg": "", "Data": ""}


# -- scheduling ---------------------------------------------------------------------


def today_start_ms() -> int:
    today = datetime.now(BEIJING).date()
    return int(datetime(today.year, today.month, today.day, tzinfo=BEIJING).timestamp() * 1000)


def recurring(**content) -> dict[str, str]:
    base = {
        "startTime": today_start_ms() + DAY_MS,
        "endTime": today_start_ms() + 10 * DAY_MS,
        "circleType": 1,
        "time": "09:45:11",
    }
    base.update(content)
    return broadcast(StrategyType="2", StrategyContent=json.dumps(base))


def scheduled(at_ms: int) -> dict[str, str]:
    return broadcast(StrategyType="1", StrategyContent=json.dumps({"fixedTime": at_ms}))


def test_a_scheduled_broadcast_returns_its_task_id_and_fires_nothing(emulator):
    answer = rpc_post(emulator.url, scheduled(int(time.time() * 1000) + DAY_MS)).json()

    task_id = answer["PushResult"]["Data"]
    assert emulator.app.tasks[task_id].strategy_type == 1
    assert [a.targets for a in emulator.app.accepted] == [("*",)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"startTime": today_start_ms() - 1}, "earlier than 00:00 today"),
        ({"endTime": today_start_ms() + 181 * DAY_MS}, "at most 180 days"),
        (
            {"startTime": today_start_ms() + 5 * DAY_MS, "endTime": today_start_ms() + 4 * DAY_MS},
            "earlier than",
        ),
        ({"circleType": 4}, "circleType"),
        ({"circleType": 2, "circleValue": [8]}, "circleValue"),
        ({"circleType": 3, "circleValue": []}, "circleValue"),
        ({"time": "25:00:00"}, "HH:mm:ss"),
    ],
)
def test_recurrence_rules_are_enforced(emulator, content, message):
    response = rpc_post(emulator.url, recurring(**content))

    assert business_code(response) == "3028"
    assert message in response.json()["ResultMessage"]


def test_a_recurrence_may_end_exactly_180_days_from_today(emulator):
    response = rpc_post(emulator.url, recurring(endTime=today_start_ms() + 180 * DAY_MS + 3600_000))

    assert response.json()["PushResult"]["Success"] is True


def test_a_scheduled_time_in_the_past_is_refused(emulator):
    response = rpc_post(emulator.url, scheduled(int(time.time() * 1000) - 1000))

    assert business_code(response) == "3028"
    assert "in the past" in response.json()["ResultMessage"]


def test_the_pending_task_limit_is_enforced_and_a_cancel_frees_a_slot(start_emulator):
    server = start_emulator("mpaas", {ACCESS_KEY_ID: SECRET}, max_pending_tasks=2)
    at = int(time.time() * 1000) + DAY_MS
    first = rpc_post(server.url, scheduled(at)).json()["PushResult"]["Data"]
    rpc_post(server.url, scheduled(at))

    refused = rpc_post(server.url, scheduled(at))
    cancel = rpc_post(
        server.url, {"AppId": APP_ID, "WorkspaceId": "test", "UniqueIds": first}, action="CancelPushScheduler"
    )
    again = rpc_post(server.url, scheduled(at))

    assert business_code(refused) == "3028"
    assert "at most 2" in refused.json()["ResultMessage"]
    assert cancel.json()["ResultContent"] == "1"
    assert again.json()["PushResult"]["Success"] is True


def test_a_past_schedule_no_longer_counts_as_pending(start_emulator):
    server = start_emulator("mpaas", {ACCESS_KEY_ID: SECRET}, max_pending_tasks=1)
    rpc_post(server.url, scheduled(int(time.time() * 1000) + 60_000))
    later = time.time() + 120
    server.app.clock = lambda: later

    response = rpc_post(server.url, scheduled(int(later * 1000) + 60_000), timestamp=later)

    assert response.json()["PushResult"]["Success"] is True


def test_a_recurring_task_lists_one_child_per_due_day_and_one_child_can_be_cancelled(emulator):
    parent = rpc_post(emulator.url, recurring()).json()["PushResult"]["Data"]
    window = {"AppId": APP_ID, "WorkspaceId": "test", "StartTime": "0", "EndTime": str(2**50)}

    rows = rpc_post(emulator.url, window, action="QueryPushSchedulerList").json()["ResultContent"]["Data"][
        "List"
    ]
    rpc_post(
        emulator.url,
        {"AppId": APP_ID, "WorkspaceId": "test", "UniqueIds": rows[0]["UniqueId"]},
        action="CancelPushScheduler",
    )
    after = rpc_post(emulator.url, window, action="QueryPushSchedulerList").json()["ResultContent"]["Data"]

    assert len(rows) == 10  # daily from tomorrow to ten days from today
    assert {row["ParentId"] for row in rows} == {parent}
    first = datetime.fromtimestamp(rows[0]["PushTime"] / 1000, BEIJING)
    assert first.strftime("%H:%M:%S") == "09:45:11"
    assert after["TotalCount"] == 9
    assert rows[0]["UniqueId"] not in {row["UniqueId"] for row in after["List"]}


def test_the_scheduler_list_filters_by_trigger_time_and_pages(emulator):
    rpc_post(emulator.url, recurring())
    start = today_start_ms() + 3 * DAY_MS
    query = {
        "AppId": APP_ID,
        "WorkspaceId": "test",
        "StartTime": str(start),
        "EndTime": str(start + 3 * DAY_MS),
    }

    page = rpc_post(
        emulator.url, {**query, "PageSize": "2", "PageNumber": "2"}, action="QueryPushSchedulerList"
    )

    data = page.json()["ResultContent"]["Data"]
    assert data["TotalCount"] == 3
    assert len(data["List"]) == 1


def test_the_scheduler_list_needs_its_time_window(emulator):
    response = rpc_post(
        emulator.url, {"AppId": APP_ID, "WorkspaceId": "test"}, action="QueryPushSchedulerList"
    )

    assert (response.status_code, response.json()["Code"]) == (400, "MissingParameter")


def test_reset_forgets_msgkeys_and_tasks(emulator):
    rpc_post(emulator.url, scheduled(int(time.time() * 1000) + DAY_MS))
    rpc_post(emulator.url, broadcast(Msgkey="again"))

    httpx.post(f"{emulator.url}/_emulator/reset")

    assert emulator.app.tasks == {}
    assert rpc_post(emulator.url, broadcast(Msgkey="again")).json()["PushResult"]["Success"] is True
