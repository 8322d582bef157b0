"""Hostile input through the provider callbacks (``/callbacks/<kind>/<id>/``, issue #15):
every provider that receives callbacks (read from the registry) is sent a lone surrogate,
a NUL, nesting 100,000 deep, a 400-digit time, a huge header and a body over the upload
limit, authenticated as the account; each answer is a 4xx within a bounded time, no
receipt is stored, every list still answers 200. The provider-specific cases with a sent
campaign (unknown user ids ignored, undecryptable credentials, retries) are in
tests/campaigns/test_callbacks.py."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from campaigns.models import DeliveryReceipt
from providers.emulators.jiguang import callback_headers
from providers.registry import PROVIDERS, provider_class
from tests.api.conftest import token_client
from tests.approvals.factories import make_account
from tests.hostile.common import BOUND_SECONDS, DEEP, list_paths, snapshot, timed

pytestmark = pytest.mark.django_db

CHANNEL_KEY, MASTER_SECRET = "ck-hostile", "ms-hostile-secret"


def record(**fields) -> dict:
    return {"type": 4, "msgid": "m-1", "userid": "tok_u1", "time": 1_700_000_000, "channel_key": CHANNEL_KEY,
            **fields}


#: name -> (body bytes, what the 400 names)
BODIES = {
    "surrogate-msgid": (b'[{"type": 4, "msgid": "\\ud800", "userid": "u", "time": 1}]', "[0].msgid"),
    "surrogate-userid": (b'[{"type": 4, "msgid": "m", "userid": "\\udfff", "time": 1}]', "[0].userid"),
    "nul-msgid": (b'[{"type": 4, "msgid": "m\\u0000", "userid": "u", "time": 1}]', "[0].msgid"),
    "deep": (DEEP.encode(), "64 levels"),
    "400-digit-time": (json.dumps([record()]).replace("1700000000", "9" * 400).encode(), "time"),
}


def test_every_provider_that_receives_callbacks_is_covered():
    kinds = {kind for kind in PROVIDERS if provider_class(kind).receives_callbacks}
    assert kinds == {"jiguang"}, "a new callback provider needs its hostile bodies here"


@pytest.fixture
def account(world):
    account = make_account("jiguang")
    account.set_credentials({"channel_key": CHANNEL_KEY, "master_secret": MASTER_SECRET})
    account.save()
    return account


@pytest.mark.parametrize("name", sorted(BODIES))
def test_hostile_callback_bodies_are_a_4xx_in_bounded_time_and_store_nothing(world, superuser, account, name):
    body, named = BODIES[name]
    client = Client()
    before = snapshot()

    answer, seconds = timed(
        lambda: client.post(
            f"/callbacks/jiguang/{account.pk}/",
            data=body,
            content_type="application/json",
            headers=callback_headers(channel_key=CHANNEL_KEY, master_secret=MASTER_SECRET),
        )
    )

    assert 400 <= answer.status_code < 500, (name, answer.status_code, answer.content[:300])
    assert seconds < BOUND_SECONDS, (name, seconds)
    assert answer.status_code == 400 and named in answer.json()["detail"], answer.content[:300]
    assert not DeliveryReceipt.objects.exists()
    assert snapshot() == before
    api = token_client(superuser)
    for url in list_paths(api):
        assert api.get(url).status_code == 200, url


def test_a_2_mb_user_id_under_the_upload_limit_is_answered_in_bounded_time(account):
    """Not hostile text, only big: a receipt for no message Crier sent, counted, not stored."""
    body = json.dumps([record(userid="u" * 2_000_000)])
    answer, seconds = timed(
        lambda: Client().post(
            f"/callbacks/jiguang/{account.pk}/",
            data=body,
            content_type="application/json",
            headers=callback_headers(channel_key=CHANNEL_KEY, master_secret=MASTER_SECRET),
        )
    )
    assert answer.status_code == 200 and answer.json()["unmatched"] == 1 and seconds < BOUND_SECONDS
    assert not DeliveryReceipt.objects.exists()


def test_a_callback_body_over_the_upload_limit_is_a_4xx_and_stores_nothing(account, settings):
    client = Client()
    body = json.dumps([record(userid="u" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))])

    answer, seconds = timed(
        lambda: client.post(
            f"/callbacks/jiguang/{account.pk}/",
            data=body,
            content_type="application/json",
            headers=callback_headers(channel_key=CHANNEL_KEY, master_secret=MASTER_SECRET),
        )
    )

    assert answer.status_code == 413 and seconds < BOUND_SECONDS
    assert answer.json() == {
        "detail": f"the request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes "
        "(DATA_UPLOAD_MAX_MEMORY_SIZE)"
    }
    assert not DeliveryReceipt.objects.exists()


def test_a_huge_authorization_header_is_refused_like_wrong_credentials(account):
    client = Client()
    answer, seconds = timed(
        lambda: client.post(
            f"/callbacks/jiguang/{account.pk}/",
            data="[]",
            content_type="application/json",
            headers={"Authorization": "Basic " + "A" * 1_000_000},
        )
    )
    assert answer.status_code == 401 and seconds < BOUND_SECONDS
    assert answer.json() == {"detail": "authentication failed"}
