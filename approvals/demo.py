"""Demo campaigns (``manage.py seed_demo``) at each step of the life cycle, safe to run again.

Created by name through the same services the admin and the API use, so the audit trail
is real. What a newcomer sees after ``make run``:

* **Welcome bonus — Alipay+ VIPs**: a draft by ``marketer``, due as soon as approved.
  Submit it as ``marketer``, approve it as ``reviewer``, and within seconds the worker
  sends it to the Alipay+ emulator (one request per VIP; VIPs without a token are
  reported as skipped).
* **Weekly digest — Jiguang beta testers**: submitted by ``marketer``, waiting in the
  review queue; recurring every Monday 09:00 Asia/Shanghai for 60 days.
* **New listing — Binance broadcast**: a broadcast to everyone, due tomorrow 10:00 UTC
  (it shows in the calendar). Two approval rules apply: "Broadcast to everyone" (two
  approvals, seeded by migration) and the demo's "Large audiences need Compliance" (reach
  of 150 or more, and a broadcast's reach is known only to Binance, so it counts: one
  approval must come from the ``Compliance`` group). It is approved by ``reviewer`` and
  ``compliance`` (password ``compliance-demo``, a reviewer in ``Compliance``); its review
  page shows both rules.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TextIO
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from approvals.models import ApprovalRule
from approvals.services import campaign_approve, campaign_submit
from campaigns.models import Audience, Campaign, CampaignStatus
from campaigns.services import campaign_create
from providers.models import ProviderAccount
from templates_registry.models import MessageTemplate

COMPLIANCE_GROUP = "Compliance"
COMPLIANCE_USER = ("compliance", "compliance-demo")  # printed by `make run` with the other logins
LARGE_AUDIENCE_RULE = "Large audiences need Compliance"
LARGE_AUDIENCE_REACH = 150


def seed_compliance(stdout: TextIO) -> None:
    """Create the ``Compliance`` group, its demo reviewer ``compliance`` and the rule
    "Large audiences need Compliance" (reach ≥ 150: one approval from Compliance), if
    missing; an existing rule is left as an administrator may have changed it."""
    group, _ = Group.objects.get_or_create(name=COMPLIANCE_GROUP)
    username, password = COMPLIANCE_USER
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"email": f"{username}@crier.example", "is_staff": True}
    )
    if created:
        user.set_password(password)
        user.save()
    user.groups.add(group, *Group.objects.filter(name="Reviewers"))
    _rule, created = ApprovalRule.objects.get_or_create(
        name=LARGE_AUDIENCE_RULE,
        defaults={"min_reach": LARGE_AUDIENCE_REACH, "approvals_required": 1, "required_group": group},
    )
    state = "created" if created else "exists; left as it is"
    stdout.write(f"approval rule {LARGE_AUDIENCE_RULE!r} {state}\n")


def _users() -> dict[str, object]:
    User = get_user_model()
    wanted = ["marketer", "reviewer", "reviewer2", COMPLIANCE_USER[0]]
    return {u.username: u for u in User.objects.filter(username__in=wanted)}


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
    """Create the Compliance reviewer and rule, then the demo campaigns that do not exist
    yet, each brought to its demo state."""
    seed_compliance(stdout)
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
            for reviewer in ("reviewer", COMPLIANCE_USER[0]):
                campaign.refresh_from_db()
                if campaign.status == CampaignStatus.APPROVED:
                    break
                campaign_approve(campaign=campaign, actor=users[reviewer], comment="Demo: looks right.")
        campaign.refresh_from_db()
        stdout.write(f"campaign {campaign.name!r} created ({campaign.status})\n")
