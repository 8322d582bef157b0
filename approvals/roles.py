"""The groups Marketing, Reviewers and Operators and the permissions each role needs.

Created by migration ``approvals.0002_roles`` and kept in place after every ``migrate``
(and every test-database flush) by a ``post_migrate`` handler, so a database always has
the roles the four-eyes rule relies on. Every role reads the approval rules; changing them
is for superusers and holders of ``approvals.manage_approval_rules`` (given to no role:
administrators grant it). A flush also empties the approval rules, so after a flush (not
after a migrate, where the rules are the administrators' data) the rule migration
``approvals.0007`` seeded is put back when there is no rule at all.
"""

from __future__ import annotations

VIEW_ALL = [
    ("templates_registry", "view_messagetemplate"),
    ("templates_registry", "view_templatevariant"),
    ("templates_registry", "view_templateversion"),
    ("campaigns", "view_recipient"),
    ("campaigns", "view_audience"),
    ("campaigns", "view_audiencemember"),
    ("campaigns", "view_campaign"),
    ("campaigns", "view_dispatch"),
    ("campaigns", "view_delivery"),
    ("campaigns", "view_deliveryattempt"),
    ("approvals", "view_review"),
    ("approvals", "view_reviewdecision"),
    ("approvals", "view_approvalrule"),
    ("audit", "view_auditevent"),
    ("providers", "view_provideraccount"),
]

ROLES = {
    "Marketing": VIEW_ALL
    + [
        ("templates_registry", "add_messagetemplate"),
        ("templates_registry", "change_messagetemplate"),
        ("templates_registry", "add_templatevariant"),
        ("templates_registry", "change_templatevariant"),
        ("templates_registry", "delete_templatevariant"),
        ("campaigns", "add_recipient"),
        ("campaigns", "change_recipient"),
        ("campaigns", "add_audience"),
        ("campaigns", "change_audience"),
        ("campaigns", "add_audiencemember"),
        ("campaigns", "change_audiencemember"),
        ("campaigns", "delete_audiencemember"),
        ("campaigns", "add_campaign"),
        ("campaigns", "change_campaign"),
        ("campaigns", "submit_campaign"),
        ("campaigns", "cancel_campaign"),
    ],
    "Reviewers": VIEW_ALL
    + [
        ("campaigns", "approve_campaign"),
        ("campaigns", "cancel_campaign"),
    ],
    "Operators": VIEW_ALL
    + [
        ("providers", "add_provideraccount"),
        ("providers", "change_provideraccount"),
        ("providers", "manage_provider_accounts"),
        ("campaigns", "operate_dispatches"),
        ("campaigns", "cancel_campaign"),
        # Admin login lockouts (django-axes, config/settings.py): see them, lift one by
        # deleting its access attempt.
        ("axes", "view_accessattempt"),
        ("axes", "delete_accessattempt"),
        ("axes", "view_accesslog"),
    ],
}


def ensure_roles(**kwargs) -> None:
    """Create the role groups if missing and give each its permissions (idempotent)."""
    from django.contrib.auth.models import Group, Permission

    wanted = {(app, code) for perms in ROLES.values() for app, code in perms}
    available = {
        (p.content_type.app_label, p.codename): p
        for p in Permission.objects.select_related("content_type").filter(
            codename__in={code for _app, code in wanted}
        )
    }
    for name, perms in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        present = [available[key] for key in perms if key in available]
        group.permissions.add(*present)
    if "plan" not in kwargs:  # a flush sends post_migrate without a migration plan
        ensure_seeded_rule()


def ensure_seeded_rule() -> None:
    """Create the rule of migration ``approvals.0007`` ("Broadcast to everyone": audience
    kind ``all`` needs ``CRIER_APPROVALS_REQUIRED_BROADCAST`` approvals) if there is no
    approval rule at all."""
    from django.conf import settings

    from approvals.models import ApprovalRule
    from campaigns.models import AudienceKind

    if ApprovalRule.objects.exists():
        return
    ApprovalRule.objects.create(
        name="Broadcast to everyone",
        audience_kind=AudienceKind.ALL,
        approvals_required=max(1, settings.CRIER_APPROVALS_REQUIRED_BROADCAST),
    )
