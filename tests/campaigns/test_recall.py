"""Recall: Jiguang retract within 24 h and mPaaS RevokePushTask, against the emulators, audited
with the provider's answer; refused (button absent, API 409) where recall is impossible."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.selectors import campaign_available_actions
from audit.models import AuditEvent
from campaigns.models import Delivery, DeliveryAttempt, Dispatch
from campaigns.sending.recall import RecallRefused, campaign_recall, recall_refusal
from campaigns.sending.run import dispatch_run
from campaigns.sending.ticker import dispatcher_tick
from tests.campaigns.conftest import make_audience, make_recipients

pytestmark = pytest.mark.django_db


def run_due() -> list[Dispatch]:
    created = dispatcher_tick()
    for dispatch_id in created:
        while dispatch_run(dispatch_id) == "continue":
            pass
    return list(Dispatch.objects.filter(pk__in=created))


@pytest.fixture
def operator(make_user):
    return make_user("operator", "Operators")


@pytest.fixture
def jiguang_sent(make_account, approved_campaign):
    """A Jiguang campaign to 1,500 users, sent as two requests (two msgids)."""
    account, server = make_account("jiguang")
    ids = make_recipients(1500, prefix="jg", kind="jiguang")
    campaign = approved_campaign(account, make_audience("users", user_ids=ids))
    [dispatch] = run_due()
    assert dispatch.deliveries.filter(status="delivered").count() == 2
    return campaign, server


def test_a_reviewer_recalls_a_jiguang_campaign_and_the_answers_are_audited(jiguang_sent, reviewer):
    campaign, server = jiguang_sent
    msgids = sorted(Delivery.objects.values_list("provider_message_id", flat=True))

    assert "recall" in campaign_available_actions(user=reviewer, campaign=campaign)
    report = campaign_recall(campaign=campaign, actor=reviewer, reason="wrong price")

    assert (report.recalled, report.failed) == (2, 0)
    assert all(server.app.messages[m].retracted for m in msgids)
    assert not Delivery.objects.filter(recalled_at__isnull=True).exists()
    events = AuditEvent.objects.filter(campaign=campaign, action="recall").order_by("id")
    per_delivery = [e for e in events if e.object_type == "delivery"]
    assert sorted(e.data["message_id"] for e in per_delivery) == msgids
    assert {(e.data["code"], e.data["http_status"], e.actor_id, e.reason) for e in per_delivery} == {
        ("0", 200, reviewer.pk, "wrong price")
    }
    assert events.last().object_type == "campaign" and events.last().data["recalled"] == 2
    # Nothing is left to recall: the button goes, and a second recall is refused.
    assert "recall" not in campaign_available_actions(user=reviewer, campaign=campaign)
    with pytest.raises(RecallRefused, match="nothing delivered is left to recall"):
        campaign_recall(campaign=campaign, actor=reviewer)


def test_jiguang_messages_older_than_24_hours_cannot_be_recalled(jiguang_sent, operator):
    campaign, _server = jiguang_sent
    DeliveryAttempt.objects.update(
        created_at=DeliveryAttempt.objects.first().created_at - timedelta(hours=25)
    )

    refusal = recall_refusal(campaign=campaign, user=operator)

    assert refusal == "provider 'jiguang' recalls only within 24 h of sending; everything sent is older"
    assert "recall" not in campaign_available_actions(user=operator, campaign=campaign)
    with pytest.raises(RecallRefused):
        campaign_recall(campaign=campaign, actor=operator)


def test_a_message_the_provider_already_retracted_counts_as_recalled(jiguang_sent, operator):
    campaign, server = jiguang_sent
    first = Delivery.objects.order_by("pk").first()
    server.app.messages[first.provider_message_id].retracted = True  # retracted in the console

    report = campaign_recall(campaign=campaign, actor=operator)

    assert (report.recalled, report.failed) == (2, 0)
    answer = next(r for r in report.results if r["delivery"] == first.pk)
    assert (answer["code"], answer["http_status"]) == ("1015055", 400)


def test_marketing_may_not_recall(jiguang_sent, marketer):
    campaign, server = jiguang_sent

    assert "recall" not in campaign_available_actions(user=marketer, campaign=campaign)
    with pytest.raises(PermissionDenied):
        campaign_recall(campaign=campaign, actor=marketer)
    assert not any(m.retracted for m in server.app.messages.values())


def test_an_mpaas_broadcast_is_revoked_by_its_task_id(make_account, approved_campaign, operator):
    account, server = make_account("mpaas")
    campaign = approved_campaign(account, make_audience("all"), provider_options={"DeliveryType": [1, 2]})
    run_due()
    task_ids = sorted(Delivery.objects.values_list("provider_message_id", flat=True))

    report = campaign_recall(campaign=campaign, actor=operator, reason="sent too early")

    assert report.recalled == 2
    assert server.app.revoked == set(task_ids)
    revoke = [a for a in AuditEvent.objects.filter(action="recall", object_type="delivery")]
    assert {e.data["code"] for e in revoke} == {"OK"}


def test_a_revoke_the_provider_refuses_is_audited_and_can_be_tried_again(
    make_account, approved_campaign, operator
):
    account, server = make_account("mpaas")
    campaign = approved_campaign(account, make_audience("all"))
    run_due()
    delivery = Delivery.objects.get()
    server.app.revoked.add(delivery.provider_message_id)  # revoked behind Crier's back

    report = campaign_recall(campaign=campaign, actor=operator)

    assert (report.recalled, report.failed) == (0, 1)
    delivery.refresh_from_db()
    assert delivery.recalled_at is None
    failed = AuditEvent.objects.get(action="recall_failed")
    assert failed.data["code"] == "3028" and "already revoked" in failed.data["message"]
    assert "recall" in campaign_available_actions(user=operator, campaign=campaign)


def test_mpaas_recall_ends_with_the_messages_validity(make_account, approved_campaign, operator):
    account, _server = make_account("mpaas")
    campaign = approved_campaign(account, make_audience("all"), expired_seconds=600)
    run_due()
    DeliveryAttempt.objects.update(
        created_at=DeliveryAttempt.objects.get().created_at - timedelta(seconds=601)
    )

    assert "0.166667 h" in recall_refusal(campaign=campaign)


def test_binance_and_unsent_campaigns_have_no_recall(make_account, approved_campaign, reviewer):
    binance, _ = make_account("binance")
    sent = approved_campaign(binance, make_audience("all"))
    run_due()
    jiguang, _ = make_account("jiguang")
    unsent = approved_campaign(jiguang, make_audience("all"), due=timezone.now() + timedelta(days=1))

    assert recall_refusal(campaign=sent) == "provider 'binance' documents no way to recall a sent message"
    assert recall_refusal(campaign=unsent) == "nothing delivered is left to recall"
    for campaign in (sent, unsent):
        assert "recall" not in campaign_available_actions(user=reviewer, campaign=campaign)


def test_the_api_recalls_and_answers_409_where_impossible(
    jiguang_sent, make_account, approved_campaign, reviewer
):
    campaign, _server = jiguang_sent
    client = APIClient()
    client.force_authenticate(reviewer)

    done = client.post(f"/api/v1/campaigns/{campaign.pk}/recall/", {"reason": "typo"}, format="json")
    again = client.post(f"/api/v1/campaigns/{campaign.pk}/recall/", {}, format="json")

    assert done.status_code == 200
    assert done.json()["recalled"] == 2 and done.json()["results"][0]["code"] == "0"
    assert again.status_code == 409 and "nothing delivered is left to recall" in again.json()["detail"]


def test_the_admin_button_recalls(jiguang_sent, reviewer, client):
    campaign, server = jiguang_sent
    client.force_login(reviewer)

    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    pressed = client.post(f"/admin/campaigns/campaign/{campaign.pk}/transition/recall/")

    assert b"Recall from users" in page.content
    assert pressed.status_code == 302
    assert all(m.retracted for m in server.app.messages.values())
