"""The admin pages for marketing staff and reviewers: dashboard, campaign form, report, calendar.

Each page is also checked for a query count that does not grow with the rows it shows
(the pages aggregate; a query per row would show up here before it shows in the benchmark).
"""

from __future__ import annotations

import datetime as dt
import json
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from approvals.services import campaign_approve, campaign_submit
from campaigns.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Dispatch,
    DispatchStatus,
)
from tests.approvals.factories import make_account, make_audience, make_campaign, make_template

pytestmark = pytest.mark.django_db

INDEX = "/admin/"


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def add_url() -> str:
    return reverse("admin:campaigns_campaign_add")


def change_url(campaign: Campaign) -> str:
    return reverse("admin:campaigns_campaign_change", args=[campaign.pk])


def report_url(campaign: Campaign) -> str:
    return reverse("admin:campaigns_campaign_report", args=[campaign.pk])


def calendar_url() -> str:
    return reverse("admin:campaigns_campaign_calendar")


@pytest.fixture
def template(db):
    return make_template()


@pytest.fixture
def operator(make_user):
    return make_user("operator", "Operators")


def make_dispatch(
    campaign: Campaign, *, due_at=None, status=DispatchStatus.SENT, outcomes=(), **fields
) -> Dispatch:
    """Create a dispatch with one delivery per ``(status, code, message)`` in ``outcomes``,
    each with one attempt of the same outcome a second apart."""
    due_at = due_at or timezone.now().replace(microsecond=0)
    dispatch = Dispatch.objects.create(
        campaign=campaign,
        due_at=due_at,
        status=status,
        total_requests=len(outcomes),
        started_at=due_at,
        finished_at=due_at + dt.timedelta(minutes=1) if status != "running" else None,
        planned_at=due_at,
        **fields,
    )
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(
                dispatch=dispatch,
                batch_no=n,
                idempotency_key=f"k-{dispatch.pk}-{n}",
                status=status_,
                provider_code=code,
                provider_message=message,
                attempts=1,
                target_count=1,
            )
            for n, (status_, code, message) in enumerate(outcomes, start=1)
        ]
    )
    attempts = DeliveryAttempt.objects.bulk_create(
        [
            DeliveryAttempt(
                delivery=d,
                number=1,
                outcome=d.status,
                provider_code=d.provider_code,
                provider_message=d.provider_message,
            )
            for d in deliveries
            if d.status not in (DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT)
        ]
    )
    for i, attempt in enumerate(attempts):
        DeliveryAttempt.objects.filter(pk=attempt.pk).update(created_at=due_at + dt.timedelta(seconds=i))
    return dispatch


def set_status(campaign: Campaign, status: str, **fields) -> Campaign:
    Campaign.objects.filter(pk=campaign.pk).update(status=status, **fields)
    campaign.refresh_from_db()
    return campaign


# --- dashboard ---------------------------------------------------------------------------------


def test_the_dashboard_shows_a_reviewer_what_awaits_their_review(template, marketer, reviewer):
    draft = make_campaign(marketer, template=template, name="Spring sale")
    campaign_submit(campaign=draft, actor=marketer)

    page = browser(reviewer).get(INDEX).content.decode()

    assert "Awaiting my review (1)" in page
    assert reverse("admin:campaigns_campaign_review", args=[draft.pk]) in page


def test_the_dashboard_shows_a_marketer_their_drafts_and_rejected_campaigns(template, marketer, reviewer):
    draft = make_campaign(marketer, template=template, name="Still a draft")
    rejected = make_campaign(marketer, template=template, name="Sent back")
    campaign_submit(campaign=rejected, actor=marketer)
    from approvals.services import campaign_reject

    campaign_reject(campaign=rejected, actor=reviewer, comment="wrong discount")

    page = browser(marketer).get(INDEX).content.decode()

    assert "My drafts and rejected campaigns (2)" in page
    assert change_url(draft) in page and change_url(rejected) in page
    assert "Awaiting my review" not in page  # a marketer reviews nothing


