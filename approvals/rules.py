"""The one place that decides whether a user may approve a campaign (the four-eyes rule).

:func:`approve_refusal` returns why ``user`` may not approve ``campaign`` now, as a typed
:class:`Refusal`, or None when they may. Everyone asks it: ``approvals.services``
(``campaign_approve`` raises ``refusal.error()``), the review page and the campaign
buttons in the admin, the review API (``may_approve``/``may_not_approve_because``) and
the ``approve_campaign`` command (through the service). :func:`campaigns_awaiting_review`
is the same rule as a query, for the review queue and the dashboard, which must not cost a
query per campaign.

The rule, in the order it is checked:

1. the user holds ``campaigns.approve_campaign`` (:attr:`RefusalKind.NOT_A_REVIEWER`);
2. the campaign is in review (:attr:`RefusalKind.WRONG_STATE`) with an open review
   (:attr:`RefusalKind.NO_OPEN_REVIEW`);
3. four eyes: the user did not create it, nor edit or submit it since its last approval
   (read from the audit trail), nor submit the open review (:attr:`RefusalKind.OWN_CAMPAIGN`);
4. the user has not already decided on this review (:attr:`RefusalKind.ALREADY_DECIDED`).

:func:`preview_refusal` is the rule about the content rather than the reviewer: with
``CRIER_REQUIRE_PREVIEW`` a successful preview of exactly the reviewed content is needed
(:attr:`RefusalKind.PREVIEW_REQUIRED`). The service checks it after making sure the
content did not change since submission (a change voids the review instead).

How many approvals, and from whom, is the other half of this module: the approval rules
(``approvals.ApprovalRule``, managed by administrators in the admin).
:func:`requirement_for` evaluates them for a campaign at a reach (at submission; the review
records the result), :func:`requirement_progress` says whether a review's approvers meet
it and what is still missing, and :func:`reach_ceiling` tells the approval how far an
occurrence's reach may grow before a stricter rule, which its approvers did not satisfy,
would apply (the occurrence is then held: see the README's "What an approval binds").
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, Prefetch, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from approvals.models import ApprovalRule, DecisionKind, Review, ReviewStatus
from audit.models import AuditEvent
from campaigns.lifecycle import CampaignTransitionError, describe, permission_text
from campaigns.models import Campaign, CampaignStatus, Dispatch, DispatchStatus

APPROVE_PERM = "campaigns.approve_campaign"
# Audit actions on a campaign that make their actor one of its authors.
AUTHORING_ACTIONS = {"create": "created", "edit": "edited", "submit": "submitted"}


class ReviewConflict(Exception):
    """A review cannot take this decision or move (HTTP 409)."""

    conflict = True


class RefusalKind(enum.StrEnum):
    """Why a user may not approve a campaign now."""

    NOT_A_REVIEWER = "not_a_reviewer"
    WRONG_STATE = "wrong_state"
    NO_OPEN_REVIEW = "no_open_review"
    OWN_CAMPAIGN = "own_campaign"
    ALREADY_DECIDED = "already_decided"
    PREVIEW_REQUIRED = "preview_required"


@dataclass(frozen=True)
class Refusal:
    """A refusal to approve: its kind and the sentence shown to the user."""

    kind: RefusalKind
    message: str

    def __str__(self) -> str:
        return self.message

    def error(self) -> Exception:
        """Return the exception a service raises for this refusal (and so the HTTP status:
        403 for who the user is, 409 for the campaign's or review's state, 400 for content)."""
        if self.kind in (RefusalKind.NOT_A_REVIEWER, RefusalKind.OWN_CAMPAIGN):
            return PermissionDenied(self.message)
        if self.kind == RefusalKind.ALREADY_DECIDED:
            return ReviewConflict(self.message)
        if self.kind == RefusalKind.PREVIEW_REQUIRED:
            return ValidationError({"preview": [self.message]})
        return CampaignTransitionError(self.message)


def review_open(*, campaign: Campaign) -> Review | None:
    """Return the campaign's pending review, if any."""
    return campaign.reviews.filter(status=ReviewStatus.PENDING).select_related("submitted_by").first()


