"""Provider limits enforced locally: pending scheduled campaigns per account, mPaaS audiences."""

from __future__ import annotations

import threading
import time as wall_clock
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from campaigns.models import Audience, Campaign, CampaignStatus
from campaigns.schedules.limits import check_pending_limit, check_scheduled_audience, pending_scheduled_count
from providers.models import ProviderAccount
from templates_registry.models import MessageTemplate

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
TODAY = date(2026, 3, 2)
LIMIT_MESSAGE = (
    "provider account 'mpaas main' already has {n} scheduled or recurring campaigns pending; "
    "at most {limit} are allowed (CRIER_MAX_PENDING_SCHEDULED)"
)

# Schedules by name, as stored on a campaign. "ended" schedules have no occurrence after NOW.
SCHEDULES: dict[str, dict[str, Any]] = {
    "now": {"schedule_kind": "now"},
    "once": {"schedule_kind": "once", "fixed_time": NOW + timedelta(days=1)},
    "once ended": {"schedule_kind": "once", "fixed_time": NOW - timedelta(hours=1)},
    "recurring": {
        "schedule_kind": "recurring",
        "circle_type": 1,
        "time": time(9, 0),
        "start_date": TODAY,
        "end_date": TODAY + timedelta(days=30),
        "timezone": "Europe/Berlin",
    },
    "recurring ended": {
        "schedule_kind": "recurring",
        "circle_type": 1,
        "time": time(9, 0),
        "start_date": TODAY - timedelta(days=5),
        "end_date": TODAY - timedelta(days=1),
        "timezone": "Europe/Berlin",
    },
    "cron": {
        "schedule_kind": "cron",
        "cron": "0 9 * * MON-FRI",
        "start_date": TODAY,
        "end_date": TODAY + timedelta(days=30),
        "timezone": "America/New_York",
    },
    "cron unreadable": {
        "schedule_kind": "cron",
        "cron": "0 0 9 * * *",
        "start_date": TODAY,
        "end_date": TODAY + timedelta(days=30),
    },
}


@pytest.fixture
def now(time_machine) -> datetime:
    time_machine.move_to(NOW, tick=False)
    return timezone.now()


@pytest.fixture
def author(django_user_model):
    return django_user_model.objects.create_user(username="author")  # no password: hashing is slow


@pytest.fixture
def template() -> MessageTemplate:
    return MessageTemplate.objects.create(key="spring-sale")


def make_account(name: str = "mpaas main", kind: str = "mpaas") -> ProviderAccount:
    return ProviderAccount.objects.create(name=name, kind=kind, base_url="https://provider.example")


def make_audience(kind: str = "all") -> Audience:
    return Audience.objects.create(
        name=f"{kind} audience {Audience.objects.count()}",
        kind=kind,
        tags=["vip"] if kind == "tags" else [],
        segment="big-spenders" if kind == "segment" else "",
    )


@pytest.fixture
def account() -> ProviderAccount:
    return make_account()


@pytest.fixture
def everyone() -> Audience:
    return make_audience("all")


@pytest.fixture
def campaign_factory(author, template, account, everyone):
    """Return ``make(schedule, status, next_due_at=None, save=True, **fields) -> Campaign``."""

    def make(
        schedule: str = "recurring",
        status: str = CampaignStatus.DRAFT,
        *,
        next_due_at: datetime | None = None,
        save: bool = True,
        **fields: Any,
    ) -> Campaign:
        values = {
            "name": f"campaign {schedule} {status}",
            "template": template,
            "provider_account": account,
            "audience": everyone,
            "created_by": author,
            "status": status,
            "next_due_at": next_due_at,
            **SCHEDULES[schedule],
            **fields,
        }
        campaign = Campaign(**values)
        if save:
            campaign.save()
        return campaign

    return make


def add_pending(campaign_factory, count: int) -> None:
    """Create ``count`` pending campaigns, a mix of in review (no due time yet) and approved."""
    kinds = ["once", "recurring", "cron"]
    rows = []
    for n in range(count):
        schedule = kinds[n % 3]
        if n % 2:
            rows.append(campaign_factory(schedule, CampaignStatus.IN_REVIEW, save=False))
        else:
            rows.append(
                campaign_factory(
                    schedule, CampaignStatus.APPROVED, next_due_at=NOW + timedelta(hours=n), save=False
                )
            )
    Campaign.objects.bulk_create(rows)


