"""The `make run` banner lists every demo login, each with a password that signs it in."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from campaigns.management.commands.run_stack import DEMO_LOGINS

pytestmark = pytest.mark.django_db


def test_every_demo_user_is_in_the_banner_with_a_password_that_works():
    call_command("seed_demo", stdout=io.StringIO())
    listed = dict(re.findall(r"^\s+(\S+) / (\S+)\s+\(", DEMO_LOGINS, flags=re.MULTILINE))
    users = set(get_user_model().objects.values_list("username", flat=True))
    assert users, "seed_demo created no users"
    assert users <= set(listed), f"demo users missing from the banner: {sorted(users - set(listed))}"
    for username, password in listed.items():
        assert get_user_model().objects.get(username=username).check_password(password), username
    groups = {
        user.username: {g.name for g in user.groups.all()}
        for user in get_user_model().objects.prefetch_related("groups")
    }
    for line in DEMO_LOGINS.splitlines()[1:]:
        username, shown = re.match(r"\s+(\S+) / \S+\s+\((.*)\)", line).groups()
        expected = groups[username] or {"superuser"}
        assert set(shown.split(" + ")) == expected, (username, shown, groups[username])
