"""Approve a campaign from the command line, as a named reviewer (four-eyes rule applies)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from approvals.models import DecisionKind, ReviewStatus
from approvals.rules import requirement_progress
from approvals.services import VolumeWarningsUnacknowledged, campaign_approve
from campaigns.models import Campaign


class Command(BaseCommand):
    @property
    def help(self) -> str:  # translated when asked, in the active language
        return _(
            "Approve campaign <id> as reviewer --as <username>. The same rules as the admin and the "
            "API: the reviewer needs campaigns.approve_campaign and may not have created, edited or "
            "submitted the campaign. A campaign whose volume has warnings (more than "
            "CRIER_VOLUME_MAX_PER_HOUR occurrences an hour, more than CRIER_VOLUME_MAX_MESSAGES_PER_DAY "
            "messages a day) is refused until --acknowledge-warnings is given."
        )

    def add_arguments(self, parser) -> None:
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("--as", dest="username", required=True, help=_("the reviewer's username"))
        parser.add_argument("--comment", default="", help=_("a comment recorded with the approval"))
        parser.add_argument(
            "--acknowledge-warnings",
            action="store_true",
            help=_("acknowledge the campaign's volume warnings (recorded in the audit trail)"),
        )

    def handle(
        self, *args, campaign_id: int, username: str, comment: str, acknowledge_warnings: bool = False,
        **options,
    ) -> None:
        User = get_user_model()
        try:
            reviewer = User.objects.get(**{User.USERNAME_FIELD: username}, is_active=True)
        except User.DoesNotExist:
            raise CommandError(_("no active user %(user)r") % {"user": username}) from None
        try:
            campaign = Campaign.objects.get(pk=campaign_id)
        except Campaign.DoesNotExist:
            raise CommandError(_("no campaign %(id)s") % {"id": campaign_id}) from None
        try:
            review = campaign_approve(
                campaign=campaign, actor=reviewer, comment=comment, acknowledge_warnings=acknowledge_warnings
            )
        except VolumeWarningsUnacknowledged as exc:
            listed = "\n".join(f"  - {warning.message}" for warning in exc.warnings)
            raise CommandError(
                _(
                    "refused: campaign %(id)s has volume warnings; read them and run again with "
                    "--acknowledge-warnings:\n%(warnings)s"
                ) % {"id": campaign.pk, "warnings": listed}
            ) from None
        except PermissionDenied as exc:
            raise CommandError(_("refused: %(why)s") % {"why": exc}) from None
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                problems = [f"{field}: {text}" for field, texts in exc.message_dict.items() for text in texts]
            else:
                problems = exc.messages
            raise CommandError(_("refused: %(why)s") % {"why": "; ".join(problems)}) from None
        except Exception as exc:
            if getattr(exc, "conflict", False):
                raise CommandError(_("refused: %(why)s") % {"why": exc}) from None
            raise
        if review.status == ReviewStatus.APPROVED:
            # The due time stays ISO-like and in UTC: operators paste it into logs and queries.
            due = f"{campaign.next_due_at:%Y-%m-%d %H:%M:%S} UTC"
            done = _("campaign %(id)s %(name)r approved; first due %(due)s") % {
                "id": campaign.pk, "name": campaign.name, "due": due,
            }
            if acknowledge_warnings:
                done = _("%(done)s (volume warnings acknowledged)") % {"done": done}
            self.stdout.write(self.style.SUCCESS(done))
        else:
            done = review.decisions.filter(decision=DecisionKind.APPROVE).count()
            missing = requirement_progress(review=review).missing_text()
            self.stdout.write(
                _("approval recorded for campaign %(id)s: %(done)s of %(required)s approvals; "
                  "still in review: %(missing)s")
                % {"id": campaign.pk, "done": done, "required": review.approvals_required, "missing": missing}
            )
