"""One validation path: whatever the campaign admin refuses on save, the API refuses on
create and update, with the same message (the form's words) keyed by the field's name.

The rules of the moment (a time in the past, the 180-day window, the pending limit) are
checked at submit by both (campaigns/schedules/validation.py); the last tests show the API
takes such a draft and refuses it at submit, in the same words.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django.utils.datastructures import MultiValueDict

from campaigns.admin.forms import CampaignAdminForm
from campaigns.models import Campaign
from tests.approvals.factories import make_account, make_campaign, make_template
from tests.campaigns.conftest import client_for

pytestmark = pytest.mark.django_db


def _days(n: int) -> str:
    return (timezone.localdate() + dt.timedelta(days=n)).isoformat()


def _admin_form_errors(payload: dict) -> dict[str, list[str]]:
    """Post ``payload`` as the admin form posts it and return the form's field errors."""
    schedule = payload["schedule"]
    data = {
        "name": payload["name"],
        "template": payload["template"],
        "provider_account": payload["provider_account"],
        "audience": payload["audience"],
        "language": payload["language"],
        "priority": 2,
        "expired_seconds": 3600,
        "provider_options": "{}",
        "schedule_kind": schedule.get("kind", "now"),
        "timezone": schedule.get("timezone", "UTC"),
        "circle_type": str(schedule.get("circle_type") or ""),
        "time": schedule.get("time") or "",
        "start_date": schedule.get("start_date") or "",
        "end_date": schedule.get("end_date") or "",
        "cron": schedule.get("cron") or "",
        "fixed_time": schedule.get("fixed_time") or "",
        **{f"parameters__{k}": v for k, v in payload["parameters"].items()},
        "parameters-present": "1",
    }
    suffix = {2: "weekly", 3: "monthly"}.get(schedule.get("circle_type"))
    form_data = dict(data)
    if suffix:
        form_data = {**data, f"circle_value_{suffix}": [str(v) for v in schedule.get("circle_value", [])]}
    multi = MultiValueDict({k: (v if isinstance(v, list) else [v]) for k, v in form_data.items()})
    form = CampaignAdminForm(data=multi, instance=Campaign())
    form.is_valid()
    return {k: list(v) for k, v in form.errors.items()}


# Each: the schedule the admin refused on save that POST /api/v1/campaigns/ used to store,
# the field the refusal is keyed by and words of its message.
REFUSED_AT_WRITE = [
    pytest.param(
        {"kind": "cron", "cron": "61 * * * *", "start_date": _days(0), "end_date": _days(10)},
        "cron",
        "Cron: 61 is not a minute; the first field, the minute, runs from 0 to 59.",
        id="cron-minute-61",
    ),
    pytest.param(
        {"kind": "cron", "cron": "0 24 * * *", "start_date": _days(0), "end_date": _days(10)},
        "cron",
        "Cron: 24 is not an hour",
        id="cron-hour-24",
    ),
    pytest.param(
        {"kind": "cron", "cron": "*/0 9 * * *", "start_date": _days(0), "end_date": _days(10)},
        "cron",
        "a step is a whole number of 1 or more",
        id="cron-step-0",
    ),
    pytest.param(
        {"kind": "cron", "cron": "0 9 * * * 2027", "start_date": _days(0), "end_date": _days(10)},
        "cron",
        "has 6 fields, not five",
        id="cron-six-fields",
    ),
    pytest.param(
        {"kind": "cron", "cron": "0 0 30 2 *", "start_date": _days(1), "end_date": _days(20)},
        "schedule",
        "this schedule has no occurrence between From",
        id="cron-never-in-its-period",
    ),
    pytest.param(
        {"kind": "cron", "cron": "0 9 * * *"},
        "start_date",
        "From: a repeating campaign needs the first day it may send",
        id="cron-without-period",
    ),
    pytest.param(
        {"kind": "recurring", "circle_type": 2, "circle_value": [8], "time": "09:00",
         "start_date": _days(0), "end_date": _days(10)},
        "circle_value",
        "On: 8 is not a day of the week; choose Monday (1) to Sunday (7).",
        id="weekday-8",
    ),
    pytest.param(
        {"kind": "recurring", "circle_type": 2, "circle_value": [], "time": "09:00",
         "start_date": _days(0), "end_date": _days(10)},
        "circle_value",
        "On: choose at least one day of the week",
        id="weekly-without-days",
    ),
    pytest.param(
        {"kind": "recurring", "circle_type": 1, "start_date": _days(0), "end_date": _days(10)},
        "time",
        "At (local time): a recurring campaign needs the local time of day",
        id="recurring-without-time",
    ),
    pytest.param(
        {"kind": "recurring", "circle_type": 1, "time": "09:00",
         "start_date": _days(10), "end_date": _days(5)},
        "end_date",
        "Until: {end} is before From ({start}); the last day must be on or after the first.",
        id="until-before-from",
    ),
    pytest.param(
        {"kind": "once"},
        "fixed_time",
        "Send at: a one-off campaign needs the date and time to send it.",
        id="once-without-a-time",
    ),
]


