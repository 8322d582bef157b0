"""A real held occurrence (the engine counts a reach above the approved bound) tells the
reviewers who may confirm it, never its author; the e-mail links to the dashboard."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail

from notifications.delivery import deliver
from notifications.models import Notification
from tests.approvals.conftest import template  # noqa: F401  (fixture)
from tests.approvals.test_reach_bound import (  # noqa: F401  (fixtures)
    daily,
    jiguang,
    join,
    make_account,
    next_occurrence,
    schedule_days,
    start_emulator,
    tolerance,
)

pytestmark = pytest.mark.django_db


def test_a_held_occurrence_emails_the_reviewers_who_may_confirm_it(daily, marketer, reviewer, reviewer2):  # noqa: F811
    for user in (marketer, reviewer, reviewer2):
        user.email = f"{user.username}@example.com"
        user.save(update_fields=["email"])
    join(marketer, 10, 6)  # 16 recipients > the bound of 11

    held = next_occurrence(daily)

    assert held.status == "held"
    rows = Notification.objects.filter(kind="held")
    assert {row.user.username for row in rows} == {"reviewer", "reviewer2"}
    # The occurrence ran at its due time (the test travelled there): deliver from then on.
    with time_machine.travel(held.due_at + timedelta(seconds=5), tick=True):
        for row in rows:
            assert deliver(row.pk) == "sent"
    message = next(m for m in mail.outbox if m.to == ["reviewer2@example.com"])
    assert message.subject == "[Crier] Occurrence held, its reach grew: Daily club news"
    assert "Reach: 16" in message.body and "Approved bound: 11" in message.body
    assert "Confirm or cancel it: http://" in message.body and "/admin/" in message.body
