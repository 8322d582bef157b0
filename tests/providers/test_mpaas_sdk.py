"""The official Alibaba Cloud SDKs against the mPaaS emulator, over real HTTP on 127.0.0.1.

If the emulator accepts what ``aliyun-python-sdk-core`` (RPC HMAC-SHA1) and
``alibabacloud-mpaas20201028`` (ACS3-HMAC-SHA256 by default) send, and answers what
they expect, it checks signatures the way the real gateway does.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from alibabacloud_mpaas20201028 import models as tea_models
from alibabacloud_mpaas20201028.client import Client as TeaClient
from alibabacloud_tea_openapi.exceptions import ClientException, ThrottlingException
from alibabacloud_tea_openapi.models import Config
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkmpaas.request.v20190821.PushBroadcastRequest import PushBroadcastRequest

ACCESS_KEY_ID = "LTAI-sdk-test"
ACCESS_KEY_SECRET = "sdk-secret-0123456789"
APP_ID = "ONEX570DA89211720"


@pytest.fixture
def emulator(start_emulator):
    return start_emulator("mpaas", {ACCESS_KEY_ID: ACCESS_KEY_SECRET})


def old_sdk_request(msgkey: str) -> PushBroadcastRequest:
    request = PushBroadcastRequest()
    request.set_endpoint("127.0.0.1")
    request.set_AppId(APP_ID)
    request.set_WorkspaceId("test")
    request.set_TemplateName("broadcastTemplate")
    request.set_TemplateKeyValue(json.dumps({"content": "This is an announcement ~ * 公告"}))
    request.set_DeliveryType(1)
    request.set_TaskName("Python test broadcast task")
    request.set_ExpiredSeconds(600)
    request.set_Msgkey(msgkey)
    return request


def old_sdk_client(port: int, *, secret: str = ACCESS_KEY_SECRET, key: str = ACCESS_KEY_ID) -> AcsClient:
    return AcsClient(key, secret, "cn-hangzhou", port=port, auto_retry=False)


def tea_client(port: int, *, secret: str = ACCESS_KEY_SECRET, **config) -> TeaClient:
    return TeaClient(
        Config(
            access_key_id=ACCESS_KEY_ID,
            access_key_secret=secret,
            endpoint=f"127.0.0.1:{port}",
            protocol="http",
            **config,
        )
    )


def tea_request(msgkey: str, **extra) -> tea_models.PushBroadcastRequest:
    return tea_models.PushBroadcastRequest(
        app_id=APP_ID,
        workspace_id="test",
        template_name="broadcastTemplate",
        template_key_value=json.dumps({"content": "This is an announcement"}),
        delivery_type=1,
        task_name="Tea test broadcast task",
        expired_seconds=600,
        msgkey=msgkey,
        **extra,
    )


# -- aliyun-python-sdk-core + aliyun-python-sdk-mpaas (RPC HMAC-SHA1) ----------------


def test_the_old_sdk_broadcast_is_accepted(emulator):
    answer = json.loads(old_sdk_client(emulator.port).do_action_with_exception(old_sdk_request("old-1")))

    assert answer["ResultCode"] == "OK"
    assert answer["PushResult"]["Success"] is True
    assert [(a.key, a.targets) for a in emulator.app.accepted] == [("old-1", ("*",))]


def test_the_old_sdk_with_a_wrong_secret_learns_its_secret_is_wrong(emulator):
    # The SDK rewrites SignatureDoesNotMatch to InvalidAccessKeySecret only when the
    # server's StringToSign equals its own: the emulator computed the very same string.
    with pytest.raises(ServerException) as raised:
        old_sdk_client(emulator.port, secret="wrong").do_action_with_exception(old_sdk_request("old-2"))

    assert raised.value.get_error_code() == "InvalidAccessKeySecret"
    assert raised.value.get_http_status() == 400
    assert emulator.app.accepted == []


def test_the_old_sdk_with_an_unknown_key_gets_not_found(emulator):
    with pytest.raises(ServerException) as raised:
        old_sdk_client(emulator.port, key="LTAI-nobody").do_action_with_exception(old_sdk_request("old-3"))

    assert raised.value.get_error_code() == "InvalidAccessKeyId.NotFound"
    assert raised.value.get_http_status() == 404


def test_the_old_sdk_sees_a_reused_msgkey_as_a_business_failure(emulator):
    client = old_sdk_client(emulator.port)
    client.do_action_with_exception(old_sdk_request("old-4"))

    answer = json.loads(client.do_action_with_exception(old_sdk_request("old-4")))

    assert answer["PushResult"]["Success"] is False
    assert answer["ResultCode"] == "3028"


# -- alibabacloud-mpaas20201028 (Tea, ACS3-HMAC-SHA256 by default) -------------------


def test_the_tea_sdk_broadcast_signed_with_acs3_is_accepted(emulator):
    response = tea_client(emulator.port).push_broadcast(tea_request("tea-1"))

    assert response.status_code == 200
    assert response.body.result_code == "OK"
    assert response.body.push_result.success is True
    assert response.body.push_result.data
    assert emulator.app.counts_by_key() == {"tea-1": 1}


def test_the_tea_sdk_with_a_wrong_secret_gets_the_signature_error(emulator):
    with pytest.raises(ClientException) as raised:
        tea_client(emulator.port, secret="wrong").push_broadcast(tea_request("tea-2"))

    assert raised.value.code == "SignatureDoesNotMatch"
    assert raised.value.status_code == 400
    assert "server string to sign is:ACS3-HMAC-SHA256\n" in raised.value.message
    assert emulator.app.accepted == []


def test_the_tea_sdk_signing_rpc_v2_is_accepted_too(emulator):
    response = tea_client(emulator.port, signature_algorithm="v2").push_broadcast(tea_request("tea-3"))

    assert response.body.push_result.success is True


def test_the_tea_sdk_raises_throttling_with_the_retry_after_header(emulator):
    emulator.app.knobs.faults = {"Throttling.User": 1.0}

    with pytest.raises(ThrottlingException) as raised:
        tea_client(emulator.port).push_broadcast(tea_request("tea-4"))

    assert raised.value.code == "Throttling.User"
    assert raised.value.retry_after == emulator.app.retry_after_ms


def test_the_tea_sdk_schedules_lists_and_cancels_a_recurring_broadcast(emulator):
    client = tea_client(emulator.port)
    now_ms = int(time.time() * 1000)
    day = 86400 * 1000
    content = {
        "startTime": now_ms + day,
        "endTime": now_ms + 15 * day,
        "circleType": 2,
        "circleValue": [1, 3],
        "time": "09:45:11",
    }

    created = client.push_broadcast(
        tea_request("tea-5", strategy_type=2, strategy_content=json.dumps(content))
    )
    parent = created.body.push_result.data
    listed = client.query_push_scheduler_list(
        tea_models.QueryPushSchedulerListRequest(
            app_id=APP_ID,
            workspace_id="test",
            start_time=now_ms,
            end_time=now_ms + 30 * day,
            unique_id=parent,
        )
    )
    rows = listed.body.result_content.data.list
    cancelled = client.cancel_push_scheduler(
        tea_models.CancelPushSchedulerRequest(app_id=APP_ID, workspace_id="test", unique_ids=parent)
    )
    after = client.query_push_scheduler_list(
        tea_models.QueryPushSchedulerListRequest(
            app_id=APP_ID, workspace_id="test", start_time=now_ms, end_time=now_ms + 30 * day
        )
    )

    beijing = timezone(timedelta(hours=8))
    first = datetime.fromtimestamp(content["startTime"] / 1000, beijing).date()
    days = [first + timedelta(days=n) for n in range(15)]
    assert parent
    assert len(rows) == sum(1 for d in days if d.isoweekday() in (1, 3))  # Mondays and Wednesdays
    assert listed.body.result_content.data.total_count == len(rows)
    assert {row.parent_id for row in rows} == {parent}
    assert all(row.strategy_type == 2 and row.type == 3 and row.executed_status == 0 for row in rows)
    assert cancelled.body.result_code == "OK" and cancelled.body.result_content == "1"
    assert after.body.result_content.data.total_count == 0