def test_the_dashboard_lists_what_goes_out_in_the_next_seven_days(template, marketer, reviewer):
    soon = make_campaign(
        marketer,
        template=template,
        name="Tomorrow's promo",
        schedule_kind="once",
        fixed_time=timezone.now() + dt.timedelta(days=1),
    )
    later = make_campaign(
        marketer,
        template=template,
        name="Next month's promo",
        schedule_kind="once",
        fixed_time=timezone.now() + dt.timedelta(days=20),
    )
    for campaign in (soon, later):
        campaign_submit(campaign=campaign, actor=marketer)
        campaign_approve(campaign=campaign, actor=reviewer)

    page = browser(marketer).get(INDEX).content.decode()

    assert "Going out in the next 7 days (1)" in page
    assert "Tomorrow&#x27;s promo" in page and "Next month" not in page


def test_the_dashboard_shows_dispatches_running_now_with_their_progress(template, marketer):
    campaign = set_status(make_campaign(marketer, template=template, name="Big send"), CampaignStatus.SENDING)
    make_dispatch(
        campaign,
        status=DispatchStatus.RUNNING,
        outcomes=[(DeliveryStatus.DELIVERED, "", "")] * 3 + [(DeliveryStatus.PENDING, "", "")],
    )

    page = browser(marketer).get(INDEX).content.decode()

    assert "Sending now (1)" in page
    assert 'aria-valuenow="75"' in page and "3 / 4" in page


def test_the_dashboard_lists_recent_failures_with_their_provider_codes(template, marketer):
    campaign = set_status(
        make_campaign(marketer, template=template, name="Bad tokens"), CampaignStatus.FAILED
    )
    make_dispatch(
        campaign,
        status=DispatchStatus.FAILED,
        outcomes=[(DeliveryStatus.FAILED, "ACCESS_TOKEN_INVALID", "the access token expired")] * 2,
    )

    page = browser(marketer).get(INDEX).content.decode()

    assert "Bad tokens" in page
    assert "ACCESS_TOKEN_INVALID</span> × 2: the access token expired" in page


def test_an_operator_resends_or_closes_an_unknown_delivery_from_the_dashboard(template, marketer, operator):
    campaign = set_status(make_campaign(marketer, template=template), CampaignStatus.PARTIALLY_FAILED)
    dispatch = make_dispatch(
        campaign,
        status=DispatchStatus.PARTIALLY_FAILED,
        unknown=2,
        outcomes=[(DeliveryStatus.UNKNOWN, "WORKER_LOST", "the worker stopped")] * 2,
    )
    first, second = Delivery.objects.filter(dispatch=dispatch).order_by("batch_no")
    client = browser(operator)

    page = client.get(INDEX).content.decode()
    assert "Unknown outcomes needing an operator (2)" in page
    resend = reverse("admin:campaigns_delivery_resolve", args=[first.pk, "resend"])
    close = reverse("admin:campaigns_delivery_resolve", args=[second.pk, "close"])
    assert resend in page and close in page

    client.post(resend, {"next": INDEX})
    response = client.post(close, {"next": INDEX}, follow=True)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (DeliveryStatus.PENDING, DeliveryStatus.CLOSED)
    assert "is closed" in response.content.decode()


def test_a_marketer_sees_no_resolve_buttons_and_may_not_resolve(template, marketer):
    campaign = set_status(make_campaign(marketer, template=template), CampaignStatus.PARTIALLY_FAILED)
    dispatch = make_dispatch(campaign, unknown=1, outcomes=[(DeliveryStatus.UNKNOWN, "WORKER_LOST", "")])
    delivery = Delivery.objects.get(dispatch=dispatch)
    url = reverse("admin:campaigns_delivery_resolve", args=[delivery.pk, "close"])
    client = browser(marketer)

    assert url not in client.get(INDEX).content.decode()
    assert client.post(url).status_code == 403
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.UNKNOWN


