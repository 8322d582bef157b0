"""Member writes raced against each other and against approvals, on PostgreSQL: concurrent
imports into one list lose no update, every consistent view of the database shows the kept
digest equal to its rows, and an approval taken mid-race binds the list as it was then
(campaigns/audiences/digest.py)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from approvals.services import ApprovalVoided, campaign_approve, campaign_submit
from campaigns.audiences.digest import digest_drift, digest_of, member_digest, member_digest_recomputed
from campaigns.audiences.services import audience_create, audience_import_members
from campaigns.models import AudienceMember, CampaignStatus
from campaigns.services import campaign_verify_approval, campaign_void_if_changed
from tests.approvals.factories import make_account, make_campaign

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite's in-memory test database cannot take concurrent writers")


def run_threads(targets) -> list[BaseException]:
    errors: list[BaseException] = []

    def wrapped(target) -> None:
        try:
            target()
        except BaseException as exc:  # reported by the caller's assertion
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=wrapped, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def consistent_views(audience_id: int, stop: threading.Event, seen: list[tuple]) -> None:
    """Until ``stop``: in one REPEATABLE READ snapshot, read the kept digest and recompute it."""
    while not stop.is_set():
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            seen.append((member_digest(audience_id), member_digest_recomputed(audience_id)))


def test_concurrent_imports_into_one_list_lose_no_update(marketer):
    audience = audience_create(actor=marketer, name="race", kind="users", user_ids=["start"])
    stop = threading.Event()
    views: list[tuple] = []

    def importer(n: int):
        ids = [f"id{i}" for i in range(n * 100, n * 100 + 300)]  # overlapping neighbours
        return lambda: audience_import_members(audience=audience, external_ids=ids, actor=None, batch_size=25)

    def checker() -> None:
        consistent_views(audience.pk, stop, views)

    watcher = threading.Thread(target=checker)
    watcher.start()
    try:
        errors = run_threads([importer(n) for n in range(4)])
    finally:
        stop.set()
        watcher.join(timeout=60)
        connections.close_all()

    assert errors == []
    expected = {"start"} | {f"id{i}" for i in range(600)}
    assert member_digest(audience.pk) == digest_of(expected)
    assert AudienceMember.objects.filter(audience=audience, suppressed=False).count() == len(expected)
    assert views and all(kept == rows for kept, rows in views), [v for v in views if v[0] != v[1]][:3]
    assert list(digest_drift()) == []


def test_an_approval_taken_while_members_change_binds_the_list_of_its_moment(marketer, reviewer):
    audience = audience_create(
        actor=marketer, name="race-approval", kind="users", user_ids=[f"u{i}" for i in range(50)]
    )
    campaign = make_campaign(marketer, provider_account=make_account("jiguang"), audience=audience)
    approved = threading.Event()
    stop = threading.Event()
    views: list[tuple] = []
    voided: list[int] = []

    def adder() -> None:
        n = after = 0
        while not stop.is_set() and n < 600:
            audience_import_members(audience=audience, external_ids=[f"a{n}", f"a{n + 1}"], actor=None)
            n += 2
            after += approved.is_set()
            if after > 10:  # members change after the approval too
                stop.set()
            time.sleep(0.01)

    def replacer() -> None:
        rounds = 0
        while not stop.is_set() and rounds < 100:
            keep = [f"u{i}" for i in range(rounds % 7, 50)]
            audience_import_members(audience=audience, external_ids=keep, actor=None, replace=True)
            rounds += 1
            time.sleep(0.02)

    def approver() -> None:
        # A change between submission and approval voids the review (the approval checks
        # the hash it approves): submit again until an approval lands between two writes.
        while not approved.is_set() and not stop.is_set():
            campaign_submit(campaign=campaign, actor=marketer)
            try:
                campaign_approve(campaign=campaign, actor=reviewer, acknowledge_warnings=True)
            except ApprovalVoided:
                voided.append(1)
                continue
            approved.set()

    def checker() -> None:
        consistent_views(audience.pk, stop, views)

    errors = run_threads([adder, replacer, approver, checker])
    stop.set()

    assert errors == [] and approved.is_set()
    assert views and all(kept == rows for kept, rows in views)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.APPROVED
    # Members kept changing after the approval: it no longer holds, and the review page's
    # check returns the campaign to draft naming the audience.
    assert member_digest(audience.pk) == member_digest_recomputed(audience.pk)
    assert not campaign_verify_approval(campaign=campaign)
    assert campaign_void_if_changed(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT

    # Approved again once the list is still, it holds.
    campaign_submit(campaign=campaign, actor=marketer)
    campaign_approve(campaign=campaign, actor=reviewer, acknowledge_warnings=True)
    assert campaign_verify_approval(campaign=campaign)
