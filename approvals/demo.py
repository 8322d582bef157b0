"""Demo campaigns (``manage.py seed_demo``) at each step of the life cycle, safe to run again.

Created by name through the same services the admin and the API use, so the audit trail
is real. What a newcomer sees after ``make run``:

* **Welcome bonus — Alipay+ VIPs**: a draft by ``marketer``, due as soon as approved.
  Submit it as ``marketer``, approve it as ``reviewer``, and within seconds the worker
  sends it to the Alipay+ emulator (one request per VIP; VIPs without a token are
  reported as skipped).
* **Weekly digest — Jiguang beta testers**: submitted by ``marketer``, waiting in the
  review queue; recurring every Monday 09:00 Asia/Shanghai for 60 days.
* **New listing — Binance broadcast**: a broadcast to everyone, approved by ``reviewer``
  and ``reviewer2`` (broadcasts need two approvals), due tomorrow 10:00 UTC: it shows in
  the calendar.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TextIO
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.utils import timezone

from approvals.services import campaign_approve, campaign_submit
from campaigns.models import Audience, Campaign, CampaignStatus
from campaigns.services import campaign_create
from providers.models import ProviderAccount
from templates_registry.models import MessageTemplate


def _users() -> dict[str, object]:
    User = get_user_model()
    return {u.username: u for u in User.objects.filter(username__in=["marketer", "reviewer", "reviewer2"])}


def _campaign_specs(today) -> list[dict]:
    tomorrow_10 = datetime.combine(today + timedelta(days=1), time(10, 0), tzinfo=UTC)
    shanghai_today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    return [
        {
            "name": "Welcome bonus — Alipay+ VIPs",
            "template": "welcome-bonus",
            "account": "Alipay+ demo",
            "audience": "VIP users",
            "language": "en",
            "parameters": {"first_name": "friend", "amount": "10 USDT", "deadline": "31 December"},
            "schedule": {"schedule_kind": "now"},
            "path": "pages/bonus/index",
            "goal": CampaignStatus.DRAFT,
        },
        {
            "name": "Weekly digest — Jiguang beta testers",
            "template": "weekly-digest",
            "account": "Jiguang demo",
            "audience": "Beta testers",
            "language": "zh-CN",
            "parameters": {"first_name": "朋友", "offer_count": "5", "top_offer": "BNB 8% APY"},
            "schedule": {
                "schedule_kind": "recurring",
                "circle_type": 2,
                "circle_value": [1],
                "time": time(9, 0),
                # "Today" in the campaign's own zone: Shanghai may be a day ahead of UTC.
                "start_date": shanghai_today,
                "end_date": shanghai_today + timedelta(days=60),
                "timezone": "Asia/Shanghai",
            },
            "goal": CampaignStatus.IN_REVIEW,
        },
        {
            "name": "New listing — Binance broadcast",
            "template": "welcome-bonus",
            "account": "Binance demo",
            "audience": "Everyone",
            "language": "en",
            "parameters": {"first_name": "trader", "amount": "5 USDT", "deadline": "Friday"},
            "schedule": {"schedule_kind": "once", "fixed_time": tomorrow_10},
            "path": "pages/listing/index",
            "goal": CampaignStatus.APPROVED,
        },
    ]


def seed(stdout: TextIO) -> None:
    """Create the demo campaigns that do not exist yet and bring each to its demo state."""
    users = _users()
    marketer = users["marketer"]
    today = timezone.now().date()
    for spec in _campaign_specs(today):
        if Campaign.objects.filter(name=spec["name"]).exists():
            stdout.write(f"campaign {spec['name']!r} exists; left as it is\n")
            continue
        campaign = campaign_create(
            actor=marketer,
            data={
                "name": spec["name"],
                "template": MessageTemplate.objects.get(key=spec["template"]),
                "provider_account": ProviderAccount.objects.get(name=spec["account"]),
                "audience": Audience.objects.get(name=spec["audience"]),
                "language": spec["language"],
                "parameters": spec["parameters"],
                "path": spec.get("path", ""),
                **spec["schedule"],
            },
        )
        if spec["goal"] in (CampaignStatus.IN_REVIEW, CampaignStatus.APPROVED):
            campaign_submit(campaign=campaign, actor=marketer)
        if spec["goal"] == CampaignStatus.APPROVED:
            for reviewer in ("reviewer", "reviewer2"):
                campaign.refresh_from_db()
                if campaign.status == CampaignStatus.APPROVED:
                    break
                campaign_approve(campaign=campaign, actor=users[reviewer], comment="Demo: looks right.")
        campaign.refresh_from_db()
        stdout.write(f"campaign {campaign.name!r} created ({campaign.status})\n")
