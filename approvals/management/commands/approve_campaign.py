"""Approve a campaign from the command line, as a named reviewer (four-eyes rule applies)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from approvals.models import DecisionKind, ReviewStatus
from approvals.rules import requirement_progress
from approvals.services import VolumeWarningsUnacknowledged, campaign_approve
from campaigns.models import Campaign


class Command(BaseCommand):
    help = (
        "Approve campaign <id> as reviewer --as <username>. The same rules as the admin and the "
        "API: the reviewer needs campaigns.approve_campaign and may not have created, edited or "
        "submitted the campaign. A campaign whose volume has warnings (more than "
        "CRIER_VOLUME_MAX_PER_HOUR occurrences an hour, more than CRIER_VOLUME_MAX_MESSAGES_PER_DAY "
        "messages a day) is refused until --acknowledge-warnings is given."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("--as", dest="username", required=True, help="the reviewer's username")
        parser.add_argument("--comment", default="", help="a comment recorded with the approval")
        parser.add_argument(
            "--acknowledge-warnings",
            action="store_true",
            help="acknowledge the campaign's volume warnings (recorded in the audit trail)",
        )

    def handle(
        self, *args, campaign_id: int, username: str, comment: str, acknowledge_warnings: bool = False,
        **options,
    ) -> None:
        User = get_user_model()
        try:
            reviewer = User.objects.get(**{User.USERNAME_FIELD: username}, is_active=True)
        except User.DoesNotExist:
            raise CommandError(f"no active user {username!r}") from None
        try:
            campaign = Campaign.objects.get(pk=campaign_id)
        except Campaign.DoesNotExist:
            raise CommandError(f"no campaign {campaign_id}") from None
        try:
            review = campaign_approve(
                campaign=campaign, actor=reviewer, comment=comment, acknowledge_warnings=acknowledge_warnings
            )
        except VolumeWarningsUnacknowledged as exc:
            listed = "\n".join(f"  - {warning.message}" for warning in exc.warnings)
            raise CommandError(
                f"refused: campaign {campaign.pk} has volume warnings; read them and run again with "
                f"--acknowledge-warnings:\n{listed}"
            ) from None
        except PermissionDenied as exc:
            raise CommandError(f"refused: {exc}") from None
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                problems = [f"{field}: {text}" for field, texts in exc.message_dict.items() for text in texts]
            else:
                problems = exc.messages
            raise CommandError(f"refused: {'; '.join(problems)}") from None
        except Exception as exc:
            if getattr(exc, "conflict", False):
                raise CommandError(f"refused: {exc}") from None
            raise
        if review.status == ReviewStatus.APPROVED:
            due = f"{campaign.next_due_at:%Y-%m-%d %H:%M:%S} UTC"
            done = f"campaign {campaign.pk} {campaign.name!r} approved; first due {due}"
            if acknowledge_warnings:
                done += " (volume warnings acknowledged)"
            self.stdout.write(self.style.SUCCESS(done))
        else:
            done = review.decisions.filter(decision=DecisionKind.APPROVE).count()
            missing = requirement_progress(review=review).missing_text()
            self.stdout.write(
                f"approval recorded for campaign {campaign.pk}: {done} of {review.approvals_required} "
                f"approvals; still in review: {missing}"
            )
