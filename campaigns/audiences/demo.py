"""Demo recipients and audiences (``manage.py seed_demo``), safe to run again.

200 recipients with fixed ids, languages, tags and addresses (fake Alipay+ tokens, Jiguang
user ids; every seventh has no Alipay+ token, so sends show skipped recipients), upserted
through the import service: a second run changes nothing, and opt-outs learned from
the emulators are kept. Three audiences, created by name and left alone once they exist.
"""

from __future__ import annotations

from typing import TextIO

from campaigns.audiences.recipients import recipients_bulk_upsert
from campaigns.audiences.services import audience_create
from campaigns.models import Audience, AudienceKind

DEMO_RECIPIENTS = 200
LANGUAGES = ("en", "zh-CN", "es")
BETA_TESTERS = 20


def demo_external_id(number: int) -> str:
    return f"demo_user_{number:03d}"


def demo_recipient_rows() -> list[dict]:
    """Return the demo recipients as import rows."""
    rows = []
    for number in range(1, DEMO_RECIPIENTS + 1):
        tags = []
        if number % 10 == 0:
            tags.append("vip")
        if number > DEMO_RECIPIENTS - 50:
            tags.append("new")
        if number <= BETA_TESTERS:
            tags.append("beta")
        addresses = {"jiguang": f"jg_demo_{number:03d}"}
        if number % 7:
            addresses["alipayplus"] = f"demoAlipayToken{number:03d}x{'0' * 24}"
        rows.append(
            {
                "external_id": demo_external_id(number),
                "language": LANGUAGES[number % len(LANGUAGES)],
                "tags": tags,
                "addresses": addresses,
            }
        )
    return rows


def seed_audiences(stdout: TextIO) -> None:
    """Upsert the demo recipients and create the demo audiences that do not exist yet."""
    report = recipients_bulk_upsert(rows=demo_recipient_rows(), actor=None)  # seeding: no user acts
    if report.invalid:
        raise RuntimeError(f"demo recipients refused: {[e.as_dict() for e in report.errors]}")
    stdout.write(f"recipients: {report.created} created, {report.updated} already there\n")
    audiences = [
        {"name": "Everyone", "kind": AudienceKind.ALL},
        {"name": "VIP users", "kind": AudienceKind.TAGS, "tags": ["vip"]},
        {
            "name": "Beta testers",
            "kind": AudienceKind.USERS,
            "user_ids": [demo_external_id(n) for n in range(1, BETA_TESTERS + 1)],
            "suppressed_ids": [demo_external_id(BETA_TESTERS)],
        },
    ]
    for spec in audiences:
        if Audience.objects.filter(name=spec["name"]).exists():
            stdout.write(f"audience {spec['name']!r} exists; left as it is\n")
            continue
        audience_create(**spec, actor=None)
        stdout.write(f"audience {spec['name']!r} created\n")


def seed(stdout: TextIO) -> None:
    """Seed the campaigns app's demo data."""
    seed_audiences(stdout)
