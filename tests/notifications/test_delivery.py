"""Delivery of the outbox: retries with full-jitter backoff, a failing webhook reported
without touching the campaign, one claim per row, the sweep, the operators' view."""

from __future__ import annotations

import random
import time
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals.services import campaign_approve, campaign_submit
from campaigns.sending.operations import sending_stop
from notifications.delivery import backoff_seconds, claim, deliver, due_ids
from notifications.models import Channel, Notification, NotificationStatus
from tests.notifications.conftest import SECRETS, WEBHOOK_PATHS, make_webhook

pytestmark = pytest.mark.django_db
S = NotificationStatus


def test_backoff_is_full_jitter_below_a_capped_exponential(settings):
    settings.CRIER_NOTIFY_RETRY_BASE_SECONDS = 2
    settings.CRIER_NOTIFY_RETRY_MAX_SECONDS = 60
    rng = random.Random(7)
    samples = {attempt: [backoff_seconds(attempt, rng=rng) for _ in range(300)] for attempt in (1, 3, 10)}
    assert max(samples[1]) <= 2 and max(samples[3]) <= 8 and max(samples[10]) <= 60
    assert min(samples[10]) < 10 < max(samples[10])  # spread over the whole range, not a fixed delay


def test_a_failing_webhook_retries_is_reported_and_the_campaign_goes_on(
    chat_emulator, draft, people, settings
):
    settings.CRIER_NOTIFY_MAX_ATTEMPTS = 3
    server = chat_emulator("slack", {WEBHOOK_PATHS["slack"][1]: ""})
    server.app.knobs.faults = {"down": 1.0}  # Slack answers 500 to everything
    webhook = make_webhook("slack", server, events=["review_requested"])

    campaign_submit(campaign=draft, actor=people["marketer"])
    row = Notification.objects.get(channel=Channel.CHAT, webhook=webhook)

    assert deliver(row.pk) == "retry"
    row.refresh_from_db()
    assert (row.status, row.attempts) == (S.PENDING, 1)
    assert "HTTP 500" in row.last_error
    assert row.next_attempt_at > timezone.now() - timedelta(seconds=1)
    assert deliver(row.pk) in ("not due or taken", "retry")  # not before its backoff, unless drawn 0

    for _ in range(3):
        Notification.objects.filter(pk=row.pk, status=S.PENDING).update(next_attempt_at=timezone.now())
        deliver(row.pk)
    row.refresh_from_db()
    assert (row.status, row.attempts) == (S.FAILED, 3)
    assert server.app.requests_seen == 3 and not server.app.accepted

    # The review was untouched by all of that: it is approved as usual.
    campaign_approve(campaign=draft, actor=people["reviewer"])
    draft.refresh_from_db()
    assert draft.status == "approved"


def test_a_platform_back_up_gets_the_message_on_the_next_attempt(chat_emulator, people):
    server = chat_emulator("wecom", {WEBHOOK_PATHS["wecom"][1]: SECRETS["wecom"]})
    server.app.knobs.rate_limit = 0.5  # under one a second: WeCom's own 45009 from the first request
    webhook = make_webhook("wecom", server)
    sending_stop(actor=people["operator"], reason="x")
    row = Notification.objects.get(webhook=webhook)

    assert deliver(row.pk) == "retry"
    row.refresh_from_db()
    assert "45009" in row.last_error
    server.app.knobs.rate_limit = 0
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert deliver(row.pk) == "sent"
    assert len(server.app.accepted) == 1


def test_a_slow_platform_does_not_slow_the_change(chat_emulator, draft, people):
    server = chat_emulator("slack", {WEBHOOK_PATHS["slack"][1]: ""})
    server.app.knobs.latency_ms = 3000
    make_webhook("slack", server)

    started = time.monotonic()
    campaign_submit(campaign=draft, actor=people["marketer"])
    assert time.monotonic() - started < 2.5  # nothing is sent inside the review action
    assert server.app.requests_seen == 0


def test_one_claim_per_row_and_a_dead_workers_claim_is_taken_back_after_its_lease(people, settings):
    sending_stop(actor=people["operator"], reason="x")
    row = Notification.objects.get()
    now = timezone.now()

    assert claim(row.pk, "worker-a", now)
    assert not claim(row.pk, "worker-b", now)  # compare-and-swap: one winner
    assert row.pk not in due_ids(now=now)
    later = now + timedelta(seconds=settings.CRIER_NOTIFY_LEASE_SECONDS + 1)
    assert due_ids(now=later) == [row.pk]  # worker-a died: the sweep finds it
    assert claim(row.pk, "worker-b", later)
    row.refresh_from_db()
    assert (row.claimed_by, row.attempts) == ("worker-b", 2)


def test_the_outbox_row_is_written_once_per_event_recipient_and_channel(people):
    sending_stop(actor=people["operator"], reason="x")
    row = Notification.objects.get()
    assert row.idempotency_key == f"{row.audit_event_id}:sending_stopped:email:user-{people['operator'].pk}"
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(
            kind=row.kind,
            channel=row.channel,
            user=row.user,
            audit_event=row.audit_event,
            idempotency_key=row.idempotency_key,
            next_attempt_at=timezone.now(),
        )
    assert Notification.objects.count() == 1


def test_operators_see_the_delivery_status_read_only(client, people, make_user):
    sending_stop(actor=people["operator"], reason="x")
    row = Notification.objects.get()
    deliver(row.pk)

    client.force_login(people["operator"])
    listing = client.get("/admin/notifications/notification/")
    assert listing.status_code == 200
    assert "operator" in listing.content.decode() and "Sent" in listing.content.decode()
    change = client.post(f"/admin/notifications/notification/{row.pk}/change/", {"status": "pending"})
    assert change.status_code == 403 or Notification.objects.get(pk=row.pk).status == S.SENT
    assert (
        client.post(f"/admin/notifications/notification/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    )

    client.force_login(people["marketer"])
    assert client.get("/admin/notifications/notification/").status_code == 403


def test_the_sweep_runs_every_minute_and_wakes_a_worker_for_each_due_row(people, settings):
    from django_q.brokers import get_broker
    from django_q.models import Schedule

    from notifications.apps import SWEEP_SCHEDULE
    from notifications.delivery import sweep

    schedule = Schedule.objects.get(name=SWEEP_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == ("notifications.tasks.sweep", "I", 1)

    broker = get_broker()
    broker.delete_queue()
    sending_stop(actor=people["operator"], reason="x")  # on_commit never runs here: the enqueue is "lost"
    assert broker.queue_size() == 0
    assert sweep() == 1
    assert broker.queue_size() == 1
    broker.delete_queue()
