"""A local stand-in for Jiguang UMS template sends and retract (docs/providers.md §4).

Endpoints: ``POST /v1/template/broadcast``, ``POST /v1/template/sent`` and
``POST /v1/retract/{msgid}``, behind HTTP Basic auth ``base64(channel_key:master_secret)``
(401 ``{"code":4005}`` on failure). Business errors are HTTP 400 with
``{"code", "message"}``, 5000 is HTTP 500; success is ``{"code":0,"sendno","msgid"}``.

The message object is checked per §4.3: ``template_id`` (int) and ``template_para``
(object) required; ≤ 1000 ``aud_userid`` (else 1015004), ≤ 20 ``aud_tag``, ≤ 1
``aud_segment``; channel registration ids (``aud_app``, ``aud_sms``, …) never mixed with
tag/userid/segment; ``msg_xxx`` → 1015094; ``black_id`` with ``white_id`` → 1015097;
``app_para.time_to_live`` ≤ 10 days; ``option.priority`` 1–3. Codes the documentation
does not give (a bad tag, a bad priority, …) answer 4004 "invalid parameter".

Knobs: faults ``1015030`` (400), ``5000`` (500), ``1015029`` (400) or any other code
(400); the rate limit answers 1015030; ``daily_broadcast_quota`` (0: none) answers 1015029
once that many broadcasts were accepted today (Beijing time); ``require_owner`` answers
1015023 when ``option.owner`` is missing (API review switched on); ``templates`` limits
the known template ids (1015031 otherwise).

Accepted sends are recorded with key = ``sendno`` and targets = the user ids, ``("*",)``
for a broadcast, ``tag:…``/``segment:…`` for tag and segment sends.

``callback.url`` must be http(s) without a custom port, and ``rule_id`` is refused with
channel registration ids (it has no effect there). :func:`callback_records`,
:func:`callback_batches` and :func:`callback_headers` build the status callbacks UMS
posts to a customer (batches of ≤ 100 records, Basic auth), for tests of a receiver.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from providers.emulators.base import Emulator, EmuRequest, EmuResponse

BROADCAST_PATH = "/v1/template/broadcast"
SENT_PATH = "/v1/template/sent"
RETRACT_PREFIX = "/v1/retract/"
USER_AUDIENCES = ("aud_userid", "aud_tag", "aud_segment")
CHANNEL_AUDIENCES = (
    "aud_app", "aud_wechatoa", "aud_wechatmp", "aud_sms", "aud_email", "aud_alipay_life",
    "aud_dingtalk_cc", "aud_wechatwk", "aud_wechatwk_linkedcorp",
)  # fmt: skip
PLATFORMS = {"android", "ios", "quickapp", "web", "all"}
USERID = re.compile(r"^[A-Za-z0-9_@!#$&*+=.|¥]{1,64}$")
TAG = re.compile(r"^[A-Za-z0-9_@!#$&*+=.|¥\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+$")
MAX_IDS = 1000
MAX_TAGS = 20
MAX_TAG_BYTES = 40
MAX_TIME_TO_LIVE = 10 * 86400
RETRACT_WINDOW = 24 * 3600
BEIJING = timezone(timedelta(hours=8))

CODE_INVALID = 4004
CODE_AUTH = 4005
CODE_SERVER = 5000
MESSAGES: dict[int, str] = {
    4004: "invalid parameter",
    4005: "auth failed: check ChannelKey and MasterSecret",
    5000: "server error",
    1015004: "more than 1000 userids in one send",
    1015023: "API review is on: option.owner is required",
    1015029: "today's broadcast quota is used up",
    1015030: "API request frequency exceeded",
    1015031: "template id does not exist",
    1015055: "message already retracted",
    1015094: "msg_xxx cannot be used in a template send",
    1015097: "black_id and white_id cannot both be given",
}


class _Reject(Exception):
    """Stop handling a request and answer ``code`` (HTTP ``status``)."""

    def __init__(self, code: int, detail: str = "", status: int = 400) -> None:
        super().__init__(code)
        self.code, self.detail, self.status = code, detail, status


@dataclass
class SentMessage:
    msgid: str
    sendno: str
    at: float
    retracted: bool = False


class JiguangEmulator(Emulator):
    """Jiguang UMS: template broadcast/sent and retract, with the documented checks."""

    kind = "jiguang"

    def __init__(
        self,
        credentials: Mapping[str, str] | None = None,
        *,
        seed: int | None = None,
        daily_broadcast_quota: int = 0,
        require_owner: bool = False,
        include_msgno: bool = False,
        templates: Iterable[int] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(credentials, seed=seed)
        self.daily_broadcast_quota = daily_broadcast_quota
        self.require_owner = require_owner
        self.include_msgno = include_msgno  # the doc example answers msgno, its table msgid
        self.templates: set[int] = set(templates or ())
        self.clock = clock
        self.messages: dict[str, SentMessage] = {}
        self._broadcasts_by_day: dict[str, int] = {}
        self._sequence = 0
        self._process = self.random.randint(10000, 99999)
        self._state = threading.Lock()

    def reset(self) -> None:
        super().reset()
        with self._state:
            self.messages.clear()
            self._broadcasts_by_day.clear()

    # -- responses ---------------------------------------------------------
    @staticmethod
    def _error(code: int, detail: str = "", status: int = 400) -> EmuResponse:
        message = MESSAGES.get(code, "error")
        return EmuResponse.json(
            status, {"code": code, "message": f"{message}: {detail}" if detail else message}
        )

    def fault(self, code: str, request: EmuRequest) -> EmuResponse:
        """Return the UMS error for an injected ``code`` (5000 is HTTP 500, the rest 400)."""
        number = int(code) if code.lstrip("-").isdigit() else CODE_SERVER
        return self._error(number, "injected fault", 500 if number == CODE_SERVER else 400)

    def rate_limited(self, request: EmuRequest) -> EmuResponse:
        """Return UMS's API frequency error."""
        return self._error(1015030)

    # -- handling ----------------------------------------------------------
    def handle(self, request: EmuRequest) -> EmuResponse:
        """Authenticate, then send or retract."""
        try:
            return self._handle(request)
        except _Reject as reject:
            return self._error(reject.code, reject.detail, reject.status)

    def _authenticate(self, request: EmuRequest) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        channel_key, sep, secret = decoded.partition(":")
        expected = self.credentials.get(channel_key)
        if (
            scheme.lower() != "basic"
            or not sep
            or expected is None
            or not hmac.compare_digest(expected, secret)
        ):
            raise _Reject(CODE_AUTH, status=401)
        return channel_key

    def _handle(self, request: EmuRequest) -> EmuResponse:
        known = request.path in (BROADCAST_PATH, SENT_PATH) or request.path.startswith(RETRACT_PREFIX)
        if not known:
            return EmuResponse.json(404, {"code": 404, "message": f"no such API: {request.path}"})
        if request.method != "POST":
            return EmuResponse.json(405, {"code": 405, "message": f"{request.method} is not allowed"})
        self._authenticate(request)
        if request.path.startswith(RETRACT_PREFIX):
            return self._retract(request.path.removeprefix(RETRACT_PREFIX))
        try:
            body = request.json()
        except ValueError:
            raise _Reject(CODE_INVALID, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise _Reject(CODE_INVALID, "the body must be a JSON object")
        targets = self._check(body, broadcast=request.path == BROADCAST_PATH)
        option = body.get("option") or {}
        sendno = option.get("sendno", "")
        with self._state:
            if request.path == BROADCAST_PATH and self.daily_broadcast_quota:
                day = datetime.fromtimestamp(self.clock(), BEIJING).strftime("%Y-%m-%d")
                if self._broadcasts_by_day.get(day, 0) >= self.daily_broadcast_quota:
                    raise _Reject(1015029, f"{self.daily_broadcast_quota} broadcasts a day")
                self._broadcasts_by_day[day] = self._broadcasts_by_day.get(day, 0) + 1
            self._sequence += 1
            msgid = f"v:1t:{int(self.clock())}p:{self._process}n:{self._sequence}"
            self.messages[msgid] = SentMessage(msgid, sendno, self.clock())
        self.accept(request, key=sendno, targets=targets, payload=body)
        answer: dict[str, Any] = {"code": 0}
        if "sendno" in option:
            answer["sendno"] = sendno
        answer["msgid"] = msgid
        if self.include_msgno:
            answer["msgno"] = msgid
        return EmuResponse.json(200, answer)

    def _retract(self, msgid: str) -> EmuResponse:
        with self._state:
            sent = self.messages.get(msgid)
            if sent is None:
                raise _Reject(CODE_INVALID, f"msgid {msgid} does not exist")
            if sent.retracted:
                raise _Reject(1015055)
            if self.clock() - sent.at > RETRACT_WINDOW:
                raise _Reject(CODE_INVALID, "only messages sent within the last 24 hours can be retracted")
            sent.retracted = True
        return EmuResponse.json(200, {"code": 0, "message": "success"})

    # -- the message object ------------------------------------------------
    def _check(self, body: Mapping[str, Any], *, broadcast: bool) -> tuple[str, ...]:
        """Validate the message object; return the targets it addresses."""
        if any(key.startswith("msg_") for key in body):
            raise _Reject(1015094)
        template_id = body.get("template_id")
        if isinstance(template_id, bool) or not isinstance(template_id, int):
            raise _Reject(CODE_INVALID, "template_id must be an integer")
        if self.templates and template_id not in self.templates:
            raise _Reject(1015031, str(template_id))
        if not isinstance(body.get("template_para"), dict):
            raise _Reject(CODE_INVALID, "template_para must be an object")
        audiences = {key for key in body if key.startswith("aud_")}
        unknown = audiences - set(USER_AUDIENCES) - set(CHANNEL_AUDIENCES)
        if unknown:
            raise _Reject(CODE_INVALID, f"unknown audience {', '.join(sorted(unknown))}")
        if broadcast and audiences:
            raise _Reject(CODE_INVALID, "a broadcast takes no aud_* (use /v1/template/sent)")
        if not broadcast and not audiences:
            raise _Reject(CODE_INVALID, "no audience: give aud_userid, aud_tag, aud_segment or channel ids")
        if audiences & set(USER_AUDIENCES) and audiences & set(CHANNEL_AUDIENCES):
            raise _Reject(CODE_INVALID, "channel registration ids cannot be mixed with tag/userid/segment")
        targets = self._check_audiences(body) if audiences else ("*",)
        self._check_app_para(body.get("app_para"))
        rule_id = body.get("rule_id")
        if rule_id is not None and (isinstance(rule_id, bool) or not isinstance(rule_id, int)):
            raise _Reject(CODE_INVALID, "rule_id must be an integer")
        self._check_option(body.get("option"))
        callback = body.get("callback")
        if callback is not None and (
            not isinstance(callback, dict)
            or not isinstance(callback.get("url", ""), str)
            or not isinstance(callback.get("params", {}), dict)
        ):
            raise _Reject(CODE_INVALID, "callback must be {url: string, params: object}")
        if callback and callback.get("url"):
            parts = urlsplit(callback["url"])
            if parts.scheme not in ("http", "https") or not parts.hostname or ":" in parts.netloc:
                raise _Reject(CODE_INVALID, "callback.url must be http(s) without a custom port")
        if rule_id and audiences & set(CHANNEL_AUDIENCES):
            raise _Reject(CODE_INVALID, "rule_id has no effect with channel registration ids")
        return targets

    def _strings(self, body: Mapping[str, Any], key: str) -> list[str]:
        values = body[key]
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise _Reject(CODE_INVALID, f"{key} must be a non-empty array of strings")
        return values

    def _check_audiences(self, body: Mapping[str, Any]) -> tuple[str, ...]:
        targets: list[str] = []
        if "aud_userid" in body:
            userids = self._strings(body, "aud_userid")
            if len(userids) > MAX_IDS:
                raise _Reject(1015004, f"{len(userids)} userids")
            bad = [u for u in userids if not USERID.match(u)]
            if bad:
                raise _Reject(CODE_INVALID, f"invalid userid {bad[0]!r}")
            targets += userids
        if "aud_tag" in body:
            tags = self._strings(body, "aud_tag")
            if len(tags) > MAX_TAGS:
                raise _Reject(CODE_INVALID, f"{len(tags)} tags; at most {MAX_TAGS} a send")
            bad = [t for t in tags if not TAG.match(t) or len(t.encode()) > MAX_TAG_BYTES]
            if bad:
                raise _Reject(CODE_INVALID, f"invalid tag {bad[0]!r}")
            targets += [f"tag:{t}" for t in tags]
        if "aud_segment" in body:
            segments = self._strings(body, "aud_segment")
            if len(segments) > 1:
                raise _Reject(CODE_INVALID, f"{len(segments)} segments; only 1 a send")
            targets += [f"segment:{s}" for s in segments]
        for key in CHANNEL_AUDIENCES:
            if key not in body:
                continue
            entries = body[key]
            if not isinstance(entries, list) or not entries:
                raise _Reject(CODE_INVALID, f"{key} must be a non-empty array of {{instance, data}}")
            for entry in entries:
                data = entry.get("data") if isinstance(entry, dict) else None
                if not isinstance(data, list) or not data or not all(isinstance(v, str) for v in data):
                    raise _Reject(CODE_INVALID, f"{key}[].data must be a non-empty array of strings")
                if len(data) > MAX_IDS:
                    raise _Reject(CODE_INVALID, f"{len(data)} ids in {key}; at most {MAX_IDS}")
                targets += [f"{key.removeprefix('aud_')}:{v}" for v in data]
        return tuple(targets)

    def _check_app_para(self, app_para: Any) -> None:
        if app_para is None:
            return
        if not isinstance(app_para, dict):
            raise _Reject(CODE_INVALID, "app_para must be an object")
        platform = app_para.get("platform")
        platforms = platform if isinstance(platform, list) else [platform]
        if not platforms or not all(p in PLATFORMS for p in platforms):
            raise _Reject(CODE_INVALID, f"app_para.platform {platform!r} is not one of {sorted(PLATFORMS)}")
        ttl = app_para.get("time_to_live")
        if ttl is not None and (
            isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_TIME_TO_LIVE
        ):
            raise _Reject(CODE_INVALID, f"app_para.time_to_live {ttl!r} must be 0 to {MAX_TIME_TO_LIVE}")
        if not isinstance(app_para.get("apns_production", True), bool):
            raise _Reject(CODE_INVALID, "app_para.apns_production must be a boolean")

    def _check_option(self, option: Any) -> None:
        if option is None:
            option = {}
        if not isinstance(option, dict):
            raise _Reject(CODE_INVALID, "option must be an object")
        if not isinstance(option.get("sendno", ""), str):
            raise _Reject(CODE_INVALID, "option.sendno must be a string")
        priority = option.get("priority")
        if priority is not None and (isinstance(priority, bool) or priority not in (1, 2, 3)):
            raise _Reject(CODE_INVALID, f"option.priority {priority!r} must be 1, 2 or 3")
        if option.get("black_id") is not None and option.get("white_id") is not None:
            raise _Reject(1015097)
        for name in ("black_id", "white_id"):
            value = option.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise _Reject(CODE_INVALID, f"option.{name} must be an integer")
        if "owner" in option and not isinstance(option["owner"], str):
            raise _Reject(CODE_INVALID, "option.owner must be a string")
        if self.require_owner and not option.get("owner"):
            raise _Reject(1015023)


# -- status callbacks (VIP): what UMS posts to the customer's callback URL ---------------

CALLBACK_TYPES: dict[int, str] = {
    0: "target valid",
    1: "target invalid",
    2: "submitted",
    3: "submit failed",
    4: "delivered",
    5: "delivery failed",
    6: "clicked",
    7: "retracted",
    8: "retract failed",
}
CALLBACK_BATCH = 100  # UMS posts a batch every 100 records (or after 10 s)


def callback_records(
    *,
    channel_key: str,
    msgid: str,
    userids: Iterable[str],
    type: int,
    at: float | None = None,
    params: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Return the status records UMS would post for ``userids`` of message ``msgid``.

    Fields as documented (docs/providers.md §4.8): ``type`` (0–8, see :data:`CALLBACK_TYPES`),
    ``channelkey``, ``msgid``, ``userid``, ``sender_id``; ``time`` (ms) and ``params`` (the
    request's ``callback.params``) are [INFER]: the field list seen was truncated there.
    """
    if type not in CALLBACK_TYPES:
        raise ValueError(f"callback type {type} is not one of {sorted(CALLBACK_TYPES)}")
    moment = int((time.time() if at is None else at) * 1000)
    records = []
    for userid in userids:
        record: dict[str, Any] = {
            "type": type,
            "channelkey": channel_key,
            "msgid": msgid,
            "userid": userid,
            "sender_id": channel_key,
            "time": moment,
        }
        if params:
            record["params"] = dict(params)
        records.append(record)
    return records


def callback_batches(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split ``records`` into the batches UMS posts (at most 100 records each)."""
    return [records[i : i + CALLBACK_BATCH] for i in range(0, len(records), CALLBACK_BATCH)]


def callback_headers(*, channel_key: str, master_secret: str) -> dict[str, str]:
    """Return the headers UMS sends with a callback: JSON, Basic ``channel_key:master_secret``."""
    token = base64.b64encode(f"{channel_key}:{master_secret}".encode()).decode("ascii")
    return {"Content-Type": "application/json", "Authorization": f"Basic {token}"}
