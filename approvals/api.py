"""REST API of reviews: ``GET /api/v1/reviews/?status=pending`` and ``/api/v1/reviews/{id}/``,
and the campaign API with its review transitions.

:class:`ReviewedCampaignViewSet` is what ``/api/v1/campaigns/`` serves: the campaigns
app's view set plus the POSTs ``submit``, ``withdraw`` (``{"reason"}``), ``approve``
(``{"comment"}``) and ``reject`` (``{"comment"}`` required), and the ``approvals``
summary of each campaign. Decisions are taken there; a review shows what was submitted
(the snapshot: rendered messages, the provider request bodies, the audience and its size,
the schedule), who decided, the previews of exactly that content, and whether the
requesting user may approve it.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from approvals.diff import campaign_review_diff
from approvals.models import Review, ReviewDecision, ReviewStatus
from approvals.rules import Requirement, approve_refusal, requirement_progress
from approvals.selectors import campaign_approval_summary, review_latest, review_list, review_previews
from approvals.services import (
    VolumeWarningsUnacknowledged,
    campaign_approve,
    campaign_reject,
    campaign_submit,
    campaign_withdraw,
)
from campaigns.api import CampaignOutputSerializer, CampaignPermission, CampaignViewSet, ReasonSerializer
from campaigns.selectors import campaign_accepted_label, dispatch_outcome


def review_summary(*, campaign) -> dict | None:
    """Return the ``approvals`` entry of a campaign in the API: the latest review's state
    (``approvals.selectors.campaign_approval_summary``) plus the approval rules that applied
    at its submission (``rules``: name, approvals required, group), the requirement they set
    (``requirement``: count and where it came from, groups that must be among the
    approvers, the reach evaluated) and what is still missing (``missing``: the sentence, or
    empty; ``missing_approvals``, ``missing_groups``). None if never submitted."""
    summary = campaign_approval_summary(campaign=campaign)
    if summary is None:
        return None
    review = review_latest(campaign=campaign)
    requirement = Requirement.from_review(review)
    progress = requirement_progress(review=review)
    data = requirement.as_data()
    pending = review.status == ReviewStatus.PENDING
    return {
        **summary,
        "rules": [
            {"name": r.name, "approvals_required": r.approvals_required, "group": r.group or None}
            for r in requirement.rules
        ],
        "requirement": {key: data[key] for key in ("approvals_required", "source", "groups", "reach")},
        "missing": progress.missing_text() if pending else "",
        "missing_approvals": progress.missing_approvals if pending else 0,
        "missing_groups": [g.name for g in progress.missing_groups] if pending else [],
    }


class ReviewPermission(BasePermission):
    """Reading reviews needs ``approvals.view_review`` (every role has it)."""

    def has_permission(self, request: Request, view: viewsets.GenericViewSet) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("approvals.view_review"))


class DecisionSerializer(serializers.ModelSerializer):
    reviewer = serializers.StringRelatedField()

    class Meta:
        model = ReviewDecision
        fields = ["reviewer", "decision", "comment", "created_at"]
        read_only_fields = fields


class ReviewSerializer(serializers.ModelSerializer):
    campaign_name = serializers.CharField(source="campaign.name", read_only=True)
    campaign_status = serializers.CharField(source="campaign.status", read_only=True)
    submitted_by = serializers.StringRelatedField()
    decisions = DecisionSerializer(many=True, read_only=True)
    may_approve = serializers.SerializerMethodField(help_text="Whether the requesting user may approve now.")
    may_not_approve_because = serializers.SerializerMethodField()
    previews = serializers.SerializerMethodField(help_text="Previews of exactly the reviewed content.")

    class Meta:
        model = Review
        fields = [
            "id",
            "campaign",
            "campaign_name",
            "campaign_status",
            "status",
            "content_hash",
            "approvals_required",
            "decisions",
            "submitted_by",
            "submitted_at",
            "decided_at",
            "may_approve",
            "may_not_approve_because",
            "previews",
            "snapshot",
        ]
        read_only_fields = fields

    def _refusal(self, review: Review) -> str | None:
        if review.status != ReviewStatus.PENDING:
            return _("the review is %(status)s") % {"status": review.status}
        user = self.context["request"].user
        refusal = approve_refusal(user=user, campaign=review.campaign, review=review)
        return str(refusal) if refusal is not None else None

    def get_may_approve(self, review: Review) -> bool:
        return self._refusal(review) is None

    def get_may_not_approve_because(self, review: Review) -> str:
        return self._refusal(review) or ""

    def get_previews(self, review: Review) -> list[dict]:
        label = campaign_accepted_label(campaign=review.campaign)
        return [
            {
                "id": d.pk,
                "status": d.status,
                "due_at": d.due_at,
                "outcome": dispatch_outcome(dispatch=d, accepted_label=label),
            }
            for d in review_previews(review=review)
        ]


@extend_schema(tags=["reviews"])
class ReviewViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Reviews of campaigns: what was submitted, at which hash, and who decided."""

    permission_classes = [ReviewPermission]
    serializer_class = ReviewSerializer
    queryset = Review.objects.none()

    def get_queryset(self):
        return review_list(status=self.request.query_params.get("status") or None).select_related(
            "campaign__provider_account", "campaign__created_by"
        )

    @extend_schema(parameters=[OpenApiParameter("status", enum=ReviewStatus.values, required=False)])
    def list(self, request: Request, *args, **kwargs) -> Response:
        return super().list(request, *args, **kwargs)


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class ApproveSerializer(CommentSerializer):
    acknowledge_warnings = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Acknowledge the campaign's volume warnings (README, \"Volume before approval\"); "
        "without it, a campaign with warnings answers 409 with them.",
    )


class VolumeWarningSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    value = serializers.IntegerField()
    limit = serializers.IntegerField()


class ApproveConflictSerializer(serializers.Serializer):
    """A 409 of ``approve/``: the campaign cannot be approved in its state, or (with
    ``warnings``) its volume warnings are not acknowledged yet."""

    detail = serializers.CharField()
    warnings = VolumeWarningSerializer(
        many=True, required=False,
        help_text="The volume warnings to acknowledge (acknowledge_warnings); only when they are the reason.",
    )


class WordRunSerializer(serializers.Serializer):
    op = serializers.ChoiceField(choices=["equal", "delete", "insert"])
    text = serializers.CharField(trim_whitespace=False)


class WordDiffSerializer(serializers.Serializer):
    changed = serializers.BooleanField()
    ops = WordRunSerializer(many=True, help_text="Runs of text that rebuild both versions.")
    removed = serializers.ListField(child=serializers.CharField(), help_text="Words taken out.")
    added = serializers.ListField(child=serializers.CharField(), help_text="Words put in.")


class MessageDiffSerializer(serializers.Serializer):
    language = serializers.CharField()
    change = serializers.ChoiceField(choices=["changed", "added", "removed"])
    title = WordDiffSerializer()
    body = WordDiffSerializer()


class FieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)


class ReachChangeSerializer(serializers.Serializer):
    before = serializers.IntegerField(allow_null=True, help_text="Reach at the earlier submission.")
    after = serializers.IntegerField(allow_null=True, help_text="Reach under review (a draft: now).")
    changed = serializers.BooleanField()


class DiffBaseSerializer(serializers.Serializer):
    review = serializers.IntegerField()
    ended = serializers.ChoiceField(choices=["approved", "reviewed"])
    status = serializers.CharField()
    submitted_by = serializers.CharField()
    submitted_at = serializers.DateTimeField()


class DiffCurrentSerializer(serializers.Serializer):
    review = serializers.IntegerField(allow_null=True, help_text="None: a draft, compared as it stands.")
    status = serializers.CharField()


class ReviewDiffSerializer(serializers.Serializer):
    base = DiffBaseSerializer(help_text="The last approved (else last decided) review compared with.")
    current = DiffCurrentSerializer()
    changed = serializers.BooleanField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field errors of a draft whose message cannot be built (nothing compared then).",
    )
    messages = MessageDiffSerializer(many=True, help_text="Per language, title and body as word diffs.")
    schedule = FieldChangeSerializer(many=True)
    audience = FieldChangeSerializer(many=True, help_text="The audience definition (its size is reach).")
    provider_options = FieldChangeSerializer(many=True)
    other = FieldChangeSerializer(many=True, help_text="Template, parameters, expiry, priority, account, …")
    reach = ReachChangeSerializer()


