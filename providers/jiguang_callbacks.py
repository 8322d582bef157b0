"""Jiguang UMS status callbacks (VIP) read into receipts (docs/providers.md §4.8).

UMS posts status records in batches (every 100 records or 10 s) to the URL registered in
its console. Each record says what happened to one user of one message: ``type`` 0 target
valid, 1 target invalid, 2 submitted, 3 submit failed, 4 delivered, 5 delivery failed,
6 clicked, 7 retracted, 8 retract failed; ``msgid``, ``userid``, ``channelkey``, ``time``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.utils.translation import gettext as _

from providers import safe_json
from providers.base import CallbackBatch, Receipt

# Status callback ``type`` → receipt status (docs/providers.md §4.8).
CALLBACK_STATUSES: dict[int, str] = {
    0: "target_valid",
    1: "target_invalid",
    2: "submitted",
    3: "submit_failed",
    4: "delivered",
    5: "delivery_failed",
    6: "clicked",
    7: "retracted",
    8: "retract_failed",
}
# Record fields kept on the receipt besides those it is keyed by.
CALLBACK_DETAIL_FIELDS = ("channel", "sender_id", "error", "code", "message", "params")
CALLBACK_BATCH_KEYS = ("data", "records", "list")


def read_batch(body: bytes, *, channel_key: str) -> CallbackBatch:
    """Return the receipts of a status batch: a JSON array of records (an object holding
    one under ``data``/``records``/``list``, or a single record, is read too). Records
    naming another channel key, an unknown type or no msgid are counted invalid. A body
    that is not JSON, or not text Crier can keep (a lone surrogate, a NUL, nesting deeper
    than ``safe_json.MAX_DEPTH``: ``safe_json.HostileInput``), or a record whose ``time``
    is a number no clock can hold, raises ValueError: nothing of the batch is stored."""
    data = safe_json.loads(body)
    if isinstance(data, dict):
        lists = [data[key] for key in CALLBACK_BATCH_KEYS if isinstance(data.get(key), list)]
        records = lists[0] if lists else [data]
    else:
        records = data if isinstance(data, list) else [data]
    receipts = [
        r for r in (_receipt(record, channel_key, n) for n, record in enumerate(records)) if r is not None
    ]
    return CallbackBatch(
        receipts=tuple(receipts), received=len(records), invalid=len(records) - len(receipts)
    )


def _receipt(record: Any, channel_key: str, number: int) -> Receipt | None:
    """Return the receipt one callback record reports; None when it is not a valid record."""
    if not isinstance(record, Mapping):
        return None
    kind, msgid, sender = record.get("type"), record.get("msgid"), record.get("channelkey")
    if (
        isinstance(kind, bool)
        or kind not in CALLBACK_STATUSES
        or not isinstance(msgid, str)
        or not msgid
        or (sender not in (None, "") and sender != channel_key)
    ):
        return None
    userid = record.get("userid")
    return Receipt(
        message_id=msgid,
        user=(str(userid) if userid not in (None, "") else "")[:128],
        status=CALLBACK_STATUSES[kind],
        at=_moment(record.get("time"), number),
        detail={name: record[name] for name in CALLBACK_DETAIL_FIELDS if name in record},
    )


# Unix milliseconds of 9999-12-31: beyond, a "time" is no moment but a hostile number.
MAX_TIME_MS = 253_402_300_799_999


def _moment(value: Any, number: int = 0) -> datetime | None:
    """Return a record's time (Unix ms or s, or ISO 8601); None when absent or unreadable.
    A number past the year 9999 (in ms), e.g. 400 digits, raises ValueError naming it."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        if len(value) > len(str(MAX_TIME_MS)):
            raise ValueError(_time_refused(number))
        value = int(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        if value > MAX_TIME_MS:
            raise ValueError(_time_refused(number))
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _time_refused(number: int) -> str:
    return _("record %(number)d: time is past the year 9999 (Unix milliseconds expected)") % {
        "number": number
    }