# How the four-eyes refusal names each role of approval_blockers (the roles stay English ids).
ROLE_LABELS = {
    "created": gettext_lazy("created"),
    "edited": gettext_lazy("edited"),
    "submitted": gettext_lazy("submitted"),
}


def approval_blockers(*, campaign: Campaign, review: Review | None = None) -> dict[int, list[str]]:
    """Return the users who may not approve ``campaign`` (four-eyes rule), with why.

    They are its creator, and everyone who created, edited or submitted it since its last
    approval (read from the audit trail, which every edit through the services writes),
    plus the submitter of ``review``.
    """
    blockers: dict[int, list[str]] = {campaign.created_by_id: ["created"]}
    events = AuditEvent.objects.filter(campaign=campaign, object_type="campaign")
    last_approval = events.filter(action="approve").order_by("-id").values_list("id", flat=True).first()
    if last_approval is not None:
        events = events.filter(id__gt=last_approval)
    authored = events.filter(action__in=list(AUTHORING_ACTIONS), actor__isnull=False)
    for actor_id, action in authored.values_list("actor_id", "action"):
        roles = blockers.setdefault(actor_id, [])
        if AUTHORING_ACTIONS[action] not in roles:
            roles.append(AUTHORING_ACTIONS[action])
    if review is not None:
        roles = blockers.setdefault(review.submitted_by_id, [])
        if "submitted" not in roles:
            roles.append("submitted")
    return blockers


def decision_refusal(*, user, review: Review) -> Refusal | None:
    """Return a refusal if ``user`` already decided on ``review`` (each reviewer decides once)."""
    decided = review.decisions.filter(reviewer=user).values_list("decision", flat=True).first()
    if not decided:
        return None
    return Refusal(
        RefusalKind.ALREADY_DECIDED,
        _("%(user)r already decided (%(decision)s) on review %(review)s of campaign %(campaign)s; "
          "each reviewer decides once")
        % {"user": user.get_username(), "decision": decided, "review": review.pk,
           "campaign": review.campaign_id},
    )


def approve_refusal(*, user, campaign: Campaign, review: Review | None = None) -> Refusal | None:
    """Return why ``user`` may not approve ``campaign`` now, or None if they may.

    ``review`` is the campaign's open review when the caller has it already (it is read
    otherwise).
    """
    if user is None or not user.is_authenticated or not user.has_perm(APPROVE_PERM):
        return Refusal(
            RefusalKind.NOT_A_REVIEWER, permission_text(user, APPROVE_PERM, _("approve campaigns"))
        )
    if campaign.status != CampaignStatus.IN_REVIEW:
        return Refusal(
            RefusalKind.WRONG_STATE,
            _("%(campaign)s is %(status)s; only a campaign in review can be approved")
            % {"campaign": describe(campaign), "status": campaign.status},
        )
    review = review or review_open(campaign=campaign)
    if review is None:
        return Refusal(
            RefusalKind.NO_OPEN_REVIEW,
            _("%(campaign)s is in review but has no open review") % {"campaign": describe(campaign)},
        )
    roles = approval_blockers(campaign=campaign, review=review).get(user.pk)
    if roles:
        return Refusal(
            RefusalKind.OWN_CAMPAIGN,
            _("four-eyes rule: %(user)r %(roles)s %(campaign)s and may not approve it; "
              "another reviewer must")
            % {"user": user.get_username(), "campaign": describe(campaign),
               "roles": _(" and ").join(str(ROLE_LABELS.get(role, role)) for role in roles)},
        )
    return decision_refusal(user=user, review=review)


def user_may_approve(*, user, campaign: Campaign, review: Review | None = None) -> bool:
    """Return True if ``user`` may approve ``campaign`` now."""
    return approve_refusal(user=user, campaign=campaign, review=review) is None


