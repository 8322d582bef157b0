"""Jiguang status callbacks: authenticated, idempotent under retries, matched to deliveries
and recipients, and summarised per user for the campaign report."""

from __future__ import annotations

import json

import pytest

from campaigns.models import Delivery, DeliveryReceipt, Dispatch, ReceiptStatus
from campaigns.sending.receipts import campaign_receipt_counts, campaign_receipts_by_user
from campaigns.sending.run import dispatch_run
from campaigns.sending.ticker import dispatcher_tick
from providers.emulators.jiguang import callback_batches, callback_headers, callback_records
from tests.campaigns.conftest import account_setup, make_audience, make_recipients

pytestmark = pytest.mark.django_db

CHANNEL_KEY, MASTER_SECRET = "ck-test", "ms-test-secret"


def run_due() -> list[Dispatch]:
    created = dispatcher_tick()
    for dispatch_id in created:
        while dispatch_run(dispatch_id) == "continue":
            pass
    return list(Dispatch.objects.filter(pk__in=created))


@pytest.fixture
def sent(make_account, approved_campaign):
    """A Jiguang campaign to 1,200 users, sent: two deliveries (1,000 + 200 user ids)."""
    assert account_setup("jiguang")[0] == {"channel_key": CHANNEL_KEY, "master_secret": MASTER_SECRET}
    account, _server = make_account("jiguang")
    ids = make_recipients(1200, prefix="jg", kind="jiguang")
    campaign = approved_campaign(account, make_audience("users", user_ids=ids))
    [dispatch] = run_due()
    deliveries = list(dispatch.deliveries.order_by("batch_no"))
    assert [d.target_count for d in deliveries] == [1000, 200]
    assert all(d.provider_message_id for d in deliveries)
    return account, campaign, deliveries


def url(account) -> str:
    return f"/callbacks/jiguang/{account.pk}/"


def post(client, account, records, *, secret: str = MASTER_SECRET, key: str = CHANNEL_KEY):
    return client.post(
        url(account),
        data=json.dumps(records),
        content_type="application/json",
        headers={"Authorization": callback_headers(channel_key=key, master_secret=secret)["Authorization"]},
    )


def hundred_statuses(deliveries: list[Delivery]) -> list[dict]:
    """50 delivered of the first request, 30 delivered and 20 clicked of the second."""
    first, second = deliveries
    return (
        callback_records(
            channel_key=CHANNEL_KEY,
            msgid=first.provider_message_id,
            userids=[f"tok_{x}" for x in first.targets[:50]],
            type=4,
        )
        + callback_records(
            channel_key=CHANNEL_KEY,
            msgid=second.provider_message_id,
            userids=[f"tok_{x}" for x in second.targets[:30]],
            type=4,
        )
        + callback_records(
            channel_key=CHANNEL_KEY,
            msgid=second.provider_message_id,
            userids=[f"tok_{x}" for x in second.targets[:20]],
            type=6,
            params={"campaign": 1},
        )
    )


def test_a_batch_of_100_statuses_posted_twice_updates_each_delivery_once(client, sent):
    account, campaign, deliveries = sent
    [batch] = callback_batches(hundred_statuses(deliveries))
    assert len(batch) == 100

    first = post(client, account, batch)
    stamps = {d.pk: d.updated_at for d in Delivery.objects.filter(pk__in=[d.pk for d in deliveries])}
    again = post(client, account, batch)  # Jiguang's retry 50 s later

    assert first.status_code == again.status_code == 200
    assert first.json() == {
        "received": 100,
        "stored": 100,
        "duplicates": 0,
        "unmatched": 0,
        "ignored": 0,
        "invalid": 0,
    }
    assert again.json() == {
        "received": 100,
        "stored": 0,
        "duplicates": 100,
        "unmatched": 0,
        "ignored": 0,
        "invalid": 0,
    }
    assert DeliveryReceipt.objects.count() == 100
    assert {d.pk: d.updated_at for d in Delivery.objects.filter(pk__in=stamps)} == stamps
    for delivery in deliveries:
        assert delivery.updated_at < stamps[delivery.pk]  # updated by the first post only
    receipt = DeliveryReceipt.objects.get(
        delivery=deliveries[1], status=ReceiptStatus.CLICKED, user_id=deliveries[1].targets[0]
    )
    assert receipt.provider_user_id == f"tok_{deliveries[1].targets[0]}"
    assert receipt.detail["params"] == {"campaign": 1}


