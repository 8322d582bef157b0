"""Who receives a message stays provable: every change to a recipient or an audience is an
audit event with its actor, and the report of an approved campaign says how many of its
recipients changed since the approval, and by whom (issue #14)."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.services import campaign_approve, campaign_submit
from audit.models import AuditEvent
from audit.services import audit_verify, canonical_json
from campaigns.audiences.changes import campaign_approved_at, recipient_changes_since
from campaigns.audiences.recipients import recipients_bulk_upsert
from campaigns.audiences.services import audience_create, audience_size
from campaigns.models import Dispatch, DispatchStatus, Recipient
from campaigns.sending.run import dispatch_run
from campaigns.sending.ticker import dispatcher_tick
from tests.approvals.factories import make_account, make_campaign, make_template
from tests.campaigns.conftest import make_audience, make_recipients

pytestmark = pytest.mark.django_db

RECIPIENTS = "/api/v1/recipients/"


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def recipient_events(**filters):
    return AuditEvent.objects.filter(object_type="recipient", **filters).order_by("id")


def report_url(campaign) -> str:
    return reverse("admin:campaigns_campaign_report", args=[campaign.pk])


def approve(campaign, marketer, reviewer):
    campaign_submit(campaign=campaign, actor=marketer)
    campaign_approve(campaign=campaign, actor=reviewer)
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def vip_campaign(marketer, reviewer):
    """An approved Alipay+ campaign to the tag ``vip``: v1 and v2 carry it, n1 does not."""
    recipients_bulk_upsert(
        actor=None,
        rows=[
            {"external_id": "v1", "tags": ["vip"], "addresses": {"alipayplus": "token-v1-0001"}},
            {"external_id": "v2", "tags": ["vip"], "addresses": {"alipayplus": "token-v2-0002"}},
            {"external_id": "n1", "tags": ["new"], "addresses": {"alipayplus": "token-n1-0003"}},
        ],
    )
    audience = audience_create(name="VIP", kind="tags", tags=["vip"], actor=marketer)
    campaign = make_campaign(
        marketer, template=make_template(), provider_account=make_account("alipayplus"), audience=audience
    )
    return approve(campaign, marketer, reviewer)


def test_re_tagging_after_approval_is_recorded_with_the_actor_and_shown_on_the_report(
    vip_campaign, marketer, reviewer
):
    """The issue's hole: size unchanged, a different person receives it, and now it shows."""
    audience = vip_campaign.audience
    assert audience_size(audience, provider_kind="alipayplus") == 2
    api = api_as(marketer)
    v1, n1 = Recipient.objects.get(external_id="v1"), Recipient.objects.get(external_id="n1")

    assert api.patch(f"{RECIPIENTS}{v1.pk}/", {"tags": []}, format="json").status_code == 200
    assert api.patch(f"{RECIPIENTS}{n1.pk}/", {"tags": ["new", "vip"]}, format="json").status_code == 200

    assert audience_size(audience, provider_kind="alipayplus") == 2  # same size, another person
    out, into = recipient_events(action="recipient_changed")
    assert (out.object_id, out.actor, into.object_id, into.actor) == ("v1", marketer, "n1", marketer)
    assert out.data["before"]["tags"] == ["vip"] and out.data["after"]["tags"] == []
    assert into.data["before"]["tags"] == ["new"] and into.data["after"]["tags"] == ["new", "vip"]
    assert into.data["changed"] == ["tags"]
    # Tokens are credentials: the trail shows their last four characters, never the token.
    assert into.data["after"]["addresses"] == {"alipayplus": "…0003"}
    assert "token-n1" not in canonical_json(into.data)

    since = campaign_approved_at(vip_campaign)
    changes = recipient_changes_since(campaign=vip_campaign, since=since)
    assert (changes.count, changes.actors, changes.by_system) == (2, ("marketer",), False)
    assert set(changes.event_ids) == {out.pk, into.pk}

    page = browser(reviewer).get(report_url(vip_campaign)).content.decode()
    assert "Recipients changed since approval: 2, by marketer." in page
    link = re.search(r'id="recipient-changes">.*?<a href="([^"]+)"', page).group(1).replace("&amp;", "&")
    listed = browser(reviewer).get(link)
    assert listed.status_code == 200
    assert {e.pk for e in listed.context["cl"].result_list} == {out.pk, into.pk}
    review = browser(reviewer).get(reverse("admin:campaigns_campaign_review", args=[vip_campaign.pk]))
    assert "Recipients changed since approval: 2, by marketer." in review.content.decode()