def review_has_successful_preview(*, review: Review) -> bool:
    """Return True if a preview of the reviewed content was sent without failures."""
    return Dispatch.objects.filter(
        campaign_id=review.campaign_id,
        is_preview=True,
        content_hash=review.content_hash,
        status=DispatchStatus.SENT,
    ).exists()


def preview_refusal(*, review: Review) -> Refusal | None:
    """Return a refusal when a successful preview of the reviewed content is required
    (``CRIER_REQUIRE_PREVIEW``) and there is none."""
    if not settings.CRIER_REQUIRE_PREVIEW or review_has_successful_preview(review=review):
        return None
    return Refusal(
        RefusalKind.PREVIEW_REQUIRED,
        _("campaign %(id)s %(name)r needs a successful preview of the reviewed content before "
          "approval (CRIER_REQUIRE_PREVIEW is on); send one")
        % {"id": review.campaign_id, "name": review.campaign.name},
    )


def campaigns_awaiting_review(*, user) -> list[Campaign]:
    """Return the campaigns in review that ``user`` may approve, oldest submission first.

    Two queries whatever the number of campaigns (the dashboard and the campaign list
    call this on every page view): the four-eyes rule of :func:`approval_blockers` and
    the already-decided rule of :func:`decision_refusal` are expressed as subqueries.
    :func:`approve_refusal` stays the authority when a reviewer actually approves.
    """
    if user is None or not user.is_authenticated or not user.has_perm(APPROVE_PERM):
        return []
    open_review = Review.objects.filter(campaign=OuterRef("pk"), status=ReviewStatus.PENDING)
    last_approval = (
        AuditEvent.objects.filter(campaign=OuterRef("pk"), object_type="campaign", action="approve")
        .order_by("-id")
        .values("id")[:1]
    )
    authored_by_user = AuditEvent.objects.filter(
        campaign=OuterRef("pk"),
        object_type="campaign",
        action__in=list(AUTHORING_ACTIONS),
        actor=user,
        id__gt=OuterRef("last_approval_id"),
    )
    candidates = (
        Campaign.objects.filter(status=CampaignStatus.IN_REVIEW)
        .exclude(created_by=user)
        .annotate(last_approval_id=Coalesce(Subquery(last_approval), Value(0)))
        .filter(Exists(open_review))
        .exclude(Exists(open_review.filter(submitted_by=user)))
        .exclude(Exists(open_review.filter(decisions__reviewer=user)))
        .exclude(Exists(authored_by_user))
        .select_related("provider_account", "audience", "created_by")
        .prefetch_related(
            Prefetch(
                "reviews",
                queryset=Review.objects.filter(status=ReviewStatus.PENDING).select_related("submitted_by"),
                to_attr="pending_reviews",
            )
        )
        .order_by("updated_at")
    )
    awaiting = []
    for campaign in candidates:
        campaign.open_review = campaign.pending_reviews[0]
        awaiting.append(campaign)
    return awaiting


# --- approval rules: how many approvals, and from whom ------------------------------------

BASELINE_SETTING = "CRIER_APPROVALS_REQUIRED"


@dataclass(frozen=True)
class AppliedRule:
    """An enabled approval rule that matched a campaign, as a review records it."""

    id: int
    name: str
    approvals_required: int
    group_id: int | None = None
    group: str = ""