def test_a_forged_callback_is_refused_with_401_and_changes_nothing(client, sent):
    account, _campaign, deliveries = sent
    batch = hundred_statuses(deliveries)
    before = {d.pk: d.updated_at for d in Delivery.objects.filter(pk__in=[d.pk for d in deliveries])}

    wrong_secret = post(client, account, batch, secret="guessed")
    wrong_key = post(client, account, batch, key="other-channel")
    anonymous = client.post(url(account), data=json.dumps(batch), content_type="application/json")

    assert [r.status_code for r in (wrong_secret, wrong_key, anonymous)] == [401, 401, 401]
    assert wrong_secret["WWW-Authenticate"].startswith("Basic")
    assert not DeliveryReceipt.objects.exists()
    assert {d.pk: d.updated_at for d in Delivery.objects.filter(pk__in=before)} == before


def test_the_console_validation_echoes_echostr(client, sent):
    account, *_ = sent

    answer = client.get(url(account), {"echostr": "a1B2c3"})

    assert answer.status_code == 200
    assert answer.content == b"a1B2c3"
    assert answer["Content-Type"].startswith("text/plain")
    assert client.get(url(account)).status_code == 400
    assert client.get("/callbacks/jiguang/999999/", {"echostr": "x"}).status_code == 404


def test_unknown_messages_other_channels_and_bad_records_are_counted_not_stored(client, sent):
    account, _campaign, deliveries = sent
    good = callback_records(
        channel_key=CHANNEL_KEY, msgid=deliveries[0].provider_message_id, userids=["tok_jg000000"], type=5
    )
    unknown = callback_records(channel_key=CHANNEL_KEY, msgid="v:1t:1p:1n:999", userids=["x"], type=4)
    other = callback_records(
        channel_key="someone-else", msgid=deliveries[0].provider_message_id, userids=["tok_jg000001"], type=4
    )
    bad = [{"type": 42, "msgid": "m"}, {"type": 4}, "not a record"]

    answer = post(client, account, good + unknown + other + bad)

    assert answer.json() == {
        "received": 6,
        "stored": 1,
        "duplicates": 0,
        "unmatched": 1,
        "ignored": 0,
        "invalid": 4,
    }
    assert list(DeliveryReceipt.objects.values_list("user_id", "status")) == [("jg000000", "delivery_failed")]
    assert post(client, account, "not json").status_code == 200  # a lone value is one invalid record
    broken = client.post(
        url(account),
        data=b"{",
        content_type="application/json",
        headers=callback_headers(channel_key=CHANNEL_KEY, master_secret=MASTER_SECRET),
    )
    assert broken.status_code == 400


def test_the_report_selectors_give_delivered_and_clicked_per_user(client, sent):
    account, campaign, deliveries = sent
    post(client, account, hundred_statuses(deliveries))

    counts = campaign_receipt_counts(campaign=campaign)
    users = {u.user_id: u for u in campaign_receipts_by_user(campaign=campaign)}

    assert (counts["delivered"], counts["clicked"], counts["delivery_failed"]) == (80, 20, 0)
    assert len(users) == 80
    clicked = users[deliveries[1].targets[0]]
    assert clicked.delivered_at is not None and clicked.clicked_at is not None and clicked.failed == ()
    assert users[deliveries[0].targets[0]].clicked_at is None
    assert len(campaign_receipts_by_user(campaign=campaign, limit=10)) == 10


def test_the_endpoint_needs_no_csrf_token(sent):
    from django.test import Client

    account, _campaign, deliveries = sent
    strict = Client(enforce_csrf_checks=True)

    answer = post(strict, account, hundred_statuses(deliveries)[:3])

    assert answer.status_code == 200 and answer.json()["stored"] == 3