def test_a_recipient_saved_in_the_admin_form_is_recorded_by_the_user(marketer):
    recipients_bulk_upsert(actor=None, rows=[{"external_id": "u1", "tags": ["vip"]}])
    recipient = Recipient.objects.get(external_id="u1")

    response = browser(marketer).post(
        f"/admin/campaigns/recipient/{recipient.pk}/change/",
        {"language": "en", "tags_text": "vip, gold", "address_alipayplus": "secret-token-wxyz"},
    )

    assert response.status_code == 302
    event = recipient_events(action="recipient_changed").get()
    assert (event.object_id, event.actor, event.data["changed"]) == ("u1", marketer, ["tags", "addresses"])
    shown = {"language": "en", "tags": ["vip", "gold"], "addresses": {"alipayplus": "…wxyz"}}
    assert event.data["after"] == shown


def test_changes_outside_the_audience_are_not_counted_and_none_is_said_plainly(vip_campaign, marketer):
    n1 = Recipient.objects.get(external_id="n1")
    api_as(marketer).patch(f"{RECIPIENTS}{n1.pk}/", {"language": "de"}, format="json")

    changes = recipient_changes_since(campaign=vip_campaign, since=campaign_approved_at(vip_campaign))
    assert changes.count == 0
    page = browser(marketer).get(report_url(vip_campaign)).content.decode()
    assert "Recipients changed since approval: none." in page


def test_a_patch_that_changes_nothing_records_nothing(vip_campaign, marketer):
    v1 = Recipient.objects.get(external_id="v1")
    before = AuditEvent.objects.count()
    api_as(marketer).patch(f"{RECIPIENTS}{v1.pk}/", {"tags": ["vip"]}, format="json")
    assert AuditEvent.objects.count() == before


def test_verify_audit_covers_the_new_events_and_detects_an_edited_one(vip_campaign, marketer, capsys):
    v1 = Recipient.objects.get(external_id="v1")
    api_as(marketer).patch(f"{RECIPIENTS}{v1.pk}/", {"tags": []}, format="json")
    event = recipient_events(action="recipient_changed").get()

    assert audit_verify().ok
    call_command("verify_audit")
    assert "audit trail intact" in capsys.readouterr().out

    # Someone rewrites history: v1 "never left" the tag.
    forged = {**event.data, "after": {**event.data["after"], "tags": ["vip"]}}
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AuditEvent._meta.db_table} SET data = %s WHERE id = %s",
            [canonical_json(forged), event.pk],
        )
    assert audit_verify().broken_id == event.pk
    with pytest.raises(CommandError, match=f"audit trail broken at event {event.pk}"):
        call_command("verify_audit")


def test_a_listed_recipients_new_jiguang_address_after_approval_is_recorded(marketer, reviewer):
    recipients_bulk_upsert(
        actor=None,
        rows=[{"external_id": f"u{i}", "addresses": {"jiguang": f"device_{i}"}} for i in (1, 2)],
    )
    audience = audience_create(name="Listed", kind="users", user_ids=["u1", "u2"], actor=marketer)
    campaign = make_campaign(
        marketer, template=make_template(), provider_account=make_account("jiguang"), audience=audience
    )
    campaign = approve(campaign, marketer, reviewer)
    u1 = Recipient.objects.get(external_id="u1")

    response = api_as(marketer).patch(
        f"{RECIPIENTS}{u1.pk}/", {"addresses": {"jiguang": "other_device"}}, format="json"
    )

    assert response.status_code == 200
    event = recipient_events(action="recipient_changed").get()
    assert (event.object_id, event.actor) == ("u1", marketer)
    assert event.data["before"]["addresses"] == {"jiguang": "device_1"}
    assert event.data["after"]["addresses"] == {"jiguang": "other_device"}
    assert event.data["changed"] == ["addresses"]
    page = browser(reviewer).get(report_url(campaign)).content.decode()
    assert "Recipients changed since approval: 1, by marketer." in page


def test_a_csv_import_is_one_event_with_counts_digest_and_tags_touched(marketer):
    recipients_bulk_upsert(
        actor=None,
        rows=[
            {"external_id": "a1", "tags": ["vip"], "language": "en"},
            {"external_id": "a2", "tags": ["gold"], "language": "en"},
        ],
    )
    body = "external_id,language,tags\na1,en,vip\na2,en,new\nb1,de,vip;new\nbad id,en,\n"
    before = AuditEvent.objects.count()

    response = api_as(marketer).post(f"{RECIPIENTS}bulk/", body, content_type="text/csv")

    assert response.status_code == 200, response.data
    assert AuditEvent.objects.count() == before + 1
    event = recipient_events(action="recipients_imported").last()
    assert event.actor == marketer
    data = event.data
    assert (data["created"], data["updated"], data["unchanged"], data["refused"]) == (1, 1, 1, 1)
    # a2 left gold for new, b1 arrived with vip and new; a1 changed nothing.
    assert data["tags_touched"] == {"gold": 1, "new": 2, "vip": 1} and not data["tags_capped"]
    rows = [
        {"external_id": "a1", "language": "en", "tags": ["vip"], "addresses": None},
        {"external_id": "a2", "language": "en", "tags": ["new"], "addresses": None},
        {"external_id": "b1", "language": "de", "tags": ["vip", "new"], "addresses": None},
    ]
    digest = hashlib.sha256(b"".join(canonical_json(row).encode() + b"\n" for row in rows)).hexdigest()
    assert data["digest"] == event.object_id == digest