# --- what counts as pending --------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("schedule", "status", "has_next_due_at", "counts"),
    [
        ("once", CampaignStatus.IN_REVIEW, False, True),
        ("recurring", CampaignStatus.IN_REVIEW, False, True),
        ("cron", CampaignStatus.IN_REVIEW, False, True),
        ("once ended", CampaignStatus.IN_REVIEW, False, False),
        ("recurring ended", CampaignStatus.IN_REVIEW, False, False),
        ("cron unreadable", CampaignStatus.IN_REVIEW, False, True),
        ("once", CampaignStatus.APPROVED, True, True),
        ("recurring", CampaignStatus.APPROVED, True, True),
        ("cron", CampaignStatus.SENDING, True, True),
        ("recurring", CampaignStatus.APPROVED, False, False),
        ("recurring", CampaignStatus.SENDING, False, False),
        ("now", CampaignStatus.IN_REVIEW, False, False),
        ("now", CampaignStatus.APPROVED, True, False),
        ("recurring", CampaignStatus.DRAFT, False, False),
        ("recurring", CampaignStatus.REJECTED, False, False),
        ("recurring", CampaignStatus.SENT, False, False),
        ("recurring", CampaignStatus.PARTIALLY_FAILED, False, False),
        ("recurring", CampaignStatus.FAILED, False, False),
        ("recurring", CampaignStatus.CANCELLED, False, False),
    ],
)
def test_pending_counts_scheduled_campaigns_awaiting_review_or_approved_with_occurrences_left(
    now: datetime, campaign_factory, account, schedule: str, status: str, has_next_due_at: bool, counts: bool
) -> None:
    campaign_factory(schedule, status, next_due_at=now + timedelta(hours=1) if has_next_due_at else None)
    assert pending_scheduled_count(account, now=now) == (1 if counts else 0)


@pytest.mark.django_db
def test_pending_counts_only_the_accounts_own_campaigns(now: datetime, campaign_factory, account) -> None:
    other = make_account("jiguang main", "jiguang")
    campaign_factory("recurring", CampaignStatus.IN_REVIEW)
    campaign_factory("recurring", CampaignStatus.IN_REVIEW, provider_account=other)
    assert pending_scheduled_count(account, now=now) == 1
    assert pending_scheduled_count(other, now=now) == 1


@pytest.mark.django_db
def test_pending_leaves_out_the_excluded_campaign(now: datetime, campaign_factory, account) -> None:
    mine = campaign_factory("recurring", CampaignStatus.IN_REVIEW)
    campaign_factory("once", CampaignStatus.IN_REVIEW)
    assert pending_scheduled_count(account, now=now, exclude_campaign_id=mine.pk) == 1


@pytest.mark.django_db
def test_an_in_review_recurrence_stops_counting_once_its_last_occurrence_passes(
    time_machine, campaign_factory, account
) -> None:
    campaign_factory("recurring", CampaignStatus.IN_REVIEW)  # daily 09:00 Berlin until TODAY + 30
    last = datetime.combine(TODAY + timedelta(days=30), time(7, 0), tzinfo=UTC)  # 09:00 CEST
    time_machine.move_to(last - timedelta(seconds=1), tick=False)
    assert pending_scheduled_count(account, now=timezone.now()) == 1
    time_machine.move_to(last, tick=False)
    assert pending_scheduled_count(account, now=timezone.now()) == 0


# --- the limit ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("already_pending", "allowed"),
    [(98, True), (99, True), (100, False)],
    ids=["99th-passes", "100th-passes", "101st-refused"],
)
def test_the_pending_limit_allows_100_per_account(
    now: datetime, campaign_factory, already_pending: int, allowed: bool
) -> None:
    add_pending(campaign_factory, already_pending)
    candidate = campaign_factory("recurring", CampaignStatus.DRAFT)
    if allowed:
        check_pending_limit(campaign=candidate, now=now)
        return
    with pytest.raises(ValidationError) as caught:
        check_pending_limit(campaign=candidate, now=now)
    assert caught.value.message_dict == {"schedule": [LIMIT_MESSAGE.format(n=100, limit=100)]}


