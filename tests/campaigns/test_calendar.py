"""The campaign calendar: upcoming occurrences by day, from one query, overlaps flagged."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from campaigns.models import Campaign, CampaignStatus, Dispatch, DispatchStatus
from campaigns.sending.selectors import calendar_occurrences
from tests.approvals.factories import make_account, make_audience, make_template

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 20, 12, 0, tzinfo=UTC)  # Europe/Berlin springs forward on 29 March


@pytest.fixture
def parts(db):
    return {
        "template": make_template("calendar"),
        "account": make_account("mpaas", name="mPaaS main"),
        "audience": make_audience("users", name="VIP"),
    }


@pytest.fixture
def make_campaign(parts, marketer):
    def make(name: str, *, status: str = CampaignStatus.APPROVED, **fields) -> Campaign:
        fields.setdefault("template", parts["template"])
        fields.setdefault("provider_account", parts["account"])
        fields.setdefault("audience", parts["audience"])
        return Campaign.objects.create(name=name, status=status, created_by=marketer, **fields)

    return make


def daily(make_campaign, name: str, *, at: str = "09:00", zone: str = "Europe/Berlin", **fields) -> Campaign:
    start = fields.pop("start_date", dt.date(2026, 3, 20))
    end = fields.pop("end_date", dt.date(2026, 4, 30))
    status = fields.get("status", CampaignStatus.APPROVED)
    first_day = max(start, NOW.date() + dt.timedelta(days=1))
    first = dt.datetime.combine(first_day, dt.time.fromisoformat(at), tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return make_campaign(
        name,
        schedule_kind="recurring",
        circle_type=1,
        time=dt.time.fromisoformat(at),
        start_date=start,
        end_date=end,
        timezone=zone,
        next_due_at=None if status == CampaignStatus.IN_REVIEW else first,
        **fields,
    )


def test_a_daily_campaign_appears_every_day_at_its_local_time_across_a_daylight_saving_change(
    make_campaign,
):
    campaign = daily(make_campaign, "Morning news")

    found = calendar_occurrences(start=dt.date(2026, 3, 27), end=dt.date(2026, 3, 30), now=NOW)

    assert [o.campaign_id for o in found] == [campaign.pk] * 4
    assert [o.due_at for o in found] == [
        dt.datetime(2026, 3, 27, 8, 0, tzinfo=UTC),
        dt.datetime(2026, 3, 28, 8, 0, tzinfo=UTC),
        dt.datetime(2026, 3, 29, 7, 0, tzinfo=UTC),
        dt.datetime(2026, 3, 30, 7, 0, tzinfo=UTC),
    ]
    assert {o.local_time.strftime("%H:%M") for o in found} == {"09:00"}
    assert found[0].local_time.utcoffset() == dt.timedelta(hours=1)
    assert found[-1].local_time.utcoffset() == dt.timedelta(hours=2)
    first = found[0]
    assert (first.campaign_name, first.status, first.approved, first.provider_kind) == (
        "Morning news",
        "approved",
        True,
        "mpaas",
    )
    assert (first.audience_name, first.timezone, first.overlaps) == ("VIP", "Europe/Berlin", ())


def test_a_campaign_in_review_is_listed_as_not_yet_approved(make_campaign):
    daily(make_campaign, "Pending", status=CampaignStatus.IN_REVIEW)

    found = calendar_occurrences(start=dt.date(2026, 3, 25), end=dt.date(2026, 3, 25), now=NOW)

    assert [(o.status, o.approved) for o in found] == [("in_review", False)]


def test_drafts_rejected_and_cancelled_campaigns_are_not_listed(make_campaign):
    S = CampaignStatus
    for status in (S.DRAFT, S.REJECTED, S.CANCELLED, S.SENT):
        daily(make_campaign, f"c-{status}", status=status)

    assert calendar_occurrences(start=dt.date(2026, 3, 21), end=dt.date(2026, 4, 20), now=NOW) == []


def test_campaigns_for_the_same_audience_on_the_same_day_are_flagged_as_overlapping(make_campaign, parts):
    morning = daily(make_campaign, "Morning", at="09:00")
    evening = daily(make_campaign, "Evening", at="19:00", zone="UTC")
    elsewhere = daily(make_campaign, "Other audience", audience=make_audience("users", name="Beta"))

    found = calendar_occurrences(start=dt.date(2026, 3, 24), end=dt.date(2026, 3, 24), now=NOW)

    overlaps = {o.campaign_id: o.overlaps for o in found}
    assert overlaps == {morning.pk: (evening.pk,), evening.pk: (morning.pk,), elsewhere.pk: ()}


def test_an_approved_campaign_starts_at_its_next_undispatched_occurrence(make_campaign):
    campaign = daily(make_campaign, "Half sent")
    Campaign.objects.filter(pk=campaign.pk).update(
        status=CampaignStatus.SENDING, next_due_at=dt.datetime(2026, 3, 25, 8, 0, tzinfo=UTC)
    )

    found = calendar_occurrences(start=dt.date(2026, 3, 21), end=dt.date(2026, 3, 26), now=NOW)

    assert [o.day for o in found] == [dt.date(2026, 3, 25), dt.date(2026, 3, 26)]


def test_a_once_campaign_and_an_approved_now_campaign_appear_at_their_due_times(make_campaign):
    at = dt.datetime(2026, 3, 22, 15, 30, tzinfo=UTC)
    once = make_campaign("Once", schedule_kind="once", fixed_time=at, next_due_at=at)
    make_campaign("Once, later", schedule_kind="once", fixed_time=at + dt.timedelta(days=60))
    now_campaign = make_campaign("Now", schedule_kind="now", next_due_at=NOW)
    make_campaign("Now, in review", schedule_kind="now", status=CampaignStatus.IN_REVIEW)

    found = calendar_occurrences(start=dt.date(2026, 3, 20), end=dt.date(2026, 3, 31), now=NOW)

    assert [(o.campaign_id, o.due_at) for o in found] == [(now_campaign.pk, NOW), (once.pk, at)]


def test_a_cron_past_the_listing_cut_is_counted_one_row_a_day(make_campaign):
    make_campaign(
        "Spam",
        schedule_kind="cron",
        cron="* * * * *",
        start_date=dt.date(2026, 3, 20),
        end_date=dt.date(2026, 4, 30),
        next_due_at=NOW,
    )

    found = calendar_occurrences(
        start=dt.date(2026, 3, 21), end=dt.date(2026, 3, 22), now=NOW, per_campaign=5
    )

    assert [(o.day, o.count) for o in found] == [(dt.date(2026, 3, 21), 1440), (dt.date(2026, 3, 22), 1440)]


def test_the_calendar_reads_all_campaigns_in_one_query(make_campaign, parts):
    for n in range(8):
        daily(make_campaign, f"c{n}", audience=make_audience("users", name=f"aud{n}"))

    with CaptureQueriesContext(connection) as queries:
        found = calendar_occurrences(start=dt.date(2026, 3, 21), end=dt.date(2026, 4, 19), now=NOW)

    assert len(found) == 8 * 30
    assert len(queries.captured_queries) == 1


def test_days_are_counted_in_the_time_zone_asked_for(make_campaign):
    daily(make_campaign, "Late", at="23:30", zone="UTC")

    found = calendar_occurrences(
        start=dt.date(2026, 3, 25), end=dt.date(2026, 3, 25), zone=dt.timezone(dt.timedelta(hours=2)), now=NOW
    )

    # 23:30 UTC on the 24th is 01:30 on the 25th two hours east.
    assert [o.due_at for o in found] == [dt.datetime(2026, 3, 24, 23, 30, tzinfo=UTC)]


# --- the REST endpoint --------------------------------------------------------------------


def get(user, **params):
    client = APIClient()
    client.force_authenticate(user)
    return client.get("/api/v1/calendar/", params)


@time_machine.travel(NOW, tick=False)
def test_the_calendar_endpoint_groups_occurrences_by_day_with_local_times(make_campaign, marketer):
    campaign = daily(make_campaign, "Morning news")

    response = get(marketer, **{"from": "2026-03-28", "to": "2026-03-29"})

    assert response.status_code == 200
    body = response.json()
    assert (body["from"], body["to"], body["timezone"]) == ("2026-03-28", "2026-03-29", "UTC")
    assert body["count"] == 2
    assert [day["date"] for day in body["days"]] == ["2026-03-28", "2026-03-29"]
    occurrence = body["days"][1]["occurrences"][0]
    assert occurrence == {
        "campaign_id": campaign.pk,
        "name": "Morning news",
        "status": "approved",
        "approved": True,
        "provider_kind": "mpaas",
        "provider_account_id": campaign.provider_account_id,
        "provider_account_name": "mPaaS main",
        "audience_id": campaign.audience_id,
        "audience_name": "VIP",
        "due_at": "2026-03-29T07:00:00Z",
        "local_time": "2026-03-29T09:00:00+02:00",
        "timezone": "Europe/Berlin",
        "overlaps": [],
        "held": False,
        "count": 1,
        "last_due_at": None,
    }


@time_machine.travel(NOW, tick=False)
def test_the_calendar_defaults_to_today_and_the_next_thirty_days(make_campaign, marketer):
    daily(make_campaign, "Morning news")

    body = get(marketer).json()

    assert (body["from"], body["to"]) == ("2026-03-20", "2026-04-19")
    assert body["count"] == 30  # today's 09:00 Berlin has passed; 21 March to 19 April


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"from": "20/03/2026"}, "from", "from '20/03/2026' is not a date; use YYYY-MM-DD"),
        ({"to": "2026-02-30"}, "to", "to '2026-02-30' is not a date; use YYYY-MM-DD"),
        (
            {"from": "2026-03-20", "to": "2026-03-19"},
            "to",
            "to 2026-03-19 is before from 2026-03-20; the period must not end before it starts",
        ),
        (
            {"from": "2026-03-20", "to": "2026-06-20"},
            "to",
            "to 2026-06-20 makes the period 93 days long (from 2026-03-20); "
            "the calendar shows at most 92 days",
        ),
        (
            {"from": "9999-12-31"},
            "from",
            "from 9999-12-31 is outside the dates a calendar shows (1970-01-01 to 9000-12-31)",
        ),
    ],
)
def test_a_wrong_period_is_refused_naming_the_parameter(marketer, params, field, message):
    response = get(marketer, **params)

    assert response.status_code == 400
    assert response.json() == {field: [message]}


def test_ninety_two_days_is_the_longest_period(marketer):
    assert get(marketer, **{"from": "2026-03-20", "to": "2026-06-19"}).status_code == 200


def test_users_who_are_not_staff_cannot_read_the_calendar(django_user_model):
    user = django_user_model.objects.create_user(username="eve", password="x")
    assert get(user).status_code == 403


@time_machine.travel(NOW, tick=False)
def test_the_calendar_endpoint_marks_an_occurrence_held_for_its_reach(make_campaign, marketer):
    campaign = daily(make_campaign, "Morning news")
    due = dt.datetime(2026, 3, 21, 8, 0, tzinfo=UTC)
    Dispatch.objects.create(campaign=campaign, due_at=due, status=DispatchStatus.HELD, reach=16)
    # As the ticker leaves it: the campaign's next occurrence is the following day's.
    Campaign.objects.filter(pk=campaign.pk).update(next_due_at=due + dt.timedelta(days=1))

    body = get(marketer, **{"from": "2026-03-21", "to": "2026-03-21"}).json()

    occurrences = body["days"][0]["occurrences"]
    assert [(o["due_at"], o["held"]) for o in occurrences] == [("2026-03-21T08:00:00Z", True)]