def test_an_admin_csv_upload_is_one_event_by_the_uploader(marketer):
    client = browser(marketer)
    upload = SimpleUploadedFile("people.csv", b"external_id,tags\nu1,vip\nu2,vip\n", content_type="text/csv")
    response = client.post("/admin/campaigns/recipient/upload/", {"file": upload, "_preview": "Preview"})
    assert not recipient_events().exists()  # a preview writes nothing, records nothing
    token = re.search(r'name="token" value="([0-9a-f]{32})"', response.content.decode()).group(1)

    client.post("/admin/campaigns/recipient/upload/", {"token": token, "_import": "Import"})

    event = recipient_events().get()
    assert (event.action, event.actor, event.data["created"]) == ("recipients_imported", marketer, 2)


def test_an_import_into_a_listed_audience_counts_for_its_campaign(marketer, reviewer):
    audience = audience_create(name="Listed", kind="users", user_ids=["u1", "u2"], actor=marketer)
    campaign = make_campaign(
        marketer, template=make_template(), provider_account=make_account("jiguang"), audience=audience
    )
    campaign = approve(campaign, marketer, reviewer)

    response = api_as(marketer).post(
        f"/api/v1/audiences/{audience.pk}/members/?suppressed=true", ["u2"], format="json"
    )

    assert response.status_code == 200
    event = AuditEvent.objects.get(object_type="audience", action="audience_members_imported")
    assert (event.object_id, event.actor, event.data["list"], event.data["added"]) == (
        str(audience.pk), marketer, "suppressed", 1
    )
    assert event.data["digest"] == hashlib.sha256(b"u2\n").hexdigest()
    changes = recipient_changes_since(campaign=campaign, since=campaign_approved_at(campaign))
    assert (changes.count, changes.actors) == (1, ("marketer",))


def test_an_audience_created_and_changed_through_the_api_is_recorded(marketer):
    api = api_as(marketer)
    body = {"name": "Beta", "kind": "users", "user_ids": ["u1"]}
    created = api.post("/api/v1/audiences/", body, format="json")
    assert created.status_code == 201
    api.patch(f"/api/v1/audiences/{created.data['id']}/", {"user_ids": ["u1", "u2"]}, format="json")

    first, second = AuditEvent.objects.filter(object_type="audience").order_by("id")
    assert (first.action, first.actor, first.data["members"]) == (
        "audience_created", marketer, {"added": 1, "removed": 0}
    )
    assert (second.action, second.data["members"]) == ("audience_changed", {"added": 1, "removed": 0})
    assert second.data["before"] == second.data["after"]


def test_an_opt_out_from_a_provider_is_recorded_without_an_actor(make_account, approved_campaign):
    account, server = make_account("alipayplus")
    ids = make_recipients(3, kind="alipayplus", tags=("vip",))
    server.app.unsubscribed_tokens.add(f"tok_{ids[0]}")
    approved_campaign(account, make_audience("users", user_ids=ids))

    for dispatch_id in dispatcher_tick():
        while dispatch_run(dispatch_id) == "continue":
            pass

    assert Dispatch.objects.get().status != DispatchStatus.PENDING
    assert Recipient.objects.get(external_id=ids[0]).opted_out_providers == ["alipayplus"]
    event = recipient_events(action="recipient_opted_out").get()
    assert (event.object_id, event.actor) == (ids[0], None)
    assert "alipayplus" in event.reason and "USER_NOT_SUBSCRIBED" in event.reason
    assert event.data["opted_out_providers"] == "alipayplus" and event.data["tags_touched"] == {"vip": 1}


def test_everyone_counts_every_change_unless_the_provider_broadcasts(marketer):
    everyone = audience_create(name="Everyone", kind="all", actor=marketer)
    template = make_template()
    per_user = make_campaign(
        marketer, template=template, provider_account=make_account("alipayplus"), audience=everyone
    )
    broadcast = make_campaign(
        marketer,
        name="Broadcast",
        template=template,
        provider_account=make_account("binance"),
        audience=everyone,
    )
    since = timezone.now()
    api_as(marketer).post(RECIPIENTS, {"external_id": "u1", "tags": ["x"]}, format="json")

    assert recipient_changes_since(campaign=per_user, since=since).count == 1
    assert recipient_changes_since(campaign=broadcast, since=since).count == 0
