"""Dates a page builds itself follow the language (README, "Languages"): the campaign form's
schedule preview and the daylight-saving notes read 2026年12月7日 周一 09:00 in zh-Hans and
exactly as before in English (the format strings are msgids: ``_("D Y-m-d H:i")``)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from campaigns.admin.schedule_form import schedule_preview
from campaigns.schedules.notes import notes
from campaigns.schedules.spec import ScheduleSpec

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
DAILY = {
    "schedule_kind": "recurring", "circle_type": "1", "time": "09:00",
    "start_date": "2026-12-07", "end_date": "2026-12-20", "timezone": "Asia/Shanghai",
}


def first_local(language: str) -> tuple[str, str]:
    with translation.override(language):
        moment = schedule_preview(DAILY, now=NOW)["occurrences"][0]
    return moment["local"], moment["utc"]


def test_the_schedule_preview_reads_chinese_dates_in_zh_hans_and_the_same_english_as_before():
    assert first_local("en") == ("Mon 2026-12-07 09:00", "2026-12-07 01:00 UTC")
    assert first_local("zh-hans") == ("2026年12月7日 周一 09:00", "2026-12-07 01:00 UTC")


def test_a_daylight_saving_note_names_the_day_in_the_readers_language():
    spec = ScheduleSpec.from_dict({
        "kind": "recurring", "circle_type": 1, "circle_value": "", "time": "02:30",
        "start_date": "2026-03-01", "end_date": "2026-03-31", "timezone": "America/New_York",
        "fixed_time": None, "cron": "",
    })
    with translation.override("en"):
        assert notes(spec) == [
            "time 02:30:00 on Sunday 2026-03-08 does not exist in America/New_York (clocks go forward "
            "1 hour at 02:00); it runs 1 hour later that day, at 03:30:00"
        ]
    with translation.override("zh-hans"):
        (note,) = notes(spec)
    assert "2026年3月8日 周日" in note and "America/New_York" in note and "1 小时" in note
    assert "does not exist" not in note