@pytest.mark.parametrize(("schedule", "field", "words"), REFUSED_AT_WRITE)
def test_the_api_refuses_on_create_what_the_admin_refuses_on_save(marketer, payload, schedule, field, words):
    payload["schedule"] = {**schedule, "timezone": "UTC"}
    words = words.format(start=schedule.get("start_date"), end=schedule.get("end_date"))

    response = client_for(marketer).post("/api/v1/campaigns/", payload, format="json")

    assert response.status_code == 400, response.json()
    assert any(words in message for message in response.json()[field]), response.json()
    assert not Campaign.objects.exists()
    # The admin refuses it with the same message, on the field the form shows it by.
    admin = _admin_form_errors(payload)
    shown_on = "schedule_kind" if field == "schedule" else field
    assert any(words in message for message in admin.get(shown_on, [])), admin


@pytest.mark.parametrize(("schedule", "field", "words"), REFUSED_AT_WRITE)
def test_the_api_refuses_on_update_what_the_admin_refuses_on_save(marketer, sale_template, account, audience,
                                                                  schedule, field, words):
    draft = make_campaign(marketer, template=sale_template, provider_account=account, audience=audience)
    words = words.format(start=schedule.get("start_date"), end=schedule.get("end_date"))

    response = client_for(marketer).patch(
        f"/api/v1/campaigns/{draft.pk}/", {"schedule": {**schedule, "timezone": "UTC"}}, format="json"
    )

    assert response.status_code == 400, response.json()
    assert any(words in message for message in response.json()[field]), response.json()
    draft.refresh_from_db()
    assert draft.schedule_kind == "now"  # nothing half-written


def test_a_valid_cron_is_still_stored_with_its_occurrences(marketer, payload):
    payload["schedule"] = {"kind": "cron", "cron": "0 9 * * 1-5", "start_date": _days(0),
                           "end_date": _days(30), "timezone": "UTC"}

    response = client_for(marketer).post("/api/v1/campaigns/", payload, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["next_occurrences"]


def test_a_rule_of_the_moment_waits_for_submit_in_the_same_words(marketer, payload):
    """The 180-day window depends on the day: a draft may hold it (admin and API alike);
    submitting refuses it with the form's words, keyed by the field's name."""
    payload["schedule"] = {"kind": "recurring", "circle_type": 1, "time": "09:00",
                           "start_date": _days(0), "end_date": _days(200), "timezone": "UTC"}
    client = client_for(marketer)

    created = client.post("/api/v1/campaigns/", payload, format="json")
    assert created.status_code == 201, created.json()
    assert "end_date" not in _admin_form_errors(payload)

    submitted = client.post(f"/api/v1/campaigns/{created.json()['id']}/submit/", {}, format="json")

    assert submitted.status_code == 400
    assert submitted.json()["end_date"] == [
        f"Until: {_days(200)} is 200 days from today; a campaign may repeat until at most 180 days "
        f"from today, {_days(180)}."
    ]


def test_a_missing_template_variable_is_refused_on_create_as_the_admin_refuses_it(marketer, payload):
    payload["parameters"] = {"name": "Ada"}

    response = client_for(marketer).post("/api/v1/campaigns/", payload, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["parameters"] == ["Parameters: no value for ${pct}; template sale v1 uses it."]
    assert not Campaign.objects.exists()
    assert _admin_form_errors(payload)["parameters"] == response.json()["parameters"]


def test_a_template_not_registered_with_the_provider_is_refused_on_create(marketer, payload):
    unregistered = make_account("jiguang")
    payload["provider_account"] = unregistered.pk
    alipay_only = make_template("sale-alipay-only")
    alipay_only.provider_refs = {"alipayplus": "TP_5800000001"}
    alipay_only.save()
    alipay_only.versions.update(provider_refs={"alipayplus": "TP_5800000001"})
    payload["template"] = alipay_only.pk

    response = client_for(marketer).post("/api/v1/campaigns/", payload, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["template"] == [
        f"Template: sale-alipay-only v1 is not registered with jiguang (provider account {unregistered}); "
        "choose another template or account."
    ]
    assert _admin_form_errors(payload)["template"] == response.json()["template"]