@pytest.mark.django_db
def test_the_pending_limit_follows_the_setting(now: datetime, settings, campaign_factory) -> None:
    settings.CRIER_MAX_PENDING_SCHEDULED = 3
    add_pending(campaign_factory, 3)
    with pytest.raises(ValidationError) as caught:
        check_pending_limit(campaign=campaign_factory("once"), now=now)
    assert caught.value.message_dict == {"schedule": [LIMIT_MESSAGE.format(n=3, limit=3)]}


@pytest.mark.django_db
def test_approving_a_campaign_already_counted_at_the_limit_passes(now: datetime, campaign_factory) -> None:
    add_pending(campaign_factory, 99)
    in_review = campaign_factory("cron", CampaignStatus.IN_REVIEW)  # the 100th, counted already
    check_pending_limit(campaign=in_review, now=now)


@pytest.mark.django_db
def test_campaigns_sent_now_are_not_limited(now: datetime, campaign_factory) -> None:
    add_pending(campaign_factory, 100)
    check_pending_limit(campaign=campaign_factory("now"), now=now)


@pytest.mark.django_db
def test_ended_and_finished_campaigns_free_their_slots(now: datetime, campaign_factory) -> None:
    add_pending(campaign_factory, 99)
    campaign_factory("recurring ended", CampaignStatus.IN_REVIEW)
    campaign_factory("recurring", CampaignStatus.APPROVED, next_due_at=None)  # its last one went out
    campaign_factory("recurring", CampaignStatus.CANCELLED)
    check_pending_limit(campaign=campaign_factory("once"), now=now)


@pytest.mark.django_db(transaction=True)
def test_the_pending_limit_must_be_checked_inside_the_callers_transaction(
    now: datetime, campaign_factory
) -> None:
    with pytest.raises(TransactionManagementError, match=r"inside transaction\.atomic\(\)"):
        check_pending_limit(campaign=campaign_factory("once"), now=now)


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_submits_for_the_last_slot_let_exactly_one_through(campaign_factory, account) -> None:
    add_pending(campaign_factory, 99)
    first = campaign_factory("recurring", CampaignStatus.DRAFT)
    second = campaign_factory("once", CampaignStatus.DRAFT)
    both_ready = threading.Barrier(2, timeout=10)
    outcomes: dict[int, str] = {}

    def submit(campaign_id: int) -> None:
        try:
            both_ready.wait()
            with transaction.atomic():
                campaign = Campaign.objects.get(pk=campaign_id)
                check_pending_limit(campaign=campaign, now=NOW)
                # Hold the slot a moment before taking it: without the account lock the
                # other submit would count 99 in this window and pass too.
                wall_clock.sleep(0.3)
                Campaign.objects.filter(pk=campaign_id).update(status=CampaignStatus.IN_REVIEW)
            outcomes[campaign_id] = "passed"
        except ValidationError as exc:
            outcomes[campaign_id] = exc.message_dict["schedule"][0]
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(c.pk,)) for c in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes.values()) == sorted(["passed", LIMIT_MESSAGE.format(n=100, limit=100)])
    assert pending_scheduled_count(account, now=NOW) == 100


# --- mPaaS audiences ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("provider", "audience_kind", "schedule", "refused"),
    [
        ("mpaas", "tags", "recurring", True),
        ("mpaas", "tags", "once", True),
        ("mpaas", "segment", "once", True),
        ("mpaas", "segment", "cron", True),
        ("mpaas", "tags", "now", False),
        ("mpaas", "segment", "now", False),
        ("mpaas", "all", "recurring", False),
        ("mpaas", "users", "once", False),
        ("jiguang", "tags", "recurring", False),
        ("binance", "segment", "cron", False),
    ],
)
def test_mpaas_refuses_scheduled_pushes_to_tags_and_segments(
    campaign_factory, provider: str, audience_kind: str, schedule: str, refused: bool
) -> None:
    campaign = campaign_factory(
        schedule,
        provider_account=make_account(f"{provider} account", provider),
        audience=make_audience(audience_kind),
    )
    if not refused:
        check_scheduled_audience(campaign=campaign)
        return
    with pytest.raises(ValidationError) as caught:
        check_scheduled_audience(campaign=campaign)
    assert caught.value.message_dict == {
        "audience": [
            f"audience '{audience_kind} audience 1' selects by {audience_kind}, and mPaaS does not support a "
            f"'{schedule}' schedule for a tag group or segment; send it now, or choose an audience of "
            "everyone or of listed user ids"
        ]
    }
