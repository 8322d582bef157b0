"""The mPaaS emulator's task table: scheduled (StrategyType 1) and recurring (2)
broadcasts, listed and cancelled as mPaaS does (see ``providers.emulators.mpaas``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from providers.emulators.base import EmuRequest, EmuResponse

TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$")
RECURRENCE_MAX_DAYS = 180
BROADCAST_TYPE = 3  # QueryPushSchedulerList Type: 0 simple, 1 template, 2 multiple, 3 broadcast


@dataclass
class ScheduledTask:
    """A scheduled (StrategyType 1) or recurring (2) broadcast held by the emulator."""

    unique_id: str
    app_id: str
    workspace_id: str
    msgkey: str
    strategy_type: int
    content: dict[str, Any]
    delivery_type: int
    task_name: str
    template_name: str
    created_ms: int
    cancelled: bool = False
    cancelled_children: set[str] = field(default_factory=set)

    def runs(self, tz: timezone) -> list[tuple[str, str, int]]:
        """Return (unique id, parent id, push time ms) of every occurrence, cancelled ones left out."""
        if self.cancelled:
            return []
        if self.strategy_type == 1:
            return [(self.unique_id, "", int(self.content["fixedTime"]))]
        hour, minute, second = (int(x) for x in self.content["time"].split(":"))
        first = datetime.fromtimestamp(int(self.content["startTime"]) / 1000, tz).date()
        last = datetime.fromtimestamp(int(self.content["endTime"]) / 1000, tz).date()
        circle = int(self.content["circleType"])
        values = {int(v) for v in self.content.get("circleValue") or ()}
        rows = []
        day = first
        while day <= last:
            due = (
                circle == 1
                or (circle == 2 and day.isoweekday() in values)
                or (circle == 3 and day.day in values)
            )
            child = f"{self.unique_id}-{day:%Y%m%d}"
            if due and child not in self.cancelled_children:
                at = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=tz)
                rows.append((child, self.unique_id, int(at.timestamp() * 1000)))
            day += timedelta(days=1)
        return rows

    def pending(self, now_ms: int, tz: timezone) -> bool:
        """Say whether an occurrence of this task is still to come."""
        return any(at > now_ms for _uid, _parent, at in self.runs(tz))


class SchedulerMixin:
    """Scheduling actions of :class:`~providers.emulators.mpaas.MpaasEmulator`."""

    def _check_strategy(self, strategy: int, content: Mapping[str, Any]) -> None:
        """Enforce the documented StrategyContent rules; raise a 3028 business failure otherwise."""
        now = self.clock()
        today = datetime.fromtimestamp(now, self.schedule_tz).date()
        today_start_ms = int(
            datetime(today.year, today.month, today.day, tzinfo=self.schedule_tz).timestamp() * 1000
        )

        def integer(name: str) -> int:
            value = content.get(name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise self._business_error(
                    "3028", f"StrategyContent.{name} must be a timestamp in milliseconds"
                )
            return value

        if strategy == 1:
            fixed = integer("fixedTime")
            if fixed <= now * 1000:
                raise self._business_error("3028", f"fixedTime {fixed} is in the past")
            return
        start, end = integer("startTime"), integer("endTime")
        if start < today_start_ms or end < today_start_ms:
            raise self._business_error("3028", "startTime and endTime cannot be earlier than 00:00 today")
        if end < start:
            raise self._business_error("3028", "endTime cannot be earlier than startTime")
        end_day = datetime.fromtimestamp(end / 1000, self.schedule_tz).date()
        if end_day > today + timedelta(days=RECURRENCE_MAX_DAYS):
            raise self._business_error(
                "3028",
                f"endTime {end_day} is {(end_day - today).days} days away; at most "
                f"{RECURRENCE_MAX_DAYS} days from today",
            )
        circle = content.get("circleType")
        if circle not in (1, 2, 3):
            raise self._business_error(
                "3028", f"circleType {circle!r} must be 1 (day), 2 (week) or 3 (month)"
            )
        if not isinstance(content.get("time"), str) or not TIME_OF_DAY.match(content["time"]):
            raise self._business_error("3028", f"time {content.get('time')!r} must be HH:mm:ss")
        if circle in (2, 3):
            values = content.get("circleValue")
            top = 7 if circle == 2 else 31
            if (
                not isinstance(values, list)
                or not values
                or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= top for v in values)
            ):
                raise self._business_error("3028", f"circleValue {values!r} must list values from 1 to {top}")

    # -- scheduler APIs ----------------------------------------------------
    def _task_rows(self, app_id: str, workspace_id: str) -> list[dict[str, Any]]:
        now_ms = int(self.clock() * 1000)
        rows = []
        with self._state:
            tasks = [t for t in self.tasks.values() if (t.app_id, t.workspace_id) == (app_id, workspace_id)]
        for task in tasks:
            for unique_id, parent_id, at in task.runs(self.schedule_tz):
                rows.append(
                    {
                        "UniqueId": unique_id,
                        "ParentId": parent_id,
                        "PushTime": at,
                        "PushTitle": task.task_name,
                        "PushContent": task.template_name,
                        "Type": BROADCAST_TYPE,
                        "DeliveryType": task.delivery_type,
                        "StrategyType": task.strategy_type,
                        # The emulator never fires a task; "executed" only says its time has passed.
                        "ExecutedStatus": 1 if at <= now_ms else 0,
                        "CreateType": 0,
                        "GmtCreate": task.created_ms,
                    }
                )
        return sorted(rows, key=lambda row: (row["PushTime"], row["UniqueId"]))

    def _query_push_scheduler_list(self, request: EmuRequest, params: Mapping[str, str]) -> EmuResponse:
        for name in ("AppId", "WorkspaceId", "StartTime", "EndTime"):
            if not params.get(name):
                raise self._missing(name)
        self._check_app(params["AppId"], params["WorkspaceId"], push=False)
        numbers = {}
        for name, default in (("StartTime", None), ("EndTime", None), ("PageNumber", 1), ("PageSize", 500)):
            try:
                numbers[name] = int(params[name]) if params.get(name) else default
            except ValueError:
                raise self._invalid(name) from None
        rows = [
            row
            for row in self._task_rows(params["AppId"], params["WorkspaceId"])
            if numbers["StartTime"] <= row["PushTime"] <= numbers["EndTime"]
        ]
        if params.get("Type") and params["Type"] != str(BROADCAST_TYPE):
            rows = []
        if params.get("UniqueId"):
            wanted = params["UniqueId"]
            rows = [row for row in rows if wanted in (row["UniqueId"], row["ParentId"])]
        size, page = max(1, numbers["PageSize"]), max(1, numbers["PageNumber"])
        return self._ok(
            {
                "ResultCode": "OK",
                "ResultMessage": "",
                "ResultContent": {
                    "Data": {"TotalCount": len(rows), "List": rows[(page - 1) * size : page * size]}
                },
            }
        )

    def _cancel_push_scheduler(self, request: EmuRequest, params: Mapping[str, str]) -> EmuResponse:
        for name in ("AppId", "WorkspaceId", "UniqueIds"):
            if not params.get(name):
                raise self._missing(name)
        self._check_app(params["AppId"], params["WorkspaceId"], push=False)
        owner = (params["AppId"], params["WorkspaceId"])
        cancelled = 0
        with self._state:
            for unique_id in (u.strip() for u in params["UniqueIds"].split(",") if u.strip()):
                task = self.tasks.get(unique_id)
                if task is not None and (task.app_id, task.workspace_id) == owner and not task.cancelled:
                    task.cancelled = True
                    cancelled += 1
                    continue
                parent = self.tasks.get(unique_id.rsplit("-", 1)[0])
                if (
                    parent is not None
                    and (parent.app_id, parent.workspace_id) == owner
                    and any(uid == unique_id for uid, _p, _at in parent.runs(self.schedule_tz))
                ):
                    parent.cancelled_children.add(unique_id)
                    cancelled += 1
        return self._ok({"ResultCode": "OK", "ResultMessage": "", "ResultContent": str(cancelled)})
