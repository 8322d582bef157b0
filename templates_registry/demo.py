"""Demo templates (``manage.py seed_demo``): two active templates in three languages each.

Created by key and left alone once they exist, so a second seed changes nothing and a
demo template someone edited keeps its edits (and its version history). Each one is
registered with all four providers; the references are what a demo emulator that checks
known templates should accept (``DEMO_TEMPLATES[...]["provider_refs"]``).
"""

from __future__ import annotations

from typing import Any, TextIO

from templates_registry.models import MessageTemplate, TemplateStatus
from templates_registry.services import template_create

DEMO_TEMPLATES: list[dict[str, Any]] = [
    {
        "key": "welcome-bonus",
        "description": "Sent once after sign-up: greets the user and names their welcome bonus.",
        "default_language": "en",
        "variants": [
            {
                "language": "en",
                "title": "Welcome, ${first_name}!",
                "body": "Your ${amount} welcome bonus is ready. Claim it before ${deadline}.",
            },
            {
                "language": "zh-CN",
                "title": "欢迎，${first_name}！",
                "body": "您的${amount}新人奖励已到账，请在${deadline}前领取。",
            },
            {
                "language": "es",
                "title": "¡Te damos la bienvenida, ${first_name}!",
                "body": "Tu bono de bienvenida de ${amount} está listo. Reclámalo antes del ${deadline}.",
            },
        ],
        "provider_refs": {
            "binance": "1344001",
            "alipayplus": "TP_58000000010001",
            "mpaas": "crier_welcome_bonus",
            "jiguang": "100231",
        },
    },
    {
        "key": "weekly-digest",
        "description": "Sunday summary of new offers for users who opted in to the digest.",
        "default_language": "en",
        "variants": [
            {
                "language": "en",
                "title": "${offer_count} new offers this week",
                "body": "Hi ${first_name}, this week's top pick: ${top_offer}. Open the app to see them all.",
            },
            {
                "language": "zh-CN",
                "title": "本周${offer_count}个新优惠",
                "body": "${first_name}，您好！本周精选：${top_offer}。打开应用查看全部优惠。",
            },
            {
                "language": "ja",
                "title": "今週の新着オファー${offer_count}件",
                "body": (
                    "${first_name}さん、今週のおすすめは「${top_offer}」です。"
                    "アプリですべてのオファーをご覧ください。"
                ),
            },
        ],
        "provider_refs": {
            "binance": "1344002",
            "alipayplus": "TP_58000000010002",
            "mpaas": "crier_weekly_digest",
            "jiguang": "100232",
        },
    },
]


def seed(stdout: TextIO) -> None:
    """Create the demo templates that do not exist yet, active, at version 1."""
    for spec in DEMO_TEMPLATES:
        existing = MessageTemplate.objects.filter(key=spec["key"]).first()
        if existing is not None:
            stdout.write(f"template {existing.key}: exists at v{existing.version}, left as is\n")
            continue
        template = template_create(**spec, status=TemplateStatus.ACTIVE)
        languages = ", ".join(v["language"] for v in spec["variants"])
        stdout.write(f"template {template.key}: created v1 ({languages})\n")
