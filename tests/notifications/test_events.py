"""Each event produces the expected notifications to the expected people, and e-mails say so.

The events are made by the real services (submit, approve, reject, edit, the emergency
stop, a provider check, a dispatch finishing); the notifications are read from the outbox
and delivered in-process through Django's locmem mail backend.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.db import transaction
from django.utils import timezone

from approvals.services import campaign_approve, campaign_reject, campaign_submit
from audit.services import record_event
from campaigns.models import Delivery, DeliveryStatus, Dispatch, DispatchStatus
from campaigns.sending.finish import dispatch_finish
from campaigns.sending.operations import sending_resume, sending_stop
from campaigns.services import campaign_edit
from notifications.delivery import deliver
from notifications.models import Channel, Notification, NotificationPreference, NotificationStatus
from providers.services import account_check
from tests.approvals.factories import make_account, make_campaign, make_template

pytestmark = pytest.mark.django_db
SECRET = "sk-test-secret-0123456789abcdef0123456789"


def told(kind: str) -> set[str]:
    """Usernames e-mailed about ``kind`` (rows in the outbox)."""
    rows = Notification.objects.filter(kind=kind, channel=Channel.EMAIL).select_related("user")
    return {row.user.username for row in rows}


def deliver_all() -> None:
    for pk in Notification.objects.order_by("pk").values_list("pk", flat=True):
        deliver(pk)


def test_a_submission_tells_the_reviewers_who_may_approve_it_never_the_author(draft, people, settings):
    settings.CRIER_BASE_URL = "https://crier.example.com"
    campaign_submit(campaign=draft, actor=people["marketer"])

    assert told("review_requested") == {"reviewer", "reviewer2"}
    deliver_all()
    assert sorted(m.to[0] for m in mail.outbox) == ["reviewer2@example.com", "reviewer@example.com"]
    message = mail.outbox[0]
    assert message.subject == "[Crier] Review requested: Spring sale"
    link = f"https://crier.example.com/admin/campaigns/campaign/{draft.pk}/review/"
    assert link in message.body
    assert "By: marketer" in message.body
    assert "Approvals needed: 1" in message.body
    html, mime = message.alternatives[0]
    assert mime == "text/html"
    assert f'<a href="{link}">Review it</a>' in html


def test_a_reviewer_who_wrote_the_campaign_is_not_asked_to_review_it(people, make_user):
    author = make_user("writer", "Marketing", "Reviewers")
    author.email = "writer@example.com"
    author.save()
    make_template()
    campaign = make_campaign(author, name="Own work")
    campaign_submit(campaign=campaign, actor=author)

    assert told("review_requested") == {"reviewer", "reviewer2"}


def test_approval_and_rejection_tell_the_author_with_the_comment(draft, people):
    campaign_submit(campaign=draft, actor=people["marketer"])
    campaign_reject(campaign=draft, actor=people["reviewer"], comment="Say which stores take part")

    assert told("rejected") == {"marketer"}
    Notification.objects.exclude(kind="rejected").delete()
    deliver_all()
    [message] = mail.outbox
    assert message.to == ["marketer@example.com"]
    assert message.subject == "[Crier] Rejected: Spring sale"
    assert "Comment: Say which stores take part" in message.body
    assert "By: reviewer" in message.body

    draft.refresh_from_db()
    campaign_edit(campaign=draft, actor=people["marketer"], changes={"priority": 1})
    campaign_submit(campaign=draft, actor=people["marketer"])
    campaign_approve(campaign=draft, actor=people["reviewer2"], comment="Fine now")
    assert told("approved") == {"marketer"}
    approved = Notification.objects.get(kind="approved")
    assert approved.context["details"] == {"by": "reviewer2", "comment": "Fine now"}


def test_a_voided_approval_tells_the_author_and_the_approvers(draft, people):
    campaign_submit(campaign=draft, actor=people["marketer"])
    campaign_approve(campaign=draft, actor=people["reviewer"])
    draft.refresh_from_db()
    campaign_edit(
        campaign=draft, actor=people["marketer"], changes={"parameters": {"name": "Bo", "pct": "5"}}
    )

    assert told("voided") == {"marketer", "reviewer"}


def test_a_held_occurrence_tells_the_reviewers_not_the_author(draft, people):
    campaign_submit(campaign=draft, actor=people["marketer"])
    campaign_approve(campaign=draft, actor=people["reviewer"])
    dispatch = Dispatch.objects.create(campaign=draft, due_at=timezone.now(), status=DispatchStatus.HELD)
    # What campaigns.sending.reach.hold_if_over records when it holds an occurrence.
    record_event(
        campaign=draft,
        object_type="dispatch",
        object_id=dispatch.pk,
        action="hold",
        from_state="running",
        to_state="held",
        reason="reach 40 above the bound 33",
        data={"reach": 40, "approved_reach": 30, "reach_limit": 33, "due_at": dispatch.due_at},
    )

    assert told("held") == {"reviewer", "reviewer2"}
    row = Notification.objects.filter(kind="held").first()
    assert row.context["details"]["reach"] == 40
    assert row.context["path"] == "/admin/"


@pytest.mark.parametrize(
    ("statuses", "kinds"),
    [
        ([DeliveryStatus.FAILED, DeliveryStatus.FAILED], {"dispatch_failed"}),
        ([DeliveryStatus.DELIVERED, DeliveryStatus.FAILED], {"dispatch_partially_failed"}),
        (
            [DeliveryStatus.DELIVERED, DeliveryStatus.UNKNOWN],
            {"dispatch_partially_failed", "deliveries_unknown"},
        ),
        ([DeliveryStatus.DELIVERED, DeliveryStatus.DELIVERED], set()),
    ],
)
def test_a_dispatch_ending_badly_tells_the_author_and_the_operators(draft, people, statuses, kinds):
    campaign_submit(campaign=draft, actor=people["marketer"])
    campaign_approve(campaign=draft, actor=people["reviewer"])
    dispatch = Dispatch.objects.create(campaign=draft, due_at=timezone.now(), status=DispatchStatus.RUNNING)
    Delivery.objects.bulk_create(
        Delivery(dispatch=dispatch, batch_no=i, idempotency_key=f"k{i}", status=status, targets=[f"u{i}"])
        for i, status in enumerate(statuses)
    )
    dispatch_finish(dispatch)

    assert (
        set(
            Notification.objects.values_list("kind", flat=True).exclude(
                kind__in=["review_requested", "approved"]
            )
        )
        == kinds
    )
    for kind in kinds:
        assert told(kind) == {"marketer", "operator"}


def test_the_emergency_stop_and_resume_tell_the_operators(people):
    sending_stop(actor=people["operator"], reason="provider incident")
    sending_resume(actor=people["operator"])

    assert told("sending_stopped") == {"operator"}
    assert told("sending_resumed") == {"operator"}
    deliver_all()
    stop = next(m for m in mail.outbox if "Emergency stop" in m.subject)
    assert "Reason: provider incident" in stop.body


def test_a_failing_provider_check_tells_the_operators(people):
    account = make_account("binance", base_url="http://127.0.0.1:9", name="Binance broken")
    account.set_credentials({"access_key": "ak-test", "secret_key": SECRET})
    account.save()

    ok, _why = account_check(account=account)

    assert not ok
    assert told("provider_check_failed") == {"operator"}
    deliver_all()
    [message] = mail.outbox
    assert message.subject == "[Crier] Provider account check failing: Binance broken"
    assert "Reason: " in message.body
    assert SECRET not in message.body + str(Notification.objects.get().context)


def test_a_user_who_turned_an_event_off_is_not_told(draft, people):
    NotificationPreference.objects.create(user=people["reviewer2"], kind="review_requested", enabled=False)
    campaign_submit(campaign=draft, actor=people["marketer"])

    assert told("review_requested") == {"reviewer"}


def test_role_defaults_keep_operators_out_of_review_requests_unless_they_ask(draft, people):
    people["operator"].user_permissions.add(*Permission.objects.filter(codename="approve_campaign"))
    campaign_submit(campaign=draft, actor=people["marketer"])
    assert told("review_requested") == {"reviewer", "reviewer2"}


def test_a_change_rolled_back_leaves_no_notification(draft, people):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        campaign_submit(campaign=draft, actor=people["marketer"])
        assert Notification.objects.exists()
        raise Boom

    assert not Notification.objects.exists()
    assert Notification.objects.filter(status=NotificationStatus.PENDING).count() == 0


def test_a_review_request_says_which_approvals_and_groups_the_rules_need(draft, people, make_user):
    from django.contrib.auth.models import Group

    from approvals.models import ApprovalRule

    compliance = Group.objects.create(name="Compliance")
    officer = make_user("officer", "Reviewers", "Compliance")
    officer.email = "officer@example.com"
    officer.save()
    ApprovalRule.objects.create(
        name="Listed users need Compliance",
        audience_kind="users",
        approvals_required=2,
        required_group=compliance,
    )

    campaign_submit(campaign=draft, actor=people["marketer"])

    assert told("review_requested") == {"reviewer", "reviewer2", "officer"}
    row = Notification.objects.filter(kind="review_requested").first()
    assert row.context["details"]["needs"] == 2
    assert row.context["details"]["groups"] == "Compliance"
    deliver(row.pk)
    assert "Required groups: Compliance" in mail.outbox[0].body