class ReviewedCampaignPermission(CampaignPermission):
    """The campaign permissions plus the review transitions: view is enough here, since
    their services check the real rule (submit permission, ``approvals.rules``)."""

    required = {
        **CampaignPermission.required,
        "submit": CampaignPermission.required["retrieve"],
        "withdraw": CampaignPermission.required["retrieve"],
        "approve": CampaignPermission.required["retrieve"],
        "reject": CampaignPermission.required["retrieve"],
        "review_diff": CampaignPermission.required["retrieve"],
    }


@extend_schema(tags=["campaigns"])
class ReviewedCampaignViewSet(CampaignViewSet):
    """Campaigns: a template to an audience through a provider account, on a schedule, under review."""

    permission_classes = [ReviewedCampaignPermission]

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return {
            "approve": ApproveSerializer,
            "reject": CommentSerializer,
            "withdraw": ReasonSerializer,
        }.get(self.action) or super().get_serializer_class()

    def get_serializer_context(self) -> dict:
        # Fills CampaignOutputSerializer's "approvals" field.
        return {**super().get_serializer_context(), "review_summary": review_summary}

    @extend_schema(request=None, responses=CampaignOutputSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str | None = None) -> Response:
        """Submit a draft for review: its content is frozen and hashed for the reviewers."""
        campaign = self.get_object()
        campaign_submit(campaign=campaign, actor=request.user)
        return self.output(campaign)

    @extend_schema(request=ReasonSerializer, responses=CampaignOutputSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str | None = None) -> Response:
        """Take a campaign out of review, back to draft."""
        reason = self.input(ReasonSerializer, request).validated_data["reason"]
        campaign = self.get_object()
        campaign_withdraw(campaign=campaign, actor=request.user, reason=reason)
        return self.output(campaign)

    @extend_schema(
        request=ApproveSerializer, responses={200: CampaignOutputSerializer, 409: ApproveConflictSerializer}
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Approve the campaign's open review (four-eyes rule; the quorum approves the campaign).

        A campaign whose volume has warnings (``campaigns.volume``) answers 409 with
        ``{"detail", "warnings"}`` until ``acknowledge_warnings`` is true; the approval's
        audit events then name the warnings acknowledged."""
        data = self.input(ApproveSerializer, request).validated_data
        campaign = self.get_object()
        try:
            campaign_approve(
                campaign=campaign,
                actor=request.user,
                comment=data["comment"],
                acknowledge_warnings=data["acknowledge_warnings"],
            )
        except VolumeWarningsUnacknowledged as exc:
            body = {"detail": str(exc), "warnings": [warning.as_data() for warning in exc.warnings]}
            return Response(body, status=status.HTTP_409_CONFLICT)
        return self.output(campaign)

    @extend_schema(request=CommentSerializer, responses=CampaignOutputSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        """Reject the campaign's open review; the comment is required."""
        comment = self.input(CommentSerializer, request).validated_data["comment"]
        campaign = self.get_object()
        campaign_reject(campaign=campaign, actor=request.user, comment=comment)
        return self.output(campaign)

    @extend_schema(request=None, responses=ReviewDiffSerializer)
    @action(detail=True, methods=["get"], url_path="review-diff")
    def review_diff(self, request: Request, pk: str | None = None) -> Response:
        """What changed since the last approved (else last reviewed) snapshot, field by field:
        message text per language as word diffs, schedule, audience definition, provider
        options, other bound inputs, reach. 404 when the campaign was never approved nor
        rejected before."""
        campaign = self.get_object()
        diff = campaign_review_diff(campaign=campaign)
        if diff is None:
            raise NotFound(
                _("campaign %(id)s was never approved nor decided on by a reviewer; there is no "
                  "earlier review to compare it with") % {"id": campaign.pk}
            )
        return Response(ReviewDiffSerializer(diff).data)
