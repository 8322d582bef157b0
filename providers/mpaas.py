"""Alibaba Cloud mPaaS Message Push: ``PushBroadcast`` (template push to every device).

Wire format (docs/providers.md §3): RPC/POP style, ``POST {base}/`` with the common parameters
(``Action``, ``Version``, ``AccessKeyId``, ``Timestamp``, ``SignatureNonce``, …,
``Signature``) in the query string and the business parameters form-urlencoded in the
body, all of them signed with HMAC-SHA1 signature 1.0 (:mod:`providers.aliyun_signature`),
exactly as ``aliyun-python-sdk-core`` sends them.

Version: ``2019-08-21`` by default, the version ``aliyun-python-sdk-mpaas`` and the
documentation's Python/Node/PHP samples speak; it is the one whose RPC 1.0 signing we
can check byte for byte against the official SDK. An account may set
``settings["api_version"] = "2020-10-28"`` (the Tea SDK's version: same action, same
parameter names, same signature 1.0 when signed the "v2" way) to get the newer API, e.g.
for native scheduling with ``StrategyType``/``StrategyContent``, which only the
2020-10-28 SDK models.

Account settings: ``workspace_id`` (required), ``delivery_type`` (1 Android, 2 iOS,
7 HarmonyOS; a campaign's ``provider_options["DeliveryType"]`` overrides it, and may list
several: one request each, see :meth:`MpaasProvider.request_variants`), ``region_id``
(default ``cn-hangzhou``), ``api_version``, ``native_scheduling`` and ``native_timezone``
(``campaigns.sending.native``). A request with ``StrategyType`` 1 or 2 is always sent as
2020-10-28, the only version that has it. Options are checked and normalised by
``providers.options`` (the documented rules between ``PushStatus``, the periods and
``TimeMode``, …).

Beyond PushBroadcast: ``RevokePushTask`` (recall a sent broadcast by its task id,
``PushResult.Data``, while the message is valid) and ``CancelPushScheduler`` (cancel
scheduled tasks), both 2020-10-28.

Idempotency: ``Msgkey`` (our ``Batch.key``) must be unique and mPaaS rejects a reused
one instead of replaying the first answer, so it is no dedupe key for us: a timeout is
``unknown`` (the broadcast may have gone out), and a "duplicate Msgkey" answer is a
permanent failure whose message tells the operator that an earlier attempt with the
same key was probably accepted.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from django.utils.translation import gettext_lazy

from providers import aliyun_signature as sig
from providers import mpaas_options
from providers.answers import check_code
from providers.base import (
    AccountConfig,
    Batch,
    Limits,
    Message,
    NativeSchedule,
    Outcome,
    Provider,
    ProviderError,
    Result,
    TemplateReference,
)
from providers.http import retry_after_seconds

ACTION = "PushBroadcast"
DEFAULT_VERSION = "2019-08-21"
VERSIONS = ("2019-08-21", "2020-10-28")
# The scheduler and revoke APIs exist only in 2020-10-28, whatever version an account sends with.
SCHEDULER_VERSION = "2020-10-28"
DEFAULT_REGION = "cn-hangzhou"
# The zone mPaaS's console evaluates schedules in unless the account says otherwise
# (settings["native_timezone"]).
DEFAULT_NATIVE_TIMEZONE = "Asia/Shanghai"
# What native scheduling sets (docs/providers.md §3.4); a campaign's options may not.
NATIVE_OPTIONS = frozenset({"StrategyType", "StrategyContent"})
DELIVERY_TYPES = {1: "Android", 2: "iOS", 7: "HarmonyOS"}
MAX_EXTENDED_PARAMS = 20

# Gateway codes the SDKs themselves retry (aliyunsdkcore retry_config.json), plus the
# HTTP statuses they retry; everything else the gateway says is permanent.
RETRYABLE_CODES = frozenset({"ServiceUnavailable", "InternalError", "UnknownError"})
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _leading_code(message: str) -> str:
    """Return the code a message starts with (``3022: …``, ``INVALID_PARAM: …``), or ``PUSH_FAILED``."""
    head = message.split(":", 1)[0].strip()
    return head if re.fullmatch(r"-?\d+|[A-Z][A-Z0-9_.]*", head) else "PUSH_FAILED"


def _is_duplicate_msgkey(text: str) -> bool:
    lowered = text.lower()
    return "msgkey" in lowered and any(
        word in lowered for word in ("duplicat", "repeat", "already", "exist", "used", "重复")
    )


class MpaasProvider(Provider):
    """Send a template broadcast to every device of one platform through mPaaS PushBroadcast."""

    kind: ClassVar[str] = "mpaas"
    label: ClassVar[str] = gettext_lazy("Alibaba Cloud mPaaS push")  # docs/i18n-glossary.md
    credential_fields: ClassVar[tuple[str, ...]] = ("access_key_id", "access_key_secret")
    # docs/providers.md §3.1: the SDKs' host, and the one the documentation's examples use.
    official_hosts: ClassVar[tuple[str, ...]] = (
        "https://mpaas.aliyuncs.com",
        "https://mpaas.cn-hangzhou.aliyuncs.com",
    )
    template_reference: ClassVar[TemplateReference] = TemplateReference("mPaaS", "templateName")
    option_example: ClassVar[Mapping[str, Any]] = mpaas_options.EXAMPLE
    option_schema = mpaas_options.MpaasOptionsSerializer
    emulator: ClassVar[str] = "providers.emulators.mpaas.MpaasEmulator"
    emulator_port: ClassVar[int] = 8103
    auth_error_codes: ClassVar[frozenset[str]] = frozenset(
        {
            "SignatureDoesNotMatch",
            "IncompleteSignature",
            "InvalidAccessKeyId.NotFound",
            "InvalidAccessKeySecret",
        }
    )
    limits: ClassVar[Limits] = Limits(
        ids_per_request=0,  # broadcast by device type only: no per-user addressing
        test_uids=0,  # PushBroadcast has no preview audience
        tags_per_request=0,
        segments_per_request=0,
        broadcast=True,
        idempotent=False,  # a reused Msgkey is rejected, not replayed
        max_key_length=64,
        # "Scheduled and recurring pushes are not supported when the target audience is a
        # tag group", which is how a tags or segment audience reaches mPaaS.
        scheduled_tags=False,
    )

    def __init__(
        self,
        account: AccountConfig,
        *,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        super().__init__(account)
        self._clock = clock
        self._nonce = nonce

    # -- options -----------------------------------------------------------
    @classmethod
    def check_options(
        cls, options: Mapping[str, Any], message: Message, settings: Mapping[str, Any]
    ) -> mpaas_options.Checked:
        return mpaas_options.check_mpaas(options, settings=settings)

    def campaign_option_errors(
        self, options: Mapping[str, Any], *, audience_kind: str, audience_name: str
    ) -> dict[str, list[str]]:
        """Refuse ``StrategyType``/``StrategyContent``: they come from the campaign's schedule."""
        return {
            str(raw): [
                f"{raw} is set by Crier from the campaign's schedule (mPaaS native scheduling, "
                "account setting native_scheduling); use the schedule fields instead"
            ]
            for raw in options
            if mpaas_options.mpaas_wire_name(str(raw)) in NATIVE_OPTIONS
        }

    # -- native scheduling (docs/providers.md §3.4) -------------------------
    def schedules_natively(self) -> bool:
        """Return whether the account hands schedules to mPaaS (``settings["native_scheduling"]``)."""
        return bool(self.account.settings.get("native_scheduling"))

    def native_zone(self) -> str:
        """Return the zone mPaaS evaluates the account's schedules in (``native_timezone``)."""
        name = str(self.account.settings.get("native_timezone") or DEFAULT_NATIVE_TIMEZONE)
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            return DEFAULT_NATIVE_TIMEZONE
        return name

    def native_option_names(self) -> frozenset[str]:
        return NATIVE_OPTIONS

    def native_schedule_options(self, schedule: NativeSchedule) -> dict[str, Any]:
        return mpaas_options.strategy_options(schedule)

    # -- building ----------------------------------------------------------
    def _delivery_types(self, options: Mapping[str, Any]) -> list[int]:
        """Return the DeliveryType(s) a message goes to: its option, else the account setting."""
        if "DeliveryType" in options:
            return list(options["DeliveryType"])
        types = mpaas_options.mpaas_delivery_types(self.account.settings.get("delivery_type"))
        return types or []

    def request_variants(self, options: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Return one ``{"DeliveryType": n}`` per platform when the options name several
        (one PushBroadcast each), else ``[{}]``."""
        checked = mpaas_options.check_mpaas(options or {}, settings=self.account.settings)
        types = checked.values.get("DeliveryType") or []
        if len(types) < 2:
            return [{}]
        return [{"DeliveryType": t} for t in types]

    def validate(self, message: Message) -> dict[str, list[str]]:
        """Return field errors for ``message`` under PushBroadcast's rules (empty: valid)."""
        errors: dict[str, list[str]] = {}
        checked = self.checked_options(message)
        if checked.errors:
            errors["options"] = checked.messages
        if not message.template_ref:
            errors.setdefault("template", []).append("mPaaS needs the template name (TemplateName)")
        if not self.account.app_id:
            errors.setdefault("account", []).append("the mPaaS account has no app_id (AppId)")
        if not self.account.settings.get("workspace_id"):
            errors.setdefault("account", []).append("the mPaaS account settings have no workspace_id")
        version = self.account.settings.get("api_version", DEFAULT_VERSION)
        if version not in VERSIONS:
            errors.setdefault("account", []).append(
                f"api_version {version!r} is not one of {', '.join(VERSIONS)}"
            )
        types = self._delivery_types(checked.values)
        if not types or any(t not in DELIVERY_TYPES for t in types):
            setting = self.account.settings.get("delivery_type")
            errors.setdefault("delivery_type", []).append(
                f"delivery_type {setting!r} is not valid; PushBroadcast takes "
                + ", ".join(f"{k} ({v})" for k, v in DELIVERY_TYPES.items())
                + " in the account settings or the campaign's provider options"
            )
        if message.expired_seconds <= 0:
            errors.setdefault("expired_seconds", []).append(
                f"expired_seconds {message.expired_seconds} must be a positive number of seconds"
            )
        return errors

    def payload(self, message: Message, batch: Batch) -> dict[str, Any]:
        """Return the PushBroadcast business parameters (wire names, string values) for ``batch``.

        A message for several DeliveryTypes is sent one request per type: the batch's
        ``params["DeliveryType"]`` says which (``request_variants``).
        """
        options = dict(self.checked_options(message).values)
        types = self._delivery_types(options)
        options.pop("DeliveryType", None)
        delivery = batch.params.get("DeliveryType")
        if delivery is None:
            if len(types) > 1:
                raise ProviderError(
                    f"the message goes to DeliveryTypes {types}: one request each, and this batch "
                    "names none (params['DeliveryType'])",
                    field="provider_options.DeliveryType",
                )
            delivery = types[0] if types else ""
        params: dict[str, Any] = {
            "AppId": self.account.app_id,
            "WorkspaceId": str(self.account.settings.get("workspace_id", "")),
            "DeliveryType": str(delivery),
            "TemplateName": message.template_ref,
            "TemplateKeyValue": _json_text(dict(message.parameters)),
            # TaskName is required by the documentation (not by the SDK): never leave it empty.
            "TaskName": options.pop("TaskName", "") or message.task_name or f"crier {batch.key}",
            "ExpiredSeconds": str(message.expired_seconds),
            "Msgkey": batch.key,
        }
        for name in sorted(options):
            value = options[name]
            params[name] = _json_text(value) if isinstance(value, dict | list) else str(value)
        return params

    def build_request(self, message: Message, batch: Batch) -> httpx.Request:
        """Return the signed PushBroadcast request for ``batch``; raise ProviderError on bad input."""
        if batch.targets or batch.tags or batch.segment or batch.test_uids or batch.preview:
            raise ProviderError(
                "mPaaS PushBroadcast reaches every device of one platform; it cannot address "
                "users, tags, segments or test uids (no previews)",
                field="audience",
            )
        if not batch.key or len(batch.key) > self.limits.max_key_length:
            raise ProviderError(
                f"Msgkey {batch.key!r} must be 1 to {self.limits.max_key_length} characters", field="key"
            )
        errors = self.validate(message)
        if errors:
            field, messages = next(iter(errors.items()))
            raise ProviderError("; ".join(messages), field=field)
        version = self.account.settings.get("api_version", DEFAULT_VERSION)
        if self.checked_options(message).values.get("StrategyType"):
            # StrategyType/StrategyContent exist only in 2020-10-28 (the 2019 SDK has neither).
            version = SCHEDULER_VERSION
        return self._signed_request(action=ACTION, version=version, body=self.payload(message, batch))

    def _signed_request(self, *, action: str, version: str, body: Mapping[str, str]) -> httpx.Request:
        """Return ``POST {base}/`` with the common parameters in the query and ``body`` as a form,
        all signed with RPC signature 1.0, the way aliyun-python-sdk-core sends them."""
        if self.account.endpoint_problem:  # providers/endpoints.py: nothing goes there
            raise ProviderError(self.account.endpoint_problem, field="base_url")
        access_key_id = self.account.credentials.get("access_key_id", "")
        secret = self.account.credentials.get("access_key_secret", "")
        if not access_key_id or not secret:
            raise ProviderError(
                "the mPaaS account has no access_key_id/access_key_secret", field="credentials"
            )
        common = sig.rpc_common_params(
            action=action,
            version=version,
            access_key_id=access_key_id,
            timestamp=time.strftime(sig.TIMESTAMP_FORMAT, time.gmtime(self._clock())),
            nonce=self._nonce(),
            region_id=self.account.settings.get("region_id", DEFAULT_REGION),
        )
        string_to_sign = sig.rpc_string_to_sign(method="POST", params={**common, **body})
        common["Signature"] = sig.rpc_signature(string_to_sign=string_to_sign, secret=secret)
        return httpx.Request(
            "POST",
            f"{self.account.base_url.rstrip('/')}/?{sig.form_encode(common)}",
            content=sig.form_encode(body).encode("ascii"),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
                "User-Agent": "crier-mpaas/1",
            },
            # A hand-built Request carries no timeout of its own; the account's applies.
            extensions={"timeout": httpx.Timeout(self.account.timeout).as_dict()},
        )

    # -- recall and native schedules -----------------------------------------
    can_recall: ClassVar[bool] = True

    def recall_window(self, message: Message) -> int | None:
        """Return the message's validity (``ExpiredSeconds``): after it nothing is left to revoke."""
        return message.expired_seconds

    def _account_params(self) -> dict[str, str]:
        return {
            "AppId": self.account.app_id,
            "WorkspaceId": str(self.account.settings.get("workspace_id", "")),
        }

    def recall_request(self, message_id: str) -> httpx.Request:
        """Return RevokePushTask for the push task ``message_id`` (``PushResult.Data``)."""
        if not message_id:
            raise ProviderError("no mPaaS task id to revoke (PushResult.Data was empty)", field="recall")
        return self._signed_request(
            action="RevokePushTask",
            version=SCHEDULER_VERSION,
            body={**self._account_params(), "TaskId": message_id},
        )

    def parse_recall(self, response: httpx.Response) -> Result:
        """Return the outcome of RevokePushTask: delivered means revoked."""
        return self.parse_response(response)

    def cancel_schedule_request(self, unique_ids: list[str]) -> httpx.Request:
        """Return CancelPushScheduler for the scheduled (or recurring) tasks ``unique_ids``."""
        if not unique_ids:
            raise ProviderError("no mPaaS scheduled task ids to cancel", field="native_task_ids")
        return self._signed_request(
            action="CancelPushScheduler",
            version=SCHEDULER_VERSION,
            body={**self._account_params(), "UniqueIds": ",".join(unique_ids)},
        )

    def parse_cancel(self, response: httpx.Response) -> Result:
        """Return the outcome of CancelPushScheduler (``ResultCode`` OK: cancelled)."""
        if response.status_code == 200:
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict) and body.get("ResultCode") == "OK":
                return Result(
                    Outcome.DELIVERED,
                    code="OK",
                    message=f"cancelled: {body.get('ResultContent', '')}",
                    http_status=200,
                    raw=body,
                )
        return self.parse_response(response)

    # -- account check -----------------------------------------------------
    def check_request(self) -> httpx.Request:
        """Return a signed QueryPushSchedulerList for the last minute: read-only, it pushes nothing.

        It proves the key pair and that mPaaS knows the app and workspace. The action exists
        only in API version 2020-10-28, whatever version the account sends with.
        """
        now_ms = int(self._clock() * 1000)
        return self._signed_request(
            action="QueryPushSchedulerList",
            version=SCHEDULER_VERSION,
            body={
                "AppId": self.account.app_id,
                "WorkspaceId": str(self.account.settings.get("workspace_id", "")),
                "StartTime": str(now_ms - 60_000),
                "EndTime": str(now_ms),
                "PageSize": "1",
            },
        )

    def check_outcome(self, result: Result) -> tuple[bool, str]:
        """Return whether the check answer shows a working key pair, app and workspace."""
        said = check_code(result.code)  # never the answer's text (providers/answers.py)
        if result.http_status == 200 and result.raw.get("ResultCode") == "OK":
            return True, "authenticated; mPaaS accepted the app and workspace (QueryPushSchedulerList OK)"
        if result.http_status == 200:
            return False, f"authenticated, but mPaaS refused the app or workspace ({said})"
        if (
            result.http_status is not None
            and 400 <= result.http_status < 500
            and result.http_status not in (401, 403, 404, 405)
            and result.code not in self.auth_error_codes
            and not result.code.startswith("Throttling")
        ):
            # The gateway checks clock, nonce and parameters before the key: no proof either way.
            return False, f"the API gateway refused the check request ({said})"
        return super().check_outcome(result)

    # -- parsing -----------------------------------------------------------
    def parse_response(self, response: httpx.Response) -> Result:
        """Return the outcome of a PushBroadcast answer (gateway error or business result)."""
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = None
        # Tea's retry policy sleeps x-acs-retry-after as milliseconds; we report seconds.
        retry_ms = retry_after_seconds(response.headers.get("x-acs-retry-after"))
        retry_after = retry_ms / 1000 if retry_ms else None

        if status == 200:
            if body is None:
                # A 200 we cannot read may still mean the broadcast was accepted.
                return Result(
                    Outcome.UNKNOWN,
                    code="BAD_RESPONSE",
                    http_status=status,
                    message=f"unreadable 200 answer: {response.text[:200]!r}",
                )
            return self._business_result(body, status)

        raw = body or {}
        code = str(raw.get("Code", "") or f"HTTP_{status}")
        message = str(raw.get("Message", "") or response.text[:200])
        retryable = code.startswith("Throttling") or code in RETRYABLE_CODES or status in RETRYABLE_STATUSES
        return Result(
            Outcome.RETRY if retryable else Outcome.FAILED,
            code=code,
            message=message,
            http_status=status,
            retry_after=retry_after,
            raw=raw,
        )

    def _business_result(self, body: Mapping[str, Any], status: int) -> Result:
        push = body.get("PushResult") or {}
        result_code = str(body.get("ResultCode", ""))
        if result_code == "OK" and push.get("Success") is True:
            return Result(
                Outcome.DELIVERED,
                code="OK",
                message=str(push.get("ResultMsg") or ""),
                http_status=status,
                provider_message_id=str(push.get("Data") or ""),
                raw=dict(body),
            )
        if result_code == "OK" and not push:
            # No PushResult to say whether the push was created: do not guess either way.
            return Result(
                Outcome.UNKNOWN,
                code="OK",
                message="ResultCode OK without a PushResult",
                http_status=status,
                raw=dict(body),
            )
        message = str(push.get("ResultMsg") or body.get("ResultMessage") or "")
        code = result_code if result_code and result_code != "OK" else _leading_code(message)
        if _is_duplicate_msgkey(message):
            message = (
                "mPaaS rejected a Msgkey it has seen before: an earlier attempt of this broadcast "
                "was probably accepted, so it is not resent; check the mPaaS console "
                f"(QueryPushAnalysisTaskList) before sending it again under a new key. mPaaS said: {message}"
            )
        # All mPaaS 3xxx result codes are configuration or input errors: permanent.
        return Result(
            Outcome.FAILED, code=code or "FAILED", message=message, http_status=status, raw=dict(body)
        )
