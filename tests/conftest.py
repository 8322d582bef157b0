"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.utils import translation


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language, as a fresh process does. A request through
    the test client activates its language (LocaleMiddleware, a user's saved preference at
    login) in this thread and nothing deactivates it afterwards, so a service called directly
    by a later test of the same process answered in that language (a CI run saw template
    reference errors in Chinese)."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def make_user(django_user_model):
    """Return a factory of staff users in the given groups."""

    def make(username: str, *groups: str, superuser: bool = False):
        user = django_user_model.objects.create_user(
            username=username, password=f"{username}-pw", is_staff=True, is_superuser=superuser
        )
        user.groups.set(Group.objects.filter(name__in=groups))
        return user

    return make


@pytest.fixture
def marketer(make_user):
    return make_user("marketer", "Marketing")


@pytest.fixture
def reviewer(make_user):
    return make_user("reviewer", "Reviewers")


@pytest.fixture
def reviewer2(make_user):
    return make_user("reviewer2", "Reviewers")


def pytest_collection_modifyitems(items):
    """Mark every test that runs a real ``qcluster`` as ``broker`` (the tests whose outcome
    depends on the task broker, ORM or Redis), and every test that drives Chromium as
    ``browser``; ``.ci/run`` says which runs take which (README, "Tests")."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "qcluster" in fixtures:
            item.add_marker(pytest.mark.broker)
        if {"browser_context", "zh_browser_context"} & set(fixtures):
            item.add_marker(pytest.mark.browser)
    # The files of long tests first (a real qcluster, a browser, other processes, or marked
    # ``slow``): pytest-xdist hands out whole files in this order (--dist loadfile, with
    # --no-loadscope-reorder: by default it orders files by their number of tests), so the run
    # ends on short files instead of one worker finishing a 90-second kill test alone.
    markers = ("integration", "broker", "slow")
    long = {item.path for item in items if any(item.get_closest_marker(name) for name in markers)}
    items.sort(key=lambda item: item.path not in long)  # stable: the collection order otherwise


def pytest_configure(config):
    """Hash test users' passwords with MD5: PBKDF2's 1,000,000 rounds cost ~0.7 s a user on
    a loaded 2-core machine, and the suite creates thousands of users. Production settings
    are untouched; only this test process (and its live servers) use the fast hasher."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
