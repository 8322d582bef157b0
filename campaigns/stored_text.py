"""The sentences the campaigns engine stores in English for people to read later, in their
language (README, "Languages"; the mechanism is ``audit.stored_text``).

The worker has no reader, so what it writes for people — ``Dispatch.detail`` (why an
occurrence was refused, expired, held, handed back or skipped recipients), a request's
message, and the audit reasons that repeat them — is stored once, in English: the writer
stores :func:`english` of a sentence declared here, and every page passes stored text
through :func:`in_reader_language`. The sentences of held occurrences are here too: the
reviewer who confirms one writes for every later reader, not in their own language.
Anything else (a provider's own words, a reviewer's comment, text written before a
sentence was declared) is shown as stored. ``CampaignsConfig.ready`` imports this module,
so every process knows these sentences.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext, gettext_noop, pgettext_lazy

from audit.stored_text import english, in_reader_language, sentence
from campaigns.audiences.stream import SkipReason

__all__ = ["english", "in_reader_language", "skipped"]

# --- a dispatch's detail, and the audit reasons that repeat it ---------------------------------
REFUSED_CHANGED = sentence(
    gettext_noop("the campaign changed since it was approved (content hash differs); not sent")
)
EXPIRED = sentence(
    gettext_noop("reached at %(at)s UTC, %(late)s s after its due time; expired_seconds is %(limit)s")
)
RESUMED = sentence(gettext_noop("resumed after its worker stopped"))
CANCELLED = sentence(gettext_noop("campaign cancelled"))
CONTENT_CHANGED = sentence(gettext_noop("content changed"))
HELD = sentence(
    gettext_noop(
        "held: this occurrence reaches %(reach)s recipients, above the approved bound of "
        "%(limit)s (approved reach %(approved)s); nothing is sent until a reviewer confirms "
        "the new reach or cancels it"
    )
)
HELD_EXPIRED = sentence(
    gettext_noop(
        "expired: held since its reach was above the approved bound, and not confirmed before "
        "its expiry at %(expiry)s UTC (due %(due)s UTC, expired_seconds %(seconds)s)"
    )
)
# A reviewer decides a held occurrence (approvals.holds): stored for every later reader.
REACH_CONFIRMED = sentence(
    gettext_noop("reach of %(reach)s recipients confirmed by %(user)s (new bound %(limit)s); sending")
)
HELD_CANCELLED_BY = sentence(gettext_noop("held occurrence cancelled by %(user)s"))
HELD_CANCELLED_BY_BECAUSE = sentence(gettext_noop("held occurrence cancelled by %(user)s: %(reason)s"))
# The send loop hands a dispatch back (campaigns.sending.loop, run).
HANDED_BACK = sentence(gettext_noop("handed back: its worker was shutting down"))
HALTED = sentence(gettext_noop("halted by the emergency stop"))
LEFT_IN_FLIGHT = sentence(gettext_noop("requests in flight from a stopped worker"))
WAITING_TO_RETRY = sentence(gettext_noop("waiting %(seconds)s s to retry"))
CONTINUING = sentence(gettext_noop("continuing in a new task"))
ACCOUNT_DISABLED = sentence(gettext_noop("provider account '%(name)s' is disabled; waiting"))

# --- a request's message ------------------------------------------------------------------------
EXPIRED_UNSENT = sentence(gettext_noop("the occurrence expired before this request was sent"))
WORKER_LOST = sentence(
    gettext_noop(
        "the worker stopped while this request was in flight; the provider may or may not have "
        "acted. Resend or close it."
    )
)

# --- a campaign's audit reasons -----------------------------------------------------------------
OCCURRENCE_SENT = sentence(gettext_noop("occurrence sent"))
OCCURRENCE_HELD = sentence(gettext_noop("occurrence held for a reviewer"))
HELD_EXPIRED_ENDED = sentence(gettext_noop("held occurrence expired"))
HELD_CANCELLED_ENDED = sentence(gettext_noop("held occurrence cancelled"))
MORE_SCHEDULED = sentence(gettext_noop("%(ended)s; more are scheduled"))  # ended: one of the four
LAST_FINISHED = sentence(gettext_noop("last occurrence finished"))
EDITED = sentence(gettext_noop("edited %(fields)s"))  # field names, as in the API
APPROVAL_VOIDED = sentence(gettext_noop("approval voided: %(reason)s"))  # reason: EDITED
UNBUILDABLE = sentence(gettext_noop("approval voided: the message can no longer be built (%(problem)s)"))
CHANGED_SINCE = sentence(gettext_noop("approval voided: %(changed)s changed since submission"))
NATIVE_SCHEDULED = sentence(gettext_noop("mPaaS scheduled %(count)s task(s)"))
NATIVE_SCHEDULED_UNTIL = sentence(
    gettext_noop("mPaaS scheduled %(count)s task(s); it sends them itself until %(ends)s UTC")
)
NATIVE_ENDED = sentence(gettext_noop("the end of its mPaaS native schedule has passed"))
NATIVE_SENT = sentence(
    gettext_noop("the end of its mPaaS native schedule has passed; mPaaS sent its occurrences itself")
)
DIGEST_DIFFERED = sentence(gettext_noop("the membership digest differed from the listed ids"))
# Reasons the admin gives for a person's action (approvals.admin), stored for every reader.
WITHDRAWN_FROM_LIST = sentence(gettext_noop("withdrawn from the campaign list"))
EDITED_IN_ADMIN = sentence(gettext_noop("edited in the admin"))
OPTED_OUT_AT = sentence(gettext_noop("opted out at %(provider)s"))
OPTED_OUT_AT_CODE = sentence(gettext_noop("opted out at %(provider)s (provider code %(code)s)"))

# --- recipients skipped, by reason ------------------------------------------------------------
SKIPPED_ITEM = "%(count)s %(reason)s"  # one reason of SKIPPED's list, e.g. "3 no address"
# How a reader's language writes one item and joins them (zh-Hans: "无地址 3 人", "、").
SKIPPED_ITEM_WORDS = pgettext_lazy("skipped recipients: a count and its reason", "%(count)s %(reason)s")
SKIPPED_SEPARATOR = pgettext_lazy("between the reasons of skipped recipients", ", ")


def _skipped_items(counts: str) -> str | None:
    """The list of SKIPPED in the reader's language; None when it is not one Crier writes."""
    reasons = "|".join(re.escape(reason.value) for reason in SkipReason)
    out = []
    for item in counts.split(", "):
        match = re.fullmatch(rf"(\d+) ({reasons})", item)
        if match is None:
            return None
        out.append(str(SKIPPED_ITEM_WORDS) % {"count": match[1], "reason": gettext(match[2])})
    return str(SKIPPED_SEPARATOR).join(out)


SKIPPED = sentence(gettext_noop("skipped: %(counts)s"), counts=_skipped_items)


def skipped(counts: dict[str, int]) -> str:
    """The stored English of recipients skipped by reason ("" when none was)."""
    if not counts:
        return ""
    items = ", ".join(SKIPPED_ITEM % {"count": n, "reason": reason} for reason, n in sorted(counts.items()))
    return english(SKIPPED, counts=items)
