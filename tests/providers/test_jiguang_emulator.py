"""The Jiguang UMS emulator's message-object rules, auth and retract, over real HTTP."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from providers.jiguang import basic_authorization

CHANNEL_KEY = "channel-key-emulator"
MASTER_SECRET = "master-secret-emulator"
AUTH = {"Authorization": basic_authorization(channel_key=CHANNEL_KEY, master_secret=MASTER_SECRET)}


@pytest.fixture
def emulator(start_emulator):
    return start_emulator("jiguang", {CHANNEL_KEY: MASTER_SECRET})


def message(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"template_id": 10001, "template_para": {"user": "x"}, "option": {"sendno": "n1"}}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def sent(url: str, body: dict[str, Any], headers: dict[str, str] = AUTH) -> httpx.Response:
    return httpx.post(f"{url}/v1/template/sent", json=body, headers=headers)


def broadcast(url: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{url}/v1/template/broadcast", json=body, headers=AUTH)


def code(response: httpx.Response) -> tuple[int, int]:
    return response.status_code, response.json()["code"]


# -- auth ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": basic_authorization(channel_key=CHANNEL_KEY, master_secret="wrong")},
        {"Authorization": basic_authorization(channel_key="other", master_secret=MASTER_SECRET)},
        {"Authorization": "Bearer abc"},
        {"Authorization": "Basic not-base64!"},
    ],
)
def test_bad_credentials_answer_401_with_code_4005(emulator, headers):
    response = sent(emulator.url, message(aud_userid=["u1"]), headers=headers)

    assert code(response) == (401, 4005)
    assert emulator.app.accepted == []


# -- the message object -------------------------------------------------------------


def test_a_send_answers_code_0_with_the_sendno_and_a_msgid(emulator):
    response = sent(emulator.url, message(aud_userid=["u1", "u2"]))

    body = response.json()
    assert response.status_code == 200
    assert body["code"] == 0 and body["sendno"] == "n1" and body["msgid"].startswith("v:1t:")
    assert [(a.key, a.targets) for a in emulator.app.accepted] == [("n1", ("u1", "u2"))]


def test_msgno_can_be_answered_as_in_the_documentation_example(start_emulator):
    server = start_emulator("jiguang", {CHANNEL_KEY: MASTER_SECRET}, include_msgno=True)

    body = broadcast(server.url, message()).json()

    assert body["msgno"] == body["msgid"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"msg_app": [{"platform": "android"}], "aud_userid": ["u1"]}, 1015094),
        ({"aud_userid": [f"u{i}" for i in range(1001)]}, 1015004),
        ({"aud_userid": ["has-dash"]}, 4004),
        ({"aud_userid": ["x" * 65]}, 4004),
        ({"aud_tag": [f"t{i}" for i in range(21)]}, 4004),
        ({"aud_tag": ["标" * 14]}, 4004),  # 42 bytes of UTF-8
        ({"aud_segment": ["1", "2"]}, 4004),
        ({"aud_userid": ["u1"], "aud_app": [{"instance": "app", "data": ["reg1"]}]}, 4004),
        ({"aud_sms": [{"data": [str(i) for i in range(1001)]}]}, 4004),
        ({"aud_nowhere": ["x"]}, 4004),
        ({}, 4004),
        ({"aud_userid": ["u1"], "template_id": "10001"}, 4004),
        ({"aud_userid": ["u1"], "template_id": None}, 4004),
        ({"aud_userid": ["u1"], "template_para": None}, 4004),
        ({"aud_userid": ["u1"], "template_para": ["x"]}, 4004),
        ({"aud_userid": ["u1"], "app_para": {"platform": "ios", "time_to_live": 864001}}, 4004),
        ({"aud_userid": ["u1"], "app_para": {"platform": "windows"}}, 4004),
        ({"aud_userid": ["u1"], "rule_id": "1001"}, 4004),
        ({"aud_userid": ["u1"], "option": {"priority": 4}}, 4004),
        ({"aud_userid": ["u1"], "option": {"black_id": 1, "white_id": 2}}, 1015097),
        ({"aud_userid": ["u1"], "callback": {"url": 5}}, 4004),
    ],
)
def test_invalid_message_objects_get_the_documented_code(emulator, fields, expected):
    response = sent(emulator.url, message(**fields))

    assert code(response) == (400, expected)
    assert response.json()["message"]
    assert emulator.app.accepted == []


@pytest.mark.parametrize(
    "fields",
    [
        {"aud_userid": [f"u{i}" for i in range(1000)]},
        {"aud_userid": ["a_b@c!d#e$f&g*h+i=j.k|l¥"]},
        {"aud_tag": [f"t{i}" for i in range(20)]},
        {"aud_tag": ["标" * 13]},  # 39 bytes
        {"aud_segment": ["1000"]},
        {
            "aud_app": [{"instance": "app", "data": ["170976fa8a9277fac6e"]}],
            "aud_sms": [{"data": ["18866007799"]}],
        },
        {"aud_userid": ["u1"], "app_para": {"platform": ["android", "ios"], "time_to_live": 864000}},
        {"aud_userid": ["u1"], "option": {"sendno": "n", "priority": 3, "white_id": 7, "owner": "admin"}},
    ],
)
def test_valid_message_objects_at_the_limits_are_accepted(emulator, fields):
    assert code(sent(emulator.url, message(**fields))) == (200, 0)


def test_a_broadcast_takes_no_audience(emulator):
    response = broadcast(emulator.url, message(aud_userid=["u1"]))

    assert code(response) == (400, 4004)
    assert "/v1/template/sent" in response.json()["message"]


def test_a_body_that_is_not_json_is_an_invalid_parameter(emulator):
    response = httpx.post(f"{emulator.url}/v1/template/sent", content=b"{nope", headers=AUTH)

    assert code(response) == (400, 4004)


def test_an_unknown_path_is_404(emulator):
    assert httpx.post(f"{emulator.url}/v1/sent", json=message(), headers=AUTH).status_code == 404


def test_channel_ids_and_tags_and_segments_are_recorded_as_prefixed_targets(emulator):
    sent(emulator.url, message(aud_tag=["vip"], aud_segment=["s1"]))
    sent(emulator.url, message(aud_app=[{"instance": "app", "data": ["reg1"]}]))

    assert [a.targets for a in emulator.app.accepted] == [("tag:vip", "segment:s1"), ("app:reg1",)]


# -- knobs --------------------------------------------------------------------------


def test_the_daily_broadcast_quota_resets_at_beijing_midnight(start_emulator):
    server = start_emulator("jiguang", {CHANNEL_KEY: MASTER_SECRET}, daily_broadcast_quota=2)
    now = [1_740_842_000.0]  # 2025-03-01 23:13:20 Beijing
    server.app.clock = lambda: now[0]

    answers = [code(broadcast(server.url, message())) for _ in range(3)]
    targeted = code(sent(server.url, message(aud_userid=["u1"])))
    now[0] += 3600  # past midnight in Beijing
    next_day = code(broadcast(server.url, message()))

    assert answers == [(200, 0), (200, 0), (400, 1015029)]
    assert targeted == (200, 0)
    assert next_day == (200, 0)


@pytest.mark.parametrize(("fault", "status"), [("1015030", 400), ("5000", 500), ("1015029", 400)])
def test_faults_answer_the_ums_error_shape(emulator, fault, status):
    emulator.app.knobs.faults = {fault: 1.0}

    assert code(sent(emulator.url, message(aud_userid=["u1"]))) == (status, int(fault))


def test_the_rate_limit_answers_1015030(emulator):
    emulator.app.knobs.rate_limit = 1

    answers = [code(sent(emulator.url, message(aud_userid=["u1"]))) for _ in range(2)]

    assert answers == [(200, 0), (400, 1015030)]


# -- retract ------------------------------------------------------------------------


def retract(url: str, msgid: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/retract/{quote(msgid, safe='')}", headers=AUTH)


def test_a_message_is_retracted_once(emulator):
    msgid = broadcast(emulator.url, message()).json()["msgid"]

    first = retract(emulator.url, msgid)
    second = retract(emulator.url, msgid)

    assert (first.status_code, first.json()) == (200, {"code": 0, "message": "success"})
    assert code(second) == (400, 1015055)


def test_a_message_older_than_24_hours_cannot_be_retracted(emulator):
    msgid = broadcast(emulator.url, message()).json()["msgid"]
    later = time.time() + 24 * 3600 + 1
    emulator.app.clock = lambda: later

    response = retract(emulator.url, msgid)

    assert code(response) == (400, 4004)
    assert "24 hours" in response.json()["message"]


def test_retracting_an_unknown_message_is_an_invalid_parameter(emulator):
    assert code(retract(emulator.url, "v:1t:1p:2n:3")) == (400, 4004)


def test_retract_needs_the_channel_credentials(emulator):
    msgid = broadcast(emulator.url, message()).json()["msgid"]

    response = httpx.post(f"{emulator.url}/v1/retract/{msgid}")

    assert code(response) == (401, 4005)
