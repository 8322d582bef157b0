"""A local stand-in for the Alibaba Cloud API gateway in front of mPaaS Message Push.

It answers ``PushBroadcast``, ``CancelPushScheduler``, ``QueryPushSchedulerList`` and
``RevokePushTask`` at ``POST /`` the way the POP gateway and mPaaS do (docs/providers.md §3),
so the official SDKs work against it unchanged:

* **Signatures.** RPC signature 1.0 (HMAC-SHA1; ``aliyun-python-sdk-core``, our client,
  Tea with ``signature_algorithm='v2'``) and ACS3-HMAC-SHA256 (the Tea SDK default), the
  latter verified over the headers its ``SignedHeaders`` names. A mismatch answers 400
  ``SignatureDoesNotMatch`` with the server StringToSign after the colon, which
  ``aliyun-python-sdk-core`` compares with its own to tell a wrong secret
  (``InvalidAccessKeySecret``) from a signing bug. Unknown key: 404
  ``InvalidAccessKeyId.NotFound``; clock skew beyond ``timestamp_window`` or a reused
  ``SignatureNonce``: the gateway's 400s.
* **PushBroadcast rules.** Required parameters (gateway ``MissingParameter``), mPaaS
  result codes for bad values (``DeliveryType`` 1/2/7 → 3009/3030, ``ExpiredSeconds`` →
  3020/3026, ``TaskName`` → 3019, ``ExtendedParams`` > 20 keys → 3035, …), a reused
  ``Msgkey`` rejected with ``duplicate_msgkey_code`` (default ``3028 INVALID_PARAM``,
  docs/providers.md §5: the real code is undocumented), and the rules between the optional
  parameters (``PushStatus`` 0 needs ``BindPeriod``, 1/2 ``UnBindPeriod``, ``TimeMode`` 1
  the start/end times instead; ``AndroidChannel`` 1/2; ``Classification`` 0/1;
  ``TransparentMessageUrgency`` HIGH/NORMAL, only with a payload) answered ``3028``
  ``INVALID_PARAM`` [INFER]. Business failures are HTTP 200 with
  ``ResultCode`` = the numeric code and ``PushResult.Success`` false [INFER].
* **Scheduling.** ``StrategyType`` 1 (``fixedTime``) and 2 (recurring) go to a task
  table with the documented rules (≤ ``max_pending_tasks`` pending, start/end not before
  today 00:00, end ≥ start, end ≤ 180 days from today, in ``schedule_utc_offset`` hours,
  default Beijing time); ``PushResult.Data`` is the task id. The emulator lists and
  cancels tasks but fires nothing itself.
* **Revoke.** ``RevokePushTask`` takes the ``TaskId`` of an accepted broadcast
  (``PushResult.Data``) once; an unknown or already revoked id answers ``3028``.
* **Faults** (``knobs.faults``): ``Throttling.User``/``Throttling``/``Throttling.Api``
  (400) and ``ServiceUnavailable`` (503) with ``x-acs-retry-after`` (milliseconds, as the
  Tea retry policy reads it), ``InternalError``/``UnknownError`` (500), or a numeric mPaaS
  code answered as a business failure. The rate limit answers ``Throttling.User``.

Accepted broadcasts are recorded with key = ``Msgkey`` and targets ``("*",)``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

from providers.emulators.base import Emulator, EmuRequest, EmuResponse
from providers.emulators.mpaas_auth import PopAuthMixin, Reject
from providers.emulators.mpaas_scheduler import ScheduledTask, SchedulerMixin

VERSIONS = ("2019-08-21", "2020-10-28")
HOST_ID = "mpaas.aliyuncs.com"
PUSH_BROADCAST_REQUIRED = ("AppId", "WorkspaceId", "DeliveryType", "Msgkey", "ExpiredSeconds", "TemplateName")
INTEGER_PARAMS = (
    "DeliveryType",
    "ExpiredSeconds",
    "PushStatus",
    "BindPeriod",
    "UnBindPeriod",
    "StrategyType",
    "AndroidChannel",
    "TimeMode",
    "BindStartTime",
    "BindEndTime",
    "UnBindStartTime",
    "UnBindEndTime",
)
# Gateway faults: code → (HTTP status, message, carries x-acs-retry-after).
GATEWAY_FAULTS: dict[str, tuple[int, str, bool]] = {
    "Throttling": (400, "Request was denied due to request throttling.", True),
    "Throttling.User": (400, "Request was denied due to user flow control.", True),
    "Throttling.Api": (400, "Request was denied due to api flow control.", True),
    "ServiceUnavailable": (503, "The request has failed due to a temporary failure of the server.", True),
    "InternalError": (500, "The request processing has failed due to some unknown error.", False),
    "UnknownError": (500, "The request processing has failed due to some unknown error.", False),
}
# mPaaS result code names (docs/providers.md §3.6), used in business failure messages.
RESULT_NAMES: dict[str, str] = {
    "3003": "NEED_APPID_WORKSPACEID",
    "3007": "APPID_WRONG",
    "3009": "DELIVERY_TYPE_NOT_SUPPORTED",
    "3019": "TASKNAME_NULL",
    "3020": "EXPIREDSECONDS_WRONG",
    "3022": "TEMPLATE_NOT_EXIST",
    "3023": "TEMPLATEKV_NOT_ENOUGH",
    "3025": "NEED_TEMPLATE",
    "3026": "EXPIREDTIME_TOO_LONG",
    "3028": "INVALID_PARAM",
    "3030": "BROADCAST_ONLY_SUPPORT_BY_DEVICE",
    "3032": "REST_API_SWITCH_NOT_OPEN",
    "3035": "EXTEND_PARAM_TO_MUCH",
    "3044": "INVALID_EXTEND_PARAM",
}


class MpaasEmulator(PopAuthMixin, SchedulerMixin, Emulator):
    """The POP gateway + mPaaS push backend for PushBroadcast and its scheduler APIs."""

    kind = "mpaas"

    def __init__(
        self,
        credentials: Mapping[str, str] | None = None,
        *,
        seed: int | None = None,
        timestamp_window: float = 900.0,
        duplicate_msgkey_code: str = "3028",
        max_expired_seconds: int = 72 * 3600,
        max_pending_tasks: int = 100,
        schedule_utc_offset: float = 8.0,
        immediate_task_id: bool = True,
        require_task_name: bool = True,
        retry_after_ms: int = 1000,
        apps: Mapping[str, str] | None = None,
        templates: Mapping[str, Iterable[str]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(credentials, seed=seed)
        self.timestamp_window = timestamp_window
        self.duplicate_msgkey_code = duplicate_msgkey_code
        self.max_expired_seconds = max_expired_seconds  # [INFER] no documented maximum; 72 h
        self.max_pending_tasks = max_pending_tasks
        self.schedule_tz = timezone(timedelta(hours=schedule_utc_offset))
        self.immediate_task_id = immediate_task_id
        self.require_task_name = require_task_name
        self.retry_after_ms = retry_after_ms
        # Known apps (AppId → WorkspaceId) and templates (name → placeholders); empty: any.
        self.apps: dict[str, str] = dict(apps or {})
        self.templates: dict[str, set[str]] = {k: set(v) for k, v in (templates or {}).items()}
        self.clock = clock
        self.tasks: dict[str, ScheduledTask] = {}
        # Every accepted broadcast by task id: (app id, workspace id) and its Msgkey; revoked ids.
        self.pushes: dict[str, tuple[tuple[str, str], str]] = {}
        self.revoked: set[str] = set()
        self._msgkeys: set[tuple[str, str, str]] = set()
        self._nonces: dict[str, float] = {}
        self._state = threading.Lock()

    def reset(self) -> None:
        super().reset()
        with self._state:
            self.tasks.clear()
            self.pushes.clear()
            self.revoked.clear()
            self._msgkeys.clear()
            self._nonces.clear()

    # -- responses ---------------------------------------------------------
    def _pop_error(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> EmuResponse:
        request_id = str(uuid.uuid4()).upper()
        body = {
            "RequestId": request_id,
            "HostId": HOST_ID,
            "Code": code,
            "Message": message,
            "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}",
        }
        return EmuResponse.json(status, body, {"x-acs-request-id": request_id, **(headers or {})})

    def _missing(self, name: str) -> Reject:
        return Reject(
            self._pop_error(
                400,
                "MissingParameter",
                f'The input parameter "{name}" that is mandatory for processing this request '
                "is not supplied.",
            )
        )

    def _invalid(self, name: str) -> Reject:
        return Reject(
            self._pop_error(400, "InvalidParameter", f'The specified parameter "{name}" is not valid.')
        )

    def _ok(self, payload: Mapping[str, Any]) -> EmuResponse:
        request_id = str(uuid.uuid4()).upper()
        return EmuResponse.json(200, {"RequestId": request_id, **payload}, {"x-acs-request-id": request_id})

    def _business_error(self, code: str, detail: str, *, push: bool = True) -> Reject:
        """Return a business failure: HTTP 200, ``ResultCode`` = the code, and for push
        actions a ``PushResult`` with ``Success`` false [INFER: the shape is undocumented]."""
        text = f"{RESULT_NAMES.get(code, 'ERROR')}: {detail}"
        answer: dict[str, Any] = {"ResultCode": code, "ResultMessage": text}
        if push:
            answer["PushResult"] = {"Success": False, "ResultMsg": text, "Data": ""}
        return Reject(self._ok(answer))

    def _throttled(self, code: str) -> EmuResponse:
        status, message, retry = GATEWAY_FAULTS[code]
        headers = {"x-acs-retry-after": str(self.retry_after_ms)} if retry else {}
        return self._pop_error(status, code, message, headers)

    def fault(self, code: str, request: EmuRequest) -> EmuResponse:
        """Return the gateway error for ``code``, or a business failure for a numeric mPaaS code."""
        if code in GATEWAY_FAULTS:
            return self._throttled(code)
        return self._business_error(code, "injected fault").response

    def rate_limited(self, request: EmuRequest) -> EmuResponse:
        """Return the gateway's per-user flow-control error."""
        return self._throttled("Throttling.User")

    # -- dispatch ----------------------------------------------------------
    def handle(self, request: EmuRequest) -> EmuResponse:
        """Authenticate the request, then run its Action."""
        try:
            return self._handle(request)
        except Reject as reject:
            return reject.response

    def _handle(self, request: EmuRequest) -> EmuResponse:
        if request.path != "/" or request.method not in ("GET", "POST"):
            raise Reject(
                self._pop_error(
                    404,
                    "InvalidAction.NotFound",
                    "Specified api is not found, please check your url and method.",
                )
            )
        params = dict(request.query)
        if request.body and "json" not in request.headers.get("content-type", ""):
            try:
                form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError:
                raise self._business_error("3031", "the request body must be UTF-8") from None
            params.update({k: v[-1] for k, v in form.items()})
        authorization = request.headers.get("authorization", "")
        if authorization.startswith("ACS3-"):
            self._check_acs3(request, authorization)
            action = request.headers["x-acs-action"]
            version = request.headers["x-acs-version"]
        else:
            self._check_rpc(request, params)
            action, version = params.get("Action", ""), params.get("Version", "")
        if version not in VERSIONS:
            raise Reject(self._pop_error(400, "InvalidVersion", "Specified parameter Version is not valid."))
        handler = {
            "PushBroadcast": self._push_broadcast,
            "CancelPushScheduler": self._cancel_push_scheduler,
            "QueryPushSchedulerList": self._query_push_scheduler_list,
            "RevokePushTask": self._revoke_push_task,
        }.get(action)
        if handler is None:
            raise Reject(
                self._pop_error(
                    404,
                    "InvalidAction.NotFound",
                    "Specified api is not found, please check your url and method.",
                )
            )
        return handler(request, params)

    # -- PushBroadcast -----------------------------------------------------
    def _integers(self, params: Mapping[str, str]) -> dict[str, int]:
        values = {}
        for name in INTEGER_PARAMS:
            if params.get(name, "") != "":
                try:
                    values[name] = int(params[name])
                except ValueError:
                    raise self._invalid(name) from None
        return values

    def _json_object(self, params: Mapping[str, str], name: str, code: str) -> dict[str, Any] | None:
        if not params.get(name):
            return None
        try:
            value = json.loads(params[name])
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise self._business_error(code, f"{name} must be a JSON object")
        return value

    def _check_app(self, app_id: str, workspace_id: str, *, push: bool = True) -> None:
        if self.apps and self.apps.get(app_id) != workspace_id:
            raise self._business_error(
                "3007", f"appId {app_id} or workspace {workspace_id} is invalid", push=push
            )

    def _push_broadcast(self, request: EmuRequest, params: Mapping[str, str]) -> EmuResponse:
        for name in PUSH_BROADCAST_REQUIRED:
            if not params.get(name):
                raise self._missing(name)
        ints = self._integers(params)
        app_id, workspace_id, msgkey = params["AppId"], params["WorkspaceId"], params["Msgkey"]
        self._check_app(app_id, workspace_id)
        if self.require_task_name and not params.get("TaskName"):
            raise self._business_error("3019", "TaskName is empty")
        delivery = ints["DeliveryType"]
        if delivery == 3:
            raise self._business_error("3030", "a broadcast is sent by device (DeliveryType 1, 2 or 7)")
        if delivery not in (1, 2, 7):
            raise self._business_error("3009", f"DeliveryType {delivery} is not supported")
        expired = ints["ExpiredSeconds"]
        if expired <= 0:
            raise self._business_error("3020", f"ExpiredSeconds {expired} is invalid")
        if expired > self.max_expired_seconds:
            raise self._business_error(
                "3026", f"ExpiredSeconds {expired} exceeds the maximum {self.max_expired_seconds}"
            )
        key_values = self._json_object(params, "TemplateKeyValue", "3028") or {}
        template = params["TemplateName"]
        if self.templates:
            if template not in self.templates:
                raise self._business_error("3022", f"template {template} does not exist")
            missing = sorted(self.templates[template] - set(key_values))
            if missing:
                raise self._business_error(
                    "3023", f"template {template} needs values for {', '.join(missing)}"
                )
        extended = self._json_object(params, "ExtendedParams", "3044")
        if extended is not None and len(extended) > 20:
            raise self._business_error("3035", f"ExtendedParams has {len(extended)} keys; at most 20")
        self._check_push_options(params, ints)
        strategy = ints.get("StrategyType", 0)
        if strategy not in (0, 1, 2):
            raise self._business_error("3028", f"StrategyType {strategy} must be 0, 1 or 2")
        content = None
        if strategy:
            content = self._json_object(params, "StrategyContent", "3028")
            if content is None:
                raise self._business_error("3028", f"StrategyType {strategy} needs StrategyContent")
            self._check_strategy(strategy, content)

        with self._state:
            if (app_id, workspace_id, msgkey) in self._msgkeys:
                raise self._business_error(self.duplicate_msgkey_code, f"Msgkey {msgkey} is duplicated")
            task_id = uuid.uuid4().hex
            if strategy:
                now_ms = int(self.clock() * 1000)
                pending = sum(
                    1
                    for t in self.tasks.values()
                    if (t.app_id, t.workspace_id) == (app_id, workspace_id)
                    and t.pending(now_ms, self.schedule_tz)
                )
                if pending >= self.max_pending_tasks:
                    raise self._business_error(
                        "3028",
                        f"{pending} scheduled or recurring tasks are pending; at most "
                        f"{self.max_pending_tasks} are allowed",
                    )
                self.tasks[task_id] = ScheduledTask(
                    unique_id=task_id,
                    app_id=app_id,
                    workspace_id=workspace_id,
                    msgkey=msgkey,
                    strategy_type=strategy,
                    content=content or {},
                    delivery_type=delivery,
                    task_name=params.get("TaskName", ""),
                    template_name=template,
                    created_ms=now_ms,
                )
            self._msgkeys.add((app_id, workspace_id, msgkey))
            self.pushes[task_id] = ((app_id, workspace_id), msgkey)
        self.accept(request, key=msgkey, targets=("*",), payload=dict(params))
        data = task_id if strategy or self.immediate_task_id else ""
        return self._ok(
            {
                "ResultCode": "OK",
                "ResultMessage": "",
                "PushResult": {"Success": True, "ResultMsg": "", "Data": data},
            }
        )

    def _check_push_options(self, params: Mapping[str, str], ints: Mapping[str, int]) -> None:
        """Enforce the documented rules of the optional PushBroadcast parameters (3028 otherwise)."""
        if ints.get("PushStatus", 0) not in (0, 1, 2):
            raise self._business_error("3028", f"PushStatus {ints['PushStatus']} must be 0, 1 or 2")
        for name in ("BindPeriod", "UnBindPeriod"):
            if name in ints and ints[name] not in (1, 2, 3, 4):
                raise self._business_error("3028", f"{name} {ints[name]} must be 1, 2, 3 or 4")
        mode = ints.get("TimeMode", 0)
        if mode not in (0, 1):
            raise self._business_error("3028", f"TimeMode {mode} must be 0 or 1")
        if "PushStatus" in ints:
            status = ints["PushStatus"]
            prefix = "Bind" if status == 0 else "UnBind"
            needed = [f"{prefix}Period"] if mode == 0 else [f"{prefix}StartTime", f"{prefix}EndTime"]
            missing = [name for name in needed if name not in ints]
            if missing:
                raise self._business_error(
                    "3028", f"{', '.join(missing)} required when PushStatus is {status} and TimeMode {mode}"
                )
            if mode == 1 and ints[f"{prefix}StartTime"] > ints[f"{prefix}EndTime"]:
                raise self._business_error("3028", f"{prefix}EndTime is before {prefix}StartTime")
        if ints.get("AndroidChannel", 1) not in (1, 2):
            raise self._business_error("3028", f"AndroidChannel {ints['AndroidChannel']} must be 1 or 2")
        if params.get("Classification", "1") not in ("0", "1"):
            raise self._business_error("3028", f"Classification {params['Classification']!r} must be 0 or 1")
        urgency = params.get("TransparentMessageUrgency")
        if urgency:
            if urgency not in ("HIGH", "NORMAL"):
                raise self._business_error(
                    "3028", f"TransparentMessageUrgency {urgency!r} must be HIGH or NORMAL"
                )
            if not params.get("TransparentMessagePayload"):
                raise self._business_error(
                    "3028", "TransparentMessageUrgency needs TransparentMessagePayload"
                )
        for name in ("TransparentMessagePayload", "ThirdChannelCategory", "NotifyLevel"):
            self._json_object(params, name, "3028")

    def _revoke_push_task(self, request: EmuRequest, params: Mapping[str, str]) -> EmuResponse:
        """Revoke a broadcast by its task id (``PushResult.Data``): once, and only a known one."""
        for name in ("AppId", "WorkspaceId", "TaskId"):
            if not params.get(name):
                raise self._missing(name)
        self._check_app(params["AppId"], params["WorkspaceId"])
        owner = (params["AppId"], params["WorkspaceId"])
        task_id = params["TaskId"]
        with self._state:
            pushed = self.pushes.get(task_id)
            if pushed is None or pushed[0] != owner:
                raise self._business_error("3028", f"task {task_id} does not exist")
            if task_id in self.revoked:
                raise self._business_error("3028", f"task {task_id} is already revoked")
            self.revoked.add(task_id)
        return self._ok(
            {
                "ResultCode": "OK",
                "ResultMessage": "",
                "PushResult": {"Success": True, "ResultMsg": "", "Data": ""},
            }
        )
