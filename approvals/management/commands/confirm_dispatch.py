"""Confirm (or cancel) a held occurrence from the command line, as a named reviewer."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from approvals.holds import dispatch_cancel, dispatch_confirm
from campaigns.models import Dispatch


class Command(BaseCommand):
    @property
    def help(self) -> str:  # translated when asked, in the active language
        return _(
            "Confirm the new reach of held dispatch <id> as reviewer --as <username>, so it is sent; "
            "or drop it with --cancel (--reason says why). The same rules as the admin and the API: "
            "the reviewer needs campaigns.approve_campaign, may not have created, edited or submitted "
            "the campaign, and must satisfy the approval rules that the new reach meets."
        )

    def add_arguments(self, parser) -> None:
        parser.add_argument("dispatch_id", type=int)
        parser.add_argument("--as", dest="username", required=True, help=_("the reviewer's username"))
        parser.add_argument("--cancel", action="store_true", help=_("cancel the held occurrence instead"))
        parser.add_argument("--reason", default="", help=_("why it is cancelled (kept in the audit trail)"))

    def handle(self, *args, dispatch_id: int, username: str, cancel: bool, reason: str, **options) -> None:
        User = get_user_model()
        try:
            reviewer = User.objects.get(**{User.USERNAME_FIELD: username}, is_active=True)
        except User.DoesNotExist:
            raise CommandError(_("no active user %(user)r") % {"user": username}) from None
        try:
            dispatch = Dispatch.objects.select_related("campaign").get(pk=dispatch_id, is_preview=False)
        except Dispatch.DoesNotExist:
            raise CommandError(
                _("no dispatch %(id)s (of a campaign occurrence)") % {"id": dispatch_id}
            ) from None
        try:
            if cancel:
                dispatch = dispatch_cancel(dispatch=dispatch, actor=reviewer, reason=reason)
            else:
                dispatch = dispatch_confirm(dispatch=dispatch, actor=reviewer)
        except PermissionDenied as exc:
            raise CommandError(_("refused: %(why)s") % {"why": exc}) from None
        except Exception as exc:
            if getattr(exc, "conflict", False):
                raise CommandError(_("refused: %(why)s") % {"why": exc}) from None
            raise
        if cancel:
            done = _("dispatch %(id)s of campaign %(campaign)s cancelled; nothing is sent") % {
                "id": dispatch.pk,
                "campaign": dispatch.campaign_id,
            }
        else:
            done = _(
                "dispatch %(id)s of campaign %(campaign)s confirmed at a reach of %(reach)s; it is sent"
            ) % {
                "id": dispatch.pk,
                "campaign": dispatch.campaign_id,
                "reach": dispatch.reach,
            }
        self.stdout.write(self.style.SUCCESS(done))