@dataclass(frozen=True)
class GroupNeed:
    """A group that must be among the approvers, and the rules that name it."""

    id: int
    name: str
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Requirement:
    """What approving a campaign takes: ``approvals_required`` distinct approvers, among
    them a member of each of ``groups``.

    ``source`` says where the count came from: the name of the strictest matching rule
    (``source_kind`` "rule"), or :data:`BASELINE_SETTING` (``source_kind`` "setting") when
    no matching rule asks for more than that setting. ``rules`` are all the matching rules;
    ``reach`` the reach they were evaluated at.
    """

    approvals_required: int
    source: str = BASELINE_SETTING
    source_kind: str = "setting"
    groups: tuple[GroupNeed, ...] = ()
    rules: tuple[AppliedRule, ...] = ()
    reach: int | None = None

    def as_data(self) -> dict:
        """Return the requirement as JSON data (``Review.requirement``, the API)."""
        return {
            "approvals_required": self.approvals_required,
            "source": {"kind": self.source_kind, "name": self.source} if self.source else None,
            "groups": [{**asdict(g), "rules": list(g.rules)} for g in self.groups],
            "rules": [asdict(r) for r in self.rules],
            "reach": self.reach,
        }

    @classmethod
    def from_review(cls, review: Review) -> Requirement:
        """Return the requirement ``review`` recorded at submission (a review from before
        rules were data recorded only its count)."""
        data = review.requirement or {}
        if not data:
            return cls(approvals_required=review.approvals_required, source="", reach=review.reach)
        source = data.get("source") or {}
        return cls(
            approvals_required=review.approvals_required,
            source=source.get("name", ""),
            source_kind=source.get("kind", ""),
            groups=tuple(GroupNeed(**{**g, "rules": tuple(g["rules"])}) for g in data.get("groups", [])),
            rules=tuple(AppliedRule(**r) for r in data.get("rules", [])),
            reach=data.get("reach", review.reach),
        )


def _rules_for_conditions(campaign: Campaign) -> list[ApprovalRule]:
    """Return the enabled rules whose audience, provider and schedule conditions hold for
    ``campaign`` (the reach condition is left to the caller), with their groups."""
    conditions = Q(enabled=True)
    for name, value in (
        ("audience_kind", campaign.audience.kind),
        ("provider_kind", campaign.provider_account.kind),
        ("schedule_kind", campaign.schedule_kind),
    ):
        conditions &= Q(**{name: ""}) | Q(**{name: value})
    rules = ApprovalRule.objects.filter(conditions).select_related("required_group")
    return list(rules.order_by("name", "id"))


def _reach_matches(rule: ApprovalRule, reach: int | None) -> bool:
    # A reach only the provider knows (None) may be any size: it meets every threshold.
    return rule.min_reach is None or reach is None or reach >= rule.min_reach


def _strictness(rule: ApprovalRule) -> tuple[int, bool]:
    return (rule.approvals_required, rule.required_group_id is not None)


def requirement_for(campaign: Campaign, *, reach: int | None) -> Requirement:
    """Return what approving ``campaign`` takes when it can reach ``reach`` recipients.

    The baseline is ``CRIER_APPROVALS_REQUIRED`` distinct approvals (at least 1). Of the
    enabled rules whose every set condition holds (``reach ≥ min_reach``, audience kind,
    provider kind, schedule kind; a ``reach`` of None, known only to the provider, meets
    every reach threshold), the strictest applies: the count is the largest of the baseline
    and the rules' counts (at equal counts a rule naming a group is the stricter one, and
    is named as the source). Groups are not compared but added up: when several matching
    rules name groups, a member of **each** named group must be among the approvers (one
    person in two such groups counts for both), since dropping any of them would approve
    what that rule's owner wanted to see.
    """
    matching = [rule for rule in _rules_for_conditions(campaign) if _reach_matches(rule, reach)]
    baseline = max(1, int(settings.CRIER_APPROVALS_REQUIRED))
    count, source, source_kind = baseline, BASELINE_SETTING, "setting"
    strictest = max(matching, key=_strictness, default=None)
    if strictest is not None and strictest.approvals_required >= baseline:
        count, source, source_kind = strictest.approvals_required, strictest.name, "rule"
    groups: dict[int, GroupNeed] = {}
    for rule in matching:
        if rule.required_group_id is None:
            continue
        known = groups.get(rule.required_group_id)
        names = (*known.rules, rule.name) if known else (rule.name,)
        groups[rule.required_group_id] = GroupNeed(
            id=rule.required_group_id, name=rule.required_group.name, rules=names
        )
    return Requirement(
        approvals_required=count,
        source=source,
        source_kind=source_kind,
        groups=tuple(groups.values()),
        rules=tuple(
            AppliedRule(
                id=rule.pk,
                name=rule.name,
                approvals_required=rule.approvals_required,
                group_id=rule.required_group_id,
                group=rule.required_group.name if rule.required_group_id else "",
            )
            for rule in matching
        ),
        reach=reach,
    )