def test_the_dashboard_costs_the_same_queries_with_many_rows(
    template, marketer, reviewer, operator, django_assert_max_num_queries
):
    for i in range(12):
        campaign = make_campaign(marketer, template=template, name=f"c{i}")
        if i % 2:
            set_status(campaign, CampaignStatus.SENDING)
            make_dispatch(
                campaign, status=DispatchStatus.RUNNING, outcomes=[(DeliveryStatus.DELIVERED, "", "")] * 5
            )
        else:
            set_status(campaign, CampaignStatus.FAILED)
            make_dispatch(
                campaign,
                status=DispatchStatus.FAILED,
                unknown=1,
                outcomes=[(DeliveryStatus.FAILED, "X", "x"), (DeliveryStatus.UNKNOWN, "", "")],
            )
    for user in (marketer, operator):
        client = browser(user)
        client.get(INDEX)
        with django_assert_max_num_queries(15):
            assert client.get(INDEX).status_code == 200


# --- the campaign form ------------------------------------------------------------------------


def _form(template, account, audience, **overrides) -> dict:
    data = {
        "name": "Autumn sale",
        "template": template.pk,
        "provider_account": account.pk,
        "audience": audience.pk,
        "language": "zh-CN",
        "parameters__name": "Ada",
        "parameters__pct": "30",
        "parameters-present": "1",
        "path": "",
        "provider_options": "{}",
        "priority": "2",
        "expired_seconds": "86400",
        "test_uids": "u1, u2",
        "schedule_kind": "now",
        "cron": "",
        "timezone": "UTC",
        "_save": "Save",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_the_add_form_shows_one_input_per_template_variable_and_the_template_languages(template, marketer):
    page = browser(marketer).get(f"{add_url()}?template={template.pk}").content.decode()

    assert 'name="parameters__name"' in page and 'name="parameters__pct"' in page
    assert '<option value="zh-CN">zh-CN</option>' in page
    assert "variables ${name}, ${pct}" in page
    config = page.split('id="campaign-form-config" type="application/json">')[1].split("</script>")[0]
    assert json.loads(config)["templates"][str(template.pk)]["variables"] == ["name", "pct"]


def test_the_form_saves_parameters_and_test_uids_from_their_inputs(template, marketer):
    account, audience = make_account("alipayplus"), make_audience("users")

    response = browser(marketer).post(add_url(), _form(template, account, audience))

    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign = Campaign.objects.get(name="Autumn sale")
    assert campaign.parameters == {"name": "Ada", "pct": "30"}
    assert campaign.test_uids == ["u1", "u2"]
    assert (campaign.language, campaign.status, campaign.created_by) == (
        "zh-CN",
        CampaignStatus.DRAFT,
        marketer,
    )


def test_a_missing_variable_is_an_error_on_parameters_naming_it(template, marketer):
    account, audience = make_account("alipayplus"), make_audience("users")

    response = browser(marketer).post(add_url(), _form(template, account, audience, parameters__pct=""))

    errors = response.context["adminform"].form.errors
    assert response.status_code == 200
    assert "no value for ${pct}" in errors["parameters"][0]


def test_a_template_not_registered_with_the_provider_is_an_error_on_template(marketer):
    from templates_registry.services import template_create

    binance_only = template_create(
        key="binance-only",
        default_language="en",
        status="active",
        variants=[{"language": "en", "title": "Hi", "body": "Hello ${name}"}],
        provider_refs={"binance": "1"},
    )
    data = _form(
        binance_only, make_account("alipayplus"), make_audience("users"), language="en", parameters__pct=None
    )

    response = browser(marketer).post(add_url(), data)

    assert "is not registered with alipayplus" in response.context["adminform"].form.errors["template"][0]


def test_fixed_time_is_read_in_the_campaigns_time_zone(template, marketer):
    account, audience = make_account("alipayplus"), make_audience("users")
    day = timezone.now().date() + dt.timedelta(days=3)
    data = _form(
        template,
        account,
        audience,
        schedule_kind="once",
        timezone="Asia/Shanghai",
        fixed_time=f"{day.isoformat()}T09:30",
    )

    response = browser(marketer).post(add_url(), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign = Campaign.objects.get(name="Autumn sale")
    assert campaign.fixed_time == dt.datetime.combine(day, dt.time(1, 30), tzinfo=dt.UTC)
    page = browser(marketer).get(change_url(campaign)).content.decode()
    assert f'value="{day.isoformat()}T09:30"' in page  # shown back in the campaign's zone


def test_weekday_checkboxes_make_the_weekly_recurrence(template, marketer):
    account, audience = make_account("alipayplus"), make_audience("users")
    today = timezone.now().date()
    data = _form(
        template,
        account,
        audience,
        schedule_kind="recurring",
        circle_type="2",
        time="09:00",
        start_date=today.isoformat(),
        end_date=(today + dt.timedelta(days=30)).isoformat(),
    )
    data["circle_value_weekly"] = ["1", "5"]
    data["circle_value_monthly"] = ["12"]  # a hidden group is ignored

    response = browser(marketer).post(add_url(), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Campaign.objects.get(name="Autumn sale").circle_value == [1, 5]


def test_a_recurrence_ending_too_far_away_is_saved_with_a_warning_and_refused_at_submit(template, marketer):
    """The 180-day window is a rule of the moment: checked at submit, in the admin as in the
    API (one validation path); saving says at once that submitting will refuse it."""
    account, audience = make_account("alipayplus"), make_audience("users")
    today = timezone.now().date()
    end = today + dt.timedelta(days=400)
    data = _form(
        template,
        account,
        audience,
        schedule_kind="recurring",
        circle_type="1",
        time="09:00",
        start_date=today.isoformat(),
        end_date=end.isoformat(),
    )

    response = browser(marketer).post(add_url(), data, follow=True)

    words = (
        f"Until: {end} is 400 days from today; a campaign may repeat until at most 180 days from today, "
        f"{today + dt.timedelta(days=180)}."
    )
    shown = [str(message) for message in response.context["messages"]]
    assert f"Saved, but it cannot be submitted yet. {words}" in shown
    campaign = Campaign.objects.get(name=data["name"])
    with pytest.raises(ValidationError) as refused:
        campaign_submit(campaign=campaign, actor=marketer)
    assert refused.value.message_dict["end_date"] == [words]


def test_a_weekly_until_before_from_is_refused_on_save_in_the_forms_words(template, marketer):
    account, audience = make_account("alipayplus"), make_audience("users")
    today = timezone.now().date()
    data = _form(
        template, account, audience, schedule_kind="recurring", circle_type="2", time="09:00",
        start_date=(today + dt.timedelta(days=10)).isoformat(),
        end_date=(today + dt.timedelta(days=3)).isoformat(),
    )
    data["circle_value_weekly"] = ["1", "4"]

    response = browser(marketer).post(add_url(), data)

    assert response.context["adminform"].form.errors["end_date"] == [
        f"Until: {today + dt.timedelta(days=3)} is before From ({today + dt.timedelta(days=10)}); the last "
        "day must be on or after the first."
    ]


def test_the_form_offers_only_enabled_provider_accounts(template, marketer):
    enabled, disabled = (
        make_account("jiguang", name="Jiguang live"),
        make_account("jiguang", name="Jiguang off"),
    )
    disabled.enabled = False
    disabled.save()

    choices = browser(marketer).get(add_url()).context["adminform"].form.fields["provider_account"].queryset

    assert list(choices) == [enabled]


def test_status_is_never_a_form_field(template, marketer):
    campaign = make_campaign(marketer, template=template)

    response = browser(marketer).get(change_url(campaign))

    assert "status" not in response.context["adminform"].form.fields
    assert 'name="status"' not in response.content.decode()


def test_the_change_page_links_the_report_and_shows_the_next_occurrences(template, marketer):
    campaign = make_campaign(
        marketer,
        template=template,
        schedule_kind="recurring",
        circle_type=1,
        time=dt.time(9),
        start_date=timezone.now().date(),
        end_date=timezone.now().date() + dt.timedelta(days=10),
    )

    page = browser(marketer).get(change_url(campaign)).content.decode()

    assert report_url(campaign) in page
    assert page.split('id="schedule-preview"')[1].count("<li>") == 5


def test_the_change_page_costs_the_same_queries_with_many_audit_events_and_dispatches(
    template, marketer, django_assert_max_num_queries
):
    campaign = make_campaign(marketer, template=template)
    for i in range(10):
        make_dispatch(
            campaign,
            due_at=timezone.now() - dt.timedelta(hours=i),
            is_preview=True,
            outcomes=[(DeliveryStatus.DELIVERED, "", "")] * 3,
        )
    client = browser(marketer)
    with django_assert_max_num_queries(30):
        assert client.get(change_url(campaign)).status_code == 200
    with django_assert_max_num_queries(20):
        assert client.get(add_url()).status_code == 200


# --- the form's JSON helpers --------------------------------------------------------------------


def test_the_schedule_preview_lists_the_next_five_occurrences_in_the_campaigns_zone(marketer):
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the campaign's zone
    query = {
        "schedule_kind": "recurring",
        "circle_type": "2",
        "circle_value": "1,3",
        "time": "09:30",
        "start_date": today.isoformat(),
        "end_date": (today + dt.timedelta(days=60)).isoformat(),
        "timezone": "Asia/Shanghai",
    }

    data = browser(marketer).get(reverse("admin:campaigns_campaign_schedule_preview"), query).json()

    assert data["errors"] == {}
    assert len(data["occurrences"]) == 5
    assert all(o["local"].endswith("09:30") and o["utc"].endswith("01:30 UTC") for o in data["occurrences"])
    assert {o["local"][:3] for o in data["occurrences"]} <= {"Mon", "Wed"}


def test_the_schedule_preview_reports_errors_by_field(marketer):
    query = {"schedule_kind": "cron", "cron": "every day", "timezone": "UTC"}

    data = browser(marketer).get(reverse("admin:campaigns_campaign_schedule_preview"), query).json()

    assert data["occurrences"] == []
    assert set(data["errors"]) >= {"cron", "start_date", "end_date"}


def test_the_audience_size_helper_counts_for_the_chosen_provider(marketer):
    audience = make_audience("users", user_ids=("a", "b", "c", "d"), suppressed=("d",))
    account = make_account("jiguang")
    url = reverse("admin:campaigns_campaign_audience_size")

    data = browser(marketer).get(url, {"audience": audience.pk, "provider_account": account.pk}).json()

    assert data["size"] == "3 recipients reachable through Jiguang UMS"


def test_the_json_helpers_need_a_staff_login(client):
    response = client.get(reverse("admin:campaigns_campaign_schedule_preview"))

    assert response.status_code == 302 and "/login/" in response["Location"]


# --- the report ----------------------------------------------------------------------------------


def test_the_report_counts_each_occurrence_and_charts_outcomes_over_time(template, marketer):
    campaign = set_status(make_campaign(marketer, template=template), CampaignStatus.PARTIALLY_FAILED)
    dispatch = make_dispatch(
        campaign,
        status=DispatchStatus.PARTIALLY_FAILED,
        delivered=3,
        failed=1,
        outcomes=[(DeliveryStatus.DELIVERED, "S", "")] * 3
        + [(DeliveryStatus.FAILED, "INVALID_TOKEN", "bad token")],
    )
    DeliveryAttempt.objects.create(
        delivery=Delivery.objects.filter(dispatch=dispatch).first(),
        number=0,
        outcome="retry",
        provider_code="RATE_LIMIT",
        provider_message="slow down",
    )

    response = browser(marketer).get(report_url(campaign))

    page = response.content.decode()
    assert response.status_code == 200
    shown = response.context["shown"]
    assert (shown["requests"], shown["delivered"], shown["failed"]) == (4, 3, 1)
    assert '<svg class="chart" id="outcome-chart"' in page and page.count("<rect ") >= 3
    legend = [item["name"] for item in response.context["chart"].legend]
    assert legend == ["Delivered", "Retried", "Failed INVALID_TOKEN"]


def test_the_report_lists_failing_codes_with_the_providers_words_and_links_to_the_deliveries(
    template, marketer
):
    campaign = set_status(make_campaign(marketer, template=template), CampaignStatus.FAILED)
    dispatch = make_dispatch(
        campaign,
        status=DispatchStatus.FAILED,
        outcomes=[(DeliveryStatus.FAILED, "900001", "invalid parameter")] * 2
        + [(DeliveryStatus.OPTED_OUT, "900240", "")],
    )

    response = browser(marketer).get(report_url(campaign))

    codes = {row["code"]: row for row in response.context["codes"]}
    assert codes["900001"]["count"] == 2 and codes["900001"]["meaning"] == "invalid parameter"
    assert codes["900240"]["outcome"] == "Opted out"
    link = codes["900001"]["url"]
    assert f"dispatch__id__exact={dispatch.pk}" in link and "provider_code=900001" in link
    assert browser(marketer).get(link).status_code == 200  # the delivery list accepts the filter


def test_a_recurring_campaign_report_shows_every_occurrence_page_by_page(template, marketer):
    campaign = set_status(make_campaign(marketer, template=template), CampaignStatus.APPROVED)
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=40)
    for day in range(30):
        make_dispatch(
            campaign, due_at=start + dt.timedelta(days=day), outcomes=[(DeliveryStatus.DELIVERED, "", "")]
        )
    client = browser(marketer)

    first = client.get(report_url(campaign))
    second = client.get(report_url(campaign), {"page": 2})

    assert len(first.context["rows"]) == 25 and len(second.context["rows"]) == 5
    assert first.context["totals"]["occurrences"] == 30
    assert "page 1 of 2 (30 occurrences)" in first.content.decode()


def test_the_report_costs_the_same_queries_with_many_occurrences(
    template, marketer, django_assert_max_num_queries
):
    campaign = set_status(make_campaign(marketer, template=template), CampaignStatus.APPROVED)
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=40)
    for day in range(30):
        make_dispatch(
            campaign,
            due_at=start + dt.timedelta(days=day),
            outcomes=[(DeliveryStatus.DELIVERED, "", ""), (DeliveryStatus.FAILED, "E", "e")],
        )
    client = browser(marketer)
    with django_assert_max_num_queries(20):
        assert client.get(report_url(campaign)).status_code == 200


# --- the calendar ---------------------------------------------------------------------------------


def _approved(marketer, reviewer, template, **fields) -> Campaign:
    campaign = make_campaign(marketer, template=template, **fields)
    campaign_submit(campaign=campaign, actor=marketer)
    campaign_approve(campaign=campaign, actor=reviewer)
    return campaign


def test_the_calendar_shows_occurrences_by_day_and_marks_overlaps_on_one_audience(
    template, marketer, reviewer
):
    vips = make_audience("users", name="VIPs")
    # At 10:00, so that Promo B an hour later falls on the same day at any time of day the
    # test runs (at 23:30 it fell on the next day's cell).
    when = timezone.localtime(timezone.now() + dt.timedelta(days=2)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    _approved(
        marketer, reviewer, template, name="Promo A", audience=vips, schedule_kind="once", fixed_time=when
    )
    _approved(
        marketer,
        reviewer,
        template,
        name="Promo B",
        audience=vips,
        schedule_kind="once",
        fixed_time=when + dt.timedelta(hours=1),
    )
    _approved(marketer, reviewer, template, name="Alone", schedule_kind="once", fixed_time=when)

    response = browser(marketer).get(calendar_url())

    page = response.content.decode()
    cell = page.split(f'data-date="{timezone.localdate(when).isoformat()}"')[1].split("</td>")[0]
    assert "Promo A" in cell and "Promo B" in cell and "Alone" in cell
    assert cell.count("occurrence overlap") == 2
    assert "same audience as: Promo B" in cell
    assert "2 campaigns share an audience" in page


def test_the_calendar_costs_the_same_queries_with_many_campaigns(
    template, marketer, reviewer, django_assert_max_num_queries
):
    today = timezone.now().date()
    for i in range(15):
        _approved(
            marketer,
            reviewer,
            template,
            name=f"daily {i}",
            schedule_kind="recurring",
            circle_type=1,
            time=dt.time(9),
            start_date=today,
            end_date=today + dt.timedelta(days=60),
        )
    client = browser(marketer)
    with django_assert_max_num_queries(8):
        response = client.get(calendar_url())
    assert response.context["total"] >= 15 * 29


# --- the review page ----------------------------------------------------------------------------


def test_the_review_page_costs_the_same_queries_with_many_previews_and_members(
    template, marketer, reviewer, django_assert_max_num_queries
):
    audience = make_audience("users", user_ids=[f"u{i}" for i in range(500)])
    campaign = make_campaign(
        marketer, template=template, audience=audience, provider_account=make_account("jiguang")
    )
    for i in range(15):
        make_dispatch(
            campaign,
            due_at=timezone.now() - dt.timedelta(minutes=i),
            is_preview=True,
            outcomes=[(DeliveryStatus.DELIVERED, "", "")],
        )
    campaign_submit(campaign=campaign, actor=marketer)
    client = browser(reviewer)
    with django_assert_max_num_queries(40):
        response = client.get(reverse("admin:campaigns_campaign_review", args=[campaign.pk]))
    page = response.content.decode()
    assert "Save 20% today" in page and "今天省 20%" in page
    assert "500 recipients" in page


def test_the_delivery_page_does_not_show_the_addresses_planning_kept(make_user, template):
    admin_user = make_user("root", "Operators", superuser=True)
    campaign = make_campaign(admin_user, template=template, provider_account=make_account("jiguang"))
    dispatch = make_dispatch(campaign, outcomes=[(DeliveryStatus.DELIVERED, "0", "ok")])
    delivery = dispatch.deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(targets=["u1"], routes=[["jg-address-7f3a", "en"]])

    page = browser(admin_user).get(reverse("admin:campaigns_delivery_change", args=[delivery.pk]))

    assert page.status_code == 200
    body = page.content.decode()
    assert delivery.idempotency_key in body and "jg-address-7f3a" not in body


# --- rejected reasons and held occurrences (approvals that survive a living audience) ------------


def test_the_dashboard_lists_the_reviewers_reason_beside_a_rejected_campaign(template, marketer, reviewer):
    from approvals.services import campaign_reject

    rejected = make_campaign(marketer, template=template, name="Sent back")
    campaign_submit(campaign=rejected, actor=marketer)
    campaign_reject(campaign=rejected, actor=reviewer, comment="wrong discount: say 25%")

    page = browser(marketer).get(INDEX).content.decode()

    row = page[page.index(change_url(rejected)):]
    row = row[: row.index("</tr>")]
    assert "wrong discount: say 25%" in row and "reviewer" in row


def _held(marketer, reviewer, template, *, reach=16, name="Daily tips") -> Dispatch:
    campaign = _approved(marketer, reviewer, template, name=name)
    Campaign.objects.filter(pk=campaign.pk).update(approved_reach=10, reach_limit=11)
    return Dispatch.objects.create(
        campaign=campaign,
        due_at=timezone.now().replace(microsecond=0),
        status=DispatchStatus.HELD,
        reach=reach,
        detail=f"reach {reach} is above the bound of 11 approved for this campaign",
    )


def test_the_dashboard_asks_a_reviewer_to_confirm_a_held_occurrence(template, marketer, reviewer, make_user):
    held = _held(marketer, reviewer, template)
    other = make_user("reviewer-b", "Reviewers")

    page = browser(other).get(INDEX).content.decode()

    assert 'id="dashboard-held"' in page and "Reach grew — confirm (1)" in page
    row = page[page.index(f'id="held-{held.pk}"'):]
    row = row[: row.index("</tr>")]
    assert "Daily tips" in row and "10 → <strong>16</strong>" in row
    assert reverse("admin:campaigns_dispatch_held", args=[held.pk, "confirm"]) in row
    assert reverse("admin:campaigns_dispatch_held", args=[held.pk, "cancel"]) in row


def test_the_dashboard_shows_the_author_no_confirm_button_and_says_why(template, make_user, reviewer):
    both = make_user("both", "Marketing", "Reviewers")
    held = _held(both, reviewer, template)

    page = browser(both).get(INDEX).content.decode()

    row = page[page.index(f'id="held-{held.pk}"'):]
    row = row[: row.index("</tr>")]
    assert reverse("admin:campaigns_dispatch_held", args=[held.pk, "confirm"]) not in row
    assert "four-eyes" in row or "created" in row  # the refusal, in words


def test_a_marketer_sees_no_held_section(template, marketer, reviewer):
    _held(marketer, reviewer, template)

    page = browser(marketer).get(INDEX).content.decode()

    assert 'id="dashboard-held"' not in page


def test_cancelling_a_held_occurrence_from_the_dashboard(template, marketer, reviewer, make_user):
    held = _held(marketer, reviewer, template)
    other = make_user("reviewer-b", "Reviewers")

    response = browser(other).post(
        reverse("admin:campaigns_dispatch_held", args=[held.pk, "cancel"]), {"next": INDEX}, follow=True
    )

    held.refresh_from_db()
    assert held.status == DispatchStatus.CANCELLED
    assert any("cancelled" in str(m) for m in response.context["messages"])


def test_the_calendar_and_the_report_show_a_held_occurrence(template, marketer, reviewer):
    held = _held(marketer, reviewer, template)
    client = browser(marketer)

    calendar = client.get(calendar_url()).content.decode()
    report = client.get(report_url(held.campaign)).content.decode()

    assert "occurrence held" in calendar or 'class="occurrence held"' in calendar
    assert '<span class="held-tag">held</span>' in calendar
    assert 'id="report-held"' in report
    held_row = report[report.index(f'id="held-{held.pk}"'):]
    assert "<td class=\"num\">16</td>" in held_row[: held_row.index("</tr>")]


def test_confirming_a_held_occurrence_from_the_dashboard_sends_it_and_the_author_may_not(
    template, make_user, reviewer
):
    both = make_user("both", "Marketing", "Reviewers")
    held = _held(both, reviewer, template)
    url = reverse("admin:campaigns_dispatch_held", args=[held.pk, "confirm"])
    other = make_user("reviewer-b", "Reviewers")

    refused = browser(both).post(url, {"next": INDEX}, follow=True)
    held.refresh_from_db()
    assert held.status == DispatchStatus.HELD
    assert any(m.level_tag == "error" for m in refused.context["messages"])

    with mock.patch("approvals.holds.enqueue_dispatch") as wake:
        confirmed = browser(other).post(url, {"next": INDEX}, follow=True)

    held.refresh_from_db()
    assert held.status == DispatchStatus.PENDING
    wake.assert_called_once_with(held.pk)
    assert any("16 recipients is confirmed" in str(m) for m in confirmed.context["messages"])
    held.campaign.refresh_from_db()
    assert held.campaign.approved_reach == 16
