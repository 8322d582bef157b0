"""The role groups survive a flush of the database (as between transactional tests)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from approvals.roles import ROLES


@pytest.mark.django_db(transaction=True)
def test_roles_and_their_permissions_are_recreated_after_a_flush():
    call_command("flush", interactive=False, verbosity=0)

    for name, perms in ROLES.items():
        group = Group.objects.get(name=name)
        assert group.permissions.count() == len(perms), name
    reviewers = Group.objects.get(name="Reviewers")
    assert reviewers.permissions.filter(codename="approve_campaign").exists()
