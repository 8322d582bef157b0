"""Member writes raced against each other and against approvals, on PostgreSQL: concurrent
imports into one list lose no update, every consistent view of the database shows the kept
digest equal to its rows, and an approval taken mid-race binds the list as it was then
(campaigns/audiences/digest.py)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from approvals.models import Review
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


def test_an_approval_raced_against_member_writes_binds_a_consistent_list(marketer, reviewer):
    audience = audience_create(
        actor=marketer, name="race-approval", kind="users", user_ids=[f"u{i}" for i in range(50)]
    )
    campaign = make_campaign(marketer, provider_account=make_account("jiguang"), audience=audience)
    writers_done = threading.Event()
    stop = threading.Event()
    views: list[tuple] = []
    outcomes: list[str] = []

    def adder() -> None:
        for n in range(0, 80, 2):
            audience_import_members(audience=audience, external_ids=[f"a{n}", f"a{n + 1}"], actor=None)
            time.sleep(0.05)

    def replacer() -> None:
        for rounds in range(20):
            keep = [f"u{i}" for i in range(rounds % 7, 50)]
            audience_import_members(audience=audience, external_ids=keep, actor=None, replace=True)
            time.sleep(0.1)

    def approver() -> None:
        # A change between submission and approval voids the review (the approval checks the
        # hash it approves); submit again until an approval lands between two writes.
        while not writers_done.is_set():
            campaign_submit(campaign=campaign, actor=marketer)
            try:
                campaign_approve(campaign=campaign, actor=reviewer, acknowledge_warnings=True)
            except ApprovalVoided:
                outcomes.append("voided")
                continue
            outcomes.append("approved")
            return

    def checker() -> None:
        consistent_views(audience.pk, stop, views)

    watcher = threading.Thread(target=checker)
    watcher.start()
    approving = threading.Thread(target=approver)
    approving.start()
    try:
        errors = run_threads([adder, replacer])
    finally:
        writers_done.set()
        approving.join(timeout=120)
        stop.set()
        watcher.join(timeout=60)
        connections.close_all()

    assert errors == [] and outcomes, outcomes
    assert views and all(kept == rows for kept, rows in views)
    campaign.refresh_from_db()
    if outcomes[-1] == "approved":
        # Whatever the writers did after the approval moment, the approval holds exactly when
        # the list is the one it bound.
        bound = Review.objects.get(campaign=campaign, status="approved").snapshot["audience"]["members"]
        assert campaign_verify_approval(campaign=campaign) == (bound == member_digest(audience.pk).as_data())
    else:
        assert campaign.status == CampaignStatus.DRAFT
    campaign_void_if_changed(campaign=campaign)
    campaign.refresh_from_db()
    if campaign.status == CampaignStatus.DRAFT:
        campaign_submit(campaign=campaign, actor=marketer)
        campaign_approve(campaign=campaign, actor=reviewer, acknowledge_warnings=True)
    assert campaign_verify_approval(campaign=campaign)

    # One more id listed after the approval: it no longer holds, and the review page's check
    # returns the campaign to draft.
    audience_import_members(audience=audience, external_ids=["late"], actor=None)
    assert not campaign_verify_approval(campaign=campaign)
    assert campaign_void_if_changed(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