def authorised(client, account, body: bytes):
    return client.post(
        url(account),
        data=body,
        content_type="application/json",
        headers=callback_headers(channel_key=CHANNEL_KEY, master_secret=MASTER_SECRET),
    )


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b'[{"type": 4, "msgid": "\\ud800", "userid": "u", "time": 1}]', "[0].msgid"),
        (b'[{"type": 4, "msgid": "m\\u0000", "userid": "u", "time": 1}]', "[0].msgid"),
        (b"[" * 100_000 + b"]" * 100_000, "64 levels"),
        (b'[{"type": 4, "msgid": "m", "userid": "u", "time": ' + b"9" * 400 + b"}]", "record 0: time"),
        (b'[{"type": 4, "msgid": "m", "userid": "u", "time": "' + b"9" * 400 + b'"}]', "record 0: time"),
    ],
    ids=["surrogate-msgid", "nul-msgid", "deep", "400-digit-time", "400-digit-time-text"],
)
def test_hostile_bodies_are_400_naming_the_rule_and_store_nothing(client, sent, body, named):
    account, _campaign, deliveries = sent
    if b'msgid": "m"' in body:  # a real message id, so only the time is wrong
        body = body.replace(
            b'"msgid": "m"', json.dumps({"msgid": deliveries[0].provider_message_id})[1:-1].encode()
        )

    answer = authorised(client, account, body)

    assert answer.status_code == 400
    assert named in answer.json()["detail"]
    assert not DeliveryReceipt.objects.exists()


def test_undecryptable_credentials_answer_401_like_wrong_ones_and_say_nothing(client, sent, caplog):
    account, _campaign, deliveries = sent
    type(account).objects.filter(pk=account.pk).update(credentials_encrypted="gAAAAAnot-a-token")

    answer = post(client, account, hundred_statuses(deliveries)[:3])
    anonymous = client.post(url(account), data="[]", content_type="application/json")

    assert answer.status_code == anonymous.status_code == 401
    assert answer.json() == anonymous.json() == {"detail": "authentication failed"}
    assert answer["WWW-Authenticate"].startswith("Basic")
    assert not DeliveryReceipt.objects.exists()
    assert any("cannot be decrypted" in r.getMessage() and r.exc_info is None for r in caplog.records)


def test_receipts_for_users_the_delivery_never_targeted_are_ignored(client, sent):
    account, _campaign, deliveries = sent
    first = deliveries[0]
    targeted = callback_records(
        channel_key=CHANNEL_KEY, msgid=first.provider_message_id, userids=[f"tok_{first.targets[0]}"], type=4
    )
    strangers = callback_records(
        channel_key=CHANNEL_KEY,
        msgid=first.provider_message_id,
        userids=["tok_nobody", deliveries[1].targets[0], "someone-else"],
        type=4,
    )

    answer = post(client, account, targeted + strangers)

    assert answer.status_code == 200
    assert answer.json() == {
        "received": 4,
        "stored": 1,
        "duplicates": 0,
        "unmatched": 0,
        "ignored": 3,
        "invalid": 0,
    }
    assert list(DeliveryReceipt.objects.values_list("user_id", flat=True)) == [first.targets[0]]


def test_a_callback_for_an_account_whose_endpoint_is_refused_is_401_and_logged_as_such(
    client, sent, caplog, settings
):
    """A sandbox account while sandbox accounts are off has no credentials to check a
    callback against: the caller gets the same 401, the operator's log says why."""
    account, _campaign, deliveries = sent
    settings.CRIER_ALLOW_SANDBOX_ACCOUNTS = False

    answer = post(client, account, hundred_statuses(deliveries)[:3])

    assert answer.status_code == 401
    assert answer.json() == {"detail": "authentication failed"}
    assert not DeliveryReceipt.objects.exists()
    [line] = [r.getMessage() for r in caplog.records if "refused a jiguang callback" in r.getMessage()]
    assert "endpoint is refused" in line and "wrong credentials" not in line
