"""The life cycles of a dispatch and of a delivery: which status may follow which, and the
one helper for each that moves rows with a compare-and-swap.

Like the campaign life cycle (``campaigns.lifecycle.TRANSITIONS`` and
``campaign_transition``), every status change of a :class:`~campaigns.models.Dispatch` or a
:class:`~campaigns.models.Delivery` goes through :func:`dispatch_move` /
:func:`delivery_move`: the move is checked against the table first (an illegal one raises
:class:`IllegalTransition` and touches nothing), then made as one
``UPDATE … WHERE status IN (<sources>) AND <conditions>``, so of two workers racing for a
row exactly one moves it. The helpers return how many rows moved; the caller decides what
losing the race means (usually: someone else has it, do nothing).

One writer bypasses the helpers on purpose: the send loop stores a chunk's outcomes
(``in_flight`` -> ``delivered``/``retry``/…) by primary key in one prepared statement
(``campaigns.sending.outcomes``). Those are the provider's real answers, and they
outrank the watchdog's guess (``unknown``) for a request it gave up on meanwhile; the
table still lists those moves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models

from campaigns.models import Delivery, DeliveryStatus, Dispatch, DispatchStatus

D = DispatchStatus
R = DeliveryStatus

FINAL_DISPATCH = (D.SENT, D.PARTIALLY_FAILED, D.FAILED)

DISPATCH_TRANSITIONS: dict[tuple[str, str], str] = {
    (D.PENDING, D.RUNNING): "claim",
    (D.PENDING, D.PENDING): "requeue",  # the watchdog touches a pending dispatch whose task was lost
    (D.PENDING, D.CANCELLED): "cancel",  # the campaign was cancelled before this occurrence ran
    (D.RUNNING, D.PENDING): "release",  # budget used, emergency stop, or taken by the watchdog
    (D.RUNNING, D.EXPIRED): "expire",  # reached after expired_seconds: not sent late
    (D.RUNNING, D.REFUSED): "refuse",  # the campaign changed since it was approved
    (D.RUNNING, D.HELD): "hold",  # its reach is above the campaign's reach_limit: a reviewer decides
    (D.HELD, D.PENDING): "confirm",  # a reviewer confirmed the new reach: send it
    (D.HELD, D.CANCELLED): "cancel",  # a reviewer (or a cancelled campaign) drops it
    (D.HELD, D.EXPIRED): "expire",  # nobody confirmed it before its expiry
    **{(D.RUNNING, final): "finish" for final in FINAL_DISPATCH},
    # Closing an unknown delivery gives a finished dispatch its final status again.
    **{(frm, to): "refinish" for frm in FINAL_DISPATCH for to in FINAL_DISPATCH},
    # Resending an unknown delivery reopens its finished dispatch.
    **{(final, D.PENDING): "reopen" for final in FINAL_DISPATCH},
}

OPEN_DELIVERY = (R.PENDING, R.RETRY)
# What a provider's answer (or its absence) makes of a request in flight.
SENT_OUTCOMES = (R.DELIVERED, R.OPTED_OUT, R.RETRY, R.UNKNOWN, R.FAILED)

DELIVERY_TRANSITIONS: dict[tuple[str, str], str] = {
    **{(frm, R.IN_FLIGHT): "send" for frm in OPEN_DELIVERY},
    **{(frm, R.EXPIRED): "expire" for frm in OPEN_DELIVERY},  # still unsent when the occurrence expired
    # Written by campaigns.sending.outcomes. (in_flight, unknown) is also the watchdog's move
    # for a request whose worker died where resending it is not safe.
    **{(R.IN_FLIGHT, to): "answer" for to in SENT_OUTCOMES},
    # Worker lost and the provider deduplicates our key: resend. Or never issued: sending
    # halted (emergency stop, shutdown) after it was marked in flight (campaigns.sending.loop).
    (R.IN_FLIGHT, R.PENDING): "recover",
    (R.UNKNOWN, R.PENDING): "resend",  # an operator's decision
    (R.UNKNOWN, R.CLOSED): "close",
}


class IllegalTransition(ValueError):
    """A status move that the life cycle does not allow (a programming error, not a race)."""


def _sources(table: Mapping[tuple[str, str], str], what: str, frm: str | Iterable[str], to: str) -> list[str]:
    """Return the source statuses of a move, after checking each against ``table``."""
    sources = [frm] if isinstance(frm, str) else list(frm)
    illegal = [source for source in sources if (source, to) not in table]
    if not sources or illegal:
        raise IllegalTransition(f"a {what} cannot move from {', '.join(illegal) or 'nothing'} to {to}")
    return sources


def _move(
    model: type[models.Model],
    table: Mapping[tuple[str, str], str],
    frm: str | Iterable[str],
    to: str,
    where: Mapping[str, Any],
    fields: Mapping[str, Any],
) -> int:
    sources = _sources(table, model._meta.verbose_name, frm, to)
    return model.objects.filter(status__in=sources, **where).update(status=to, **fields)


def dispatch_move(
    dispatch_id: int,
    frm: str | Iterable[str],
    to: str,
    *,
    where: Mapping[str, Any] | None = None,
    **fields: Any,
) -> int:
    """Move one dispatch from any of ``frm`` to ``to`` if it is still there; return 1 or 0.

    ``where`` adds conditions to the compare-and-swap (``{"claimed_by": me}``: only the
    worker holding the claim); ``fields`` are set in the same UPDATE.
    """
    return _move(Dispatch, DISPATCH_TRANSITIONS, frm, to, {"pk": dispatch_id, **(where or {})}, fields)


def dispatches_move(
    frm: str | Iterable[str], to: str, *, where: Mapping[str, Any], **fields: Any
) -> int:
    """Move every dispatch matching ``where`` that is in one of ``frm`` to ``to``; return how many
    (cancelling a campaign cancels all its pending occurrences at once)."""
    return _move(Dispatch, DISPATCH_TRANSITIONS, frm, to, where, fields)


def delivery_move(
    frm: str | Iterable[str], to: str, *, where: Mapping[str, Any], **fields: Any
) -> int:
    """Move every delivery matching ``where`` that is in one of ``frm`` to ``to``; return how many.

    ``where`` selects the rows (``{"pk": …}``, ``{"pk__in": […]}``, ``{"dispatch_id": …}``);
    ``fields`` are set in the same UPDATE.
    """
    return _move(Delivery, DELIVERY_TRANSITIONS, frm, to, where, fields)