def _group_ids_of(user_ids: Iterable[int]) -> dict[int, set[int]]:
    """Return each user's group ids, in one query."""
    memberships = get_user_model().groups.through.objects.filter(user_id__in=list(user_ids))
    found: dict[int, set[int]] = {}
    for user_id, group_id in memberships.values_list("user_id", "group_id"):
        found.setdefault(user_id, set()).add(group_id)
    return found


@dataclass(frozen=True)
class Progress:
    """How far a review's approvals are from its :class:`Requirement`."""

    requirement: Requirement
    approvers: tuple[str, ...] = ()
    missing_approvals: int = 0
    missing_groups: tuple[GroupNeed, ...] = field(default=())

    @property
    def met(self) -> bool:
        return not self.missing_approvals and not self.missing_groups

    def missing_text(self) -> str:
        """Say what is still missing ("needs 1 more approval from a member of Compliance");
        empty when the requirement is met."""
        if self.met:
            return ""
        if not self.missing_groups:
            n = self.missing_approvals
            return ngettext("needs %(n)d more approval", "needs %(n)d more approvals", n) % {"n": n}
        n = max(self.missing_approvals, 1)
        if len(self.missing_groups) == 1:
            return ngettext(
                "needs %(n)d more approval from a member of %(group)s",
                "needs %(n)d more approvals, one of them from a member of %(group)s",
                n,
            ) % {"n": n, "group": self.missing_groups[0].name}
        return ngettext(
            "needs %(n)d more approval from a member of each of %(groups)s",
            "needs %(n)d more approvals, among them a member of each of %(groups)s",
            n,
        ) % {"n": n, "groups": ", ".join(g.name for g in self.missing_groups)}

    def as_data(self) -> dict:
        return {
            "met": self.met,
            "approvals_given": len(self.approvers),
            "missing_approvals": self.missing_approvals,
            "missing_groups": [g.name for g in self.missing_groups],
            "missing": self.missing_text(),
        }


def _progress(requirement: Requirement, approvers: list) -> Progress:
    groups_of = _group_ids_of(user.pk for user in approvers)
    represented = set().union(*groups_of.values()) if groups_of else set()
    return Progress(
        requirement=requirement,
        approvers=tuple(user.get_username() for user in approvers),
        missing_approvals=max(0, requirement.approvals_required - len(approvers)),
        missing_groups=tuple(g for g in requirement.groups if g.id not in represented),
    )


def requirement_progress(*, review: Review) -> Progress:
    """Return how far ``review``'s approvals are from the requirement it recorded at
    submission: approval completes only when enough distinct reviewers approved AND each
    required group is represented among them (two queries)."""
    approvers = [
        decision.reviewer
        for decision in review.decisions.filter(decision=DecisionKind.APPROVE)
        .select_related("reviewer")
        .order_by("created_at", "id")
    ]
    return _progress(Requirement.from_review(review), approvers)


def reach_ceiling(campaign: Campaign, *, approvers: Iterable) -> int | None:
    """Return the most recipients an occurrence of ``campaign`` may reach before a rule that
    ``approvers`` (users) did not satisfy would apply: the smallest ``min_reach − 1`` among
    the enabled rules with a reach threshold whose other conditions (audience, provider,
    schedule kind) hold and whose requirement those approvers do not meet (fewer distinct
    approvers than it asks, or none of them in its group). None when there is no such rule.
    """
    approvers = list({user.pk: user for user in approvers}.values())
    groups_of = _group_ids_of(user.pk for user in approvers)
    represented = set().union(*groups_of.values()) if groups_of else set()
    ceilings = [
        rule.min_reach - 1
        for rule in _rules_for_conditions(campaign)
        if rule.min_reach is not None
        and (
            len(approvers) < rule.approvals_required
            or (rule.required_group_id is not None and rule.required_group_id not in represented)
        )
    ]
    return min(ceilings, default=None)
