"""Fixtures for whole-API tests: token clients and a small world of every kind of object."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from approvals.models import Review
from approvals.services import campaign_submit
from campaigns.audiences.recipients import recipients_bulk_upsert
from campaigns.models import (
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Dispatch,
    DispatchStatus,
    Recipient,
)
from tests.approvals.factories import make_account, make_audience, make_campaign, make_template


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the schemathesis run's figures (requests, operations, duration, statuses)."""
    module = sys.modules.get("tests.api.test_schemathesis")
    line = module.summary() if module else None
    if line:
        terminalreporter.write_line(line)


def pytest_collection_modifyitems(items) -> None:
    """Give each schemathesis operation its own node id.

    pytest 9 builds a node id from the function's original name plus its parametrize ids,
    and schemathesis (4.x) passes the bare test name, so every operation got the same id
    and pytest-xdist ran only one of them. The operation label makes them unique again.
    """
    for item in items:
        label = getattr(item, "operation_label", None)
        if label and hasattr(item, "_id") and item.nodeid.endswith(f"::{item.originalname}"):
            item._id = item.parent.id.child(item.originalname).with_params(label)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Report a schemathesis operation with a known bug (KNOWN_BUGS) as xfail naming it,
    once the run met that bug and nothing else failed; fail it when the bug is gone."""
    result = yield
    bug = getattr(item, "known_bug", None)
    if bug:
        if getattr(item, "known_bug_seen", False):
            pytest.xfail(bug)
        pytest.fail(f"no longer seen, remove it from KNOWN_BUGS: {bug}")
    return result


@pytest.fixture(autouse=True)
def fresh_throttles():
    """Start each test with empty throttle counters (they live in the default cache)."""
    cache.clear()
    yield
    cache.clear()


def token_client(user) -> APIClient:
    """Return an API client authenticated by ``user``'s token, as a script would be."""
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def quick_user(username: str, *groups: str, superuser: bool = False):
    """Create a staff user without a usable password (hashing one costs ~0.3 s per user)."""
    user = get_user_model().objects.create(username=username, is_staff=True, is_superuser=superuser)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    user.groups.set(Group.objects.filter(name__in=groups))
    return user


@pytest.fixture
def superuser(db):
    return quick_user("root", superuser=True)


@pytest.fixture
def superuser_token(superuser) -> str:
    token, _ = Token.objects.get_or_create(user=superuser)
    return token.key


@dataclass
class World:
    """Ids of one object of each kind, by resource path segment."""

    ids: dict[str, list[int]] = field(default_factory=dict)


@pytest.fixture
def world(db) -> World:
    """Create a template, accounts, recipients, audiences, campaigns in several states,
    a review, dispatches and deliveries (one unknown), so API calls reach real objects."""
    marketer = quick_user("world-marketer", "Marketing")
    template = make_template("world")
    binance = make_account("binance", base_url="http://127.0.0.1:9")
    binance.set_credentials({"access_key": "world-ak", "secret_key": "world-secret-" + "s" * 32})
    binance.save()
    alipay = make_account("alipayplus")
    recipients_bulk_upsert(actor=None,
        rows=[
            {"external_id": f"u{n}", "language": "en", "tags": ["vip"], "addresses": {"alipayplus": f"t{n}"}}
            for n in range(1, 6)
        ]
    )
    users = make_audience("users", user_ids=("u1", "u2", "u3"), suppressed=("u4",))
    everyone = make_audience("all")
    draft = make_campaign(marketer, template=template, provider_account=alipay, audience=users)
    in_review = make_campaign(
        marketer, name="In review", template=template, provider_account=alipay, audience=users
    )
    campaign_submit(campaign=in_review, actor=marketer)
    sending = make_campaign(
        marketer, name="Sending", template=template, provider_account=binance, audience=everyone
    )
    Campaign.objects.filter(pk=sending.pk).update(status=CampaignStatus.SENDING)
    dispatch = Dispatch.objects.create(
        campaign=sending,
        due_at=timezone.now() - timedelta(minutes=5),
        status=DispatchStatus.PARTIALLY_FAILED,
        total_requests=2,
        finished_at=timezone.now(),
    )
    delivered = Delivery.objects.create(
        dispatch=dispatch, batch_no=1, idempotency_key="world-1", status=DeliveryStatus.DELIVERED, attempts=1
    )
    unknown = Delivery.objects.create(
        dispatch=dispatch, batch_no=2, idempotency_key="world-2", status=DeliveryStatus.UNKNOWN, attempts=1
    )
    DeliveryAttempt.objects.create(delivery=delivered, number=1, outcome="delivered", http_status=200)

    return World(
        ids={
            "provider-accounts": [binance.pk, alipay.pk],
            "templates": [template.pk],
            "recipients": list(Recipient.objects.values_list("pk", flat=True)),
            "audiences": [users.pk, everyone.pk],
            "campaigns": [draft.pk, in_review.pk, sending.pk],
            "reviews": list(Review.objects.values_list("pk", flat=True)),
            "dispatches": [dispatch.pk],
            "deliveries": [delivered.pk, unknown.pk],
        }
    )
